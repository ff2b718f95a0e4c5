#include "apps/common/image_sources.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "data/image.h"
#include "data/image_folder.h"

namespace odegan::app {

namespace fs = std::filesystem;

NamedSource dataset_source(std::shared_ptr<data::Dataset> dataset, int64_t n, uint64_t seed,
                           const std::string& description) {
  const int64_t size = dataset->size();
  ODEGAN_CHECK(size > 0, description, ": no images");
  auto order = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(size));
  std::iota(order->begin(), order->end(), 0);
  if (n > 0 && n < size) {
    std::mt19937_64 rng(seed);
    std::shuffle(order->begin(), order->end(), rng);
    order->resize(static_cast<size_t>(n));
  }
  NamedSource s;
  s.available = static_cast<int64_t>(order->size());
  s.description = description;
  s.source = [dataset, order](int64_t first, int64_t count) {
    const Shape shape = dataset->sample_shape();
    const int64_t per = shape.numel();
    std::vector<float> px(static_cast<size_t>(count * per));
    for (int64_t i = 0; i < count; ++i) {
      const int64_t index = (*order)[static_cast<size_t>(first + i)];
      int32_t label = 0;
      ODEGAN_CHECK(dataset->get(index, &px[static_cast<size_t>(i * per)], &label, nullptr), "cannot read image ",
                   dataset->where(index));
    }
    return Tensor::from_vector(px, {count, shape[0], shape[1], shape[2]});
  };
  return s;
}

NamedSource folder_source(const std::string& dir, int channels) {
  ODEGAN_CHECK(fs::is_directory(dir), "--images ", dir, " is not a directory");
  auto files = std::make_shared<std::vector<std::string>>();
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && data::is_image_file(e.path().filename().string())) files->push_back(e.path().string());
  std::sort(files->begin(), files->end());
  ODEGAN_CHECK(!files->empty(), "--images ", dir, " holds no image files (jpeg, jpg, png, bmp)");
  const data::Image first = data::decode_image(files->front(), channels);
  NamedSource s;
  s.available = static_cast<int64_t>(files->size());
  s.description = "images " + dir;
  const int h = first.height, w = first.width;
  s.source = [files, channels, h, w](int64_t begin, int64_t count) {
    const int64_t per = int64_t(channels) * h * w;
    std::vector<float> px(static_cast<size_t>(count * per));
    for (int64_t i = 0; i < count; ++i) {
      const std::string& f = (*files)[static_cast<size_t>(begin + i)];
      const data::Image img = data::decode_image(f, channels);
      ODEGAN_CHECK(img.height == h && img.width == w, f, " is ", img.width, "x", img.height, ", but ",
                   (*files)[0], " is ", w, "x", h, ": the images of a folder must share one size");
      data::image_to_chw(img, &px[static_cast<size_t>(i * per)]);
    }
    return Tensor::from_vector(px, {count, int64_t(channels), int64_t(h), int64_t(w)});
  };
  return s;
}

NamedSource generator_source(std::shared_ptr<const RunGenerator> generator, uint64_t seed) {
  auto noise = std::make_shared<Generator>(seed);
  NamedSource s;
  s.description = "generator " + generator->checkpoint;
  s.source = [generator, noise](int64_t first, int64_t count) { return generator->sample(count, first, *noise); };
  return s;
}

}  // namespace odegan::app
