#include "tests/fuzz/fuzz_targets.h"

#include <zlib.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/error.h"
#include "core/safetensors.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image.h"

namespace odegan::fuzz {

namespace {

using json = nlohmann::json;


Outcome run_safetensors(const uint8_t* d, size_t n) {
  return guarded([&] {
    std::map<std::string, std::string> meta;
    TensorMap t = read_safetensors_memory(d, n, kInputName, &meta);
    for (auto& [name, x] : t) (void)x.numel();
  });
}

// A parsed IDX file used as the app does: images (N x rows x cols) become a dataset whose
// first and last samples are read (padding or resizing to 16 x 16).
void use_idx(data::IdxArray a) {
  if (a.dims.size() != 3) return;
  data::IdxDataset ds(std::move(a), kInputName, nullptr, "", 16);
  std::vector<float> x(16 * 16);
  int32_t label;
  ds.get(0, x.data(), &label, nullptr);
  ds.get(ds.size() - 1, x.data(), &label, nullptr);
}

Outcome run_idx(const uint8_t* d, size_t n) {
  return guarded([&] { use_idx(data::parse_idx(d, n, kInputName)); });
}

// The input is the uncompressed IDX file; it is gzipped first, so the fuzzer explores the
// IDX parser behind the streaming gzip reader (run_idx sees gzip corruption directly).
Outcome run_idx_gzip(const uint8_t* d, size_t n) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("zlib");
  std::vector<unsigned char> gz(deflateBound(&zs, static_cast<uLong>(n)) + 32);
  zs.next_in = const_cast<Bytef*>(d);
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = gz.data();
  zs.avail_out = static_cast<uInt>(gz.size());
  const int r = deflate(&zs, Z_FINISH);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  if (r != Z_STREAM_END) throw std::runtime_error("zlib deflate failed");
  return guarded([&] { use_idx(data::parse_idx(gz.data(), gz.size(), kInputName)); });
}

Outcome run_cifar10(const uint8_t* d, size_t n) {
  return guarded([&] {
    data::Cifar10Dataset ds = data::Cifar10Dataset::from_memory(d, n, kInputName);
    std::vector<float> x(3072);
    int32_t label;
    ds.get(0, x.data(), &label, nullptr);
    ds.get(ds.size() - 1, x.data(), &label, nullptr);
    if (label < 0 || label > 9) throw std::logic_error("CIFAR-10 label out of range");
  });
}

// Decoded as the image folder does (crop, resize, CHW); the header probe must agree with
// the decoder on every image the decoder accepts. Images above 2^20 pixels are only
// probed, which keeps the fuzzer fast (the pixel cap is tested in tests/data).
Outcome run_image(const uint8_t* d, size_t n) {
  const int channels = n % 2 ? 1 : 3;
  return guarded([&] {
    data::ImageInfo info;
    try {
      info = data::probe_image_memory(d, n, kInputName);
    } catch (const Error&) {
      // The decoder must refuse what the probe refuses (it throws the Error here).
      data::decode_image_memory(d, n, channels, kInputName);
      throw std::logic_error("the header probe refused an image the decoder accepts");
    }
    if (int64_t(info.width) * info.height > (1 << 20)) return;
    data::Image img = data::decode_image_memory(d, n, channels, kInputName);
    if (info.width != img.width || info.height != img.height)
      throw std::logic_error("the header probe and the decoder disagree on the image size");
    img = data::resize(data::center_crop_square(img), 8, 8);
    std::vector<float> x(static_cast<size_t>(8 * 8 * channels));
    data::image_to_chw(img, x.data());
  });
}

}  // namespace

const std::vector<Target>& parser_targets() {
  static const std::vector<Target> all = {
      {"safetensors", run_safetensors}, {"idx", run_idx},     {"idx_gzip", run_idx_gzip},
      {"cifar10", run_cifar10},         {"image", run_image},
  };
  return all;
}

const Target& find_target(const std::vector<Target>& targets, const std::string& name) {
  for (const Target& t : targets)
    if (name == t.name) return t;
  throw std::invalid_argument("no fuzz target '" + name + "'");
}

}  // namespace odegan::fuzz
