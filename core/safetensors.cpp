#include "core/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/input_file.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace odegan {
namespace {

using json = nlohmann::json;
constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MB, as the reference implementation

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
  }
  return "?";
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  ODEGAN_FAIL("safetensors file '", path, "': ", what);
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) ODEGAN_FAIL("writing '", path, "': ", std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    ODEGAN_CHECK(name != "__metadata__", "save_safetensors: '__metadata__' is not a valid tensor name");
    check_defined(t, "save_safetensors", name.c_str());
    host.push_back(t.to(Device::cpu()));
    std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  const uint64_t n = h.size();

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ODEGAN_CHECK(fd >= 0, "cannot write '", tmp, "': ", std::strerror(errno));
  try {
    write_all(fd, &n, 8, tmp);
    write_all(fd, h.data(), h.size(), tmp);
    for (const Tensor& t : host)
      if (t.nbytes()) write_all(fd, t.data_ptr(), t.nbytes(), tmp);
    ODEGAN_CHECK(::fsync(fd) == 0, "fsync '", tmp, "': ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    ODEGAN_FAIL("cannot rename '", tmp, "' to '", path, "': ", std::strerror(e));
  }
}

namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// Parses the JSON header, refusing duplicate keys at any level (nlohmann keeps the last
// one silently; the reference implementation refuses them).
json parse_header(const std::string& h, const std::string& path) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (ev == json::parse_event_t::key && !keys.empty()) {
      const std::string k = parsed.get<std::string>();
      if (!keys.back().insert(k).second) bad(path, "duplicate name '" + k + "' in the header");
    }
    return true;
  };
  try {
    return json::parse(h, cb);
  } catch (const json::exception& e) {
    bad(path, std::string("header is not valid JSON: ") + e.what());
  }
}

// Checks every entry against the format: known dtype, sizes that fit, offsets inside the
// data section, and the data covered exactly once (no overlaps, no holes).
std::vector<Entry> check_entries(const json& header, uint64_t data_size, const std::string& path,
                                 std::map<std::string, std::string>* metadata) {
  if (!header.is_object()) bad(path, "header is not a JSON object");
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) bad(path, "__metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string()) bad(path, "__metadata__ value for '" + m.key() + "' is not a string");
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      bad(path, where + "needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) bad(path, where + "dtype is not a string");
    const std::string dt = e["dtype"].get<std::string>();
    DType dtype;
    if (dt == "F32")
      dtype = DType::f32;
    else if (dt == "F64")
      dtype = DType::f64;
    else if (dt == "I32")
      dtype = DType::i32;
    else
      bad(path, where + "unsupported dtype '" + dt + "' (this framework reads F32, F64 and I32)");
    const json& sh = e["shape"];
    if (!sh.is_array() || sh.size() > Shape::kMaxDims) bad(path, where + "shape is not an array of at most 8 sizes");
    std::vector<int64_t> dims;
    // The byte size in unsigned arithmetic with overflow checks: a header may declare
    // [2^62] F32 (2^64 bytes, 0 after wrapping) over an empty data section.
    uint64_t need = dtype_size(dtype);
    bool overflow = false;
    for (const json& d : sh) {
      if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
        bad(path, where + "shape has a negative or non-integer size");
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(INT64_MAX)) overflow = true;
      overflow = overflow || __builtin_mul_overflow(need, v, &need);
      dims.push_back(static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX)));
    }
    const Shape shape(dims);
    if (overflow) bad(path, where + "shape " + shape.str() + " " + dt + " is too large (its byte size overflows)");
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad(path, where + "data_offsets must be two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      bad(path, where + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + ") out of range (data has " +
                    std::to_string(data_size) + " bytes)");
    if (en - b != need)
      bad(path, where + "data_offsets span " + std::to_string(en - b) + " bytes but shape " + shape.str() + " " + dt +
                    " needs " + std::to_string(need));
    entries.push_back({name, dtype, shape, b, en});
  }
  // The data must be covered exactly once, without overlaps or holes (empty tensors
  // take no bytes and sort before a tensor starting at the same offset).
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Entry& e : entries) {
    if (e.begin < at) bad(path, "tensor '" + e.name + "' overlaps the previous tensor");
    if (e.begin > at) bad(path, "hole in the data before tensor '" + e.name + "'");
    at = e.end;
  }
  if (at != data_size) bad(path, "data section has " + std::to_string(data_size - at) + " bytes that no tensor uses");
  return entries;
}

// The loader over any byte source: read_at(offset, dst, n) reads exactly n bytes.
template <class ReadAt>
TensorMap load_from(uint64_t size, const ReadAt& read_at, const std::string& path,
                    std::map<std::string, std::string>* metadata, Device device) {
  if (size < 8) bad(path, "too short (" + std::to_string(size) + " bytes) to hold a header length");
  uint64_t n = 0;
  read_at(0, &n, 8);
  if (n > kMaxHeader || n > size - 8)
    bad(path, "bad header length " + std::to_string(n) + " (file has " + std::to_string(size) + " bytes)");
  std::string h(n, '\0');
  read_at(8, h.data(), n);
  const json header = parse_header(h, path);
  std::map<std::string, std::string> meta;
  const std::vector<Entry> entries = check_entries(header, size - 8 - n, path, &meta);
  TensorMap out;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes()) read_at(8 + n + e.begin, t.data_ptr(), t.nbytes());
    out[e.name] = t.to(device);
  }
  if (metadata)
    for (auto& [k, v] : meta) (*metadata)[k] = v;
  return out;
}

}  // namespace

TensorMap load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata, Device device) {
  InputFile f(path, "safetensors");
  return load_from(
      f.size(), [&](uint64_t off, void* dst, size_t k) { f.read_at(off, dst, k); }, path, metadata, device);
}

TensorMap read_safetensors_memory(const void* data, size_t size, const std::string& name,
                                  std::map<std::string, std::string>* metadata, Device device) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  return load_from(
      size, [&](uint64_t off, void* dst, size_t k) { std::memcpy(dst, bytes + off, k); }, name, metadata, device);
}

}  // namespace odegan
