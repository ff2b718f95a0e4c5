#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/input_file.h"
#include "data/image.h"

namespace odegan::data {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxIdxBytes = uint64_t(16) << 30;  // 16 GiB of pixels: far beyond any IDX dataset

// The bytes of an IDX file (from a file or from memory), gunzipped on the fly when they
// start with the gzip magic. Corrupt gzip data (CRC errors included), a stream cut
// before its trailer and bytes after it are errors naming the file.
class IdxStream {
 public:
  IdxStream(InputFile* file, const unsigned char* mem, size_t mem_size, const std::string& name)
      : file_(file), mem_(mem), mem_size_(mem_size), name_(name) {
    in_.resize(1 << 16);
    refill();
    gzip_ = avail_ >= 2 && in_[pos_] == 0x1f && in_[pos_ + 1] == 0x8b;
    if (gzip_) {
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail("cannot initialise zlib");
      zs_ready_ = true;
    }
  }
  ~IdxStream() {
    if (zs_ready_) inflateEnd(&zs_);
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  bool gzip() const { return gzip_; }
  uint64_t raw_size() const { return file_ ? file_->size() : mem_size_; }
  [[noreturn]] void fail(const std::string& why) const { ODEGAN_FAIL("IDX file '", name_, "': ", why); }

  // Reads up to n decoded bytes; fewer only at the end of the data.
  size_t read(unsigned char* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      if (!gzip_) {
        if (avail_ == 0 && !refill()) break;
        const size_t k = std::min(n - got, avail_);
        std::memcpy(dst + got, &in_[pos_], k);
        pos_ += k, avail_ -= k, got += k;
        continue;
      }
      if (stream_end_) {
        // Another gzip member may follow (as `cat a.gz b.gz`); anything else is garbage.
        if (avail_ == 0 && !refill()) break;
        if (avail_ < 2) refill_keep();
        if (avail_ < 2 || in_[pos_] != 0x1f || in_[pos_ + 1] != 0x8b)
          fail("has bytes after the end of its gzip stream (trailing garbage)");
        if (inflateReset(&zs_) != Z_OK) fail("cannot reset zlib");
        stream_end_ = false;
      }
      if (avail_ == 0 && !refill())
        fail("is a truncated gzip stream (it ends before the gzip end marker and trailer)");
      zs_.next_in = &in_[pos_];
      zs_.avail_in = static_cast<uInt>(avail_);
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(std::min<size_t>(n - got, 1u << 30));
      const uInt before_out = zs_.avail_out;
      const int r = inflate(&zs_, Z_NO_FLUSH);
      const size_t used = avail_ - zs_.avail_in;
      pos_ += used, avail_ -= used;
      got += before_out - zs_.avail_out;
      if (r == Z_STREAM_END) {
        stream_end_ = true;
      } else if (r == Z_DATA_ERROR) {
        const std::string msg = zs_.msg ? zs_.msg : "invalid data";
        if (msg == "incorrect data check" || msg == "incorrect length check")
          fail("corrupt gzip data: the CRC/length check failed (" + msg + ")");
        fail("corrupt gzip data (" + msg + ")");
      } else if (r == Z_MEM_ERROR) {
        fail("zlib ran out of memory");
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        fail("zlib error " + std::to_string(r));
      }
    }
    return got;
  }

  // Reads exactly n bytes or fails with `what` and how many arrived.
  void read_exact(unsigned char* dst, size_t n, const std::string& what) {
    const size_t got = read(dst, n);
    if (got < n) fail(what);
  }

 private:
  // Up to n raw bytes from the file or memory; 0 at the end.
  size_t raw_read(unsigned char* dst, size_t n) {
    if (file_) return file_->read_some(dst, n);
    const size_t k = std::min(n, mem_size_ - mem_at_);
    if (k) std::memcpy(dst, mem_ + mem_at_, k);
    mem_at_ += k;
    return k;
  }
  // Next chunk of raw input into in_ (only when it is empty); false at the end.
  bool refill() {
    pos_ = 0;
    avail_ = raw_read(in_.data(), in_.size());
    return avail_ > 0;
  }
  // Keeps what is left and appends more raw input (to look at a two-byte magic).
  void refill_keep() {
    std::memmove(in_.data(), in_.data() + pos_, avail_);
    pos_ = 0;
    avail_ += raw_read(in_.data() + avail_, in_.size() - avail_);
  }

  InputFile* file_;
  const unsigned char* mem_;
  size_t mem_size_, mem_at_ = 0;
  std::string name_;
  std::vector<unsigned char> in_;
  size_t pos_ = 0, avail_ = 0;
  bool gzip_ = false, zs_ready_ = false, stream_end_ = false;
  z_stream zs_{};
};

IdxArray parse(IdxStream& in) {
  unsigned char head[4];
  in.read_exact(head, 4, "is too short for a header (4 bytes)");
  if (head[0] != 0 || head[1] != 0)
    in.fail("has a bad magic number (" + std::to_string(head[0]) + " " + std::to_string(head[1]) + " " +
            std::to_string(head[2]) + " " + std::to_string(head[3]) + "); not an IDX file");
  if (head[2] != 0x08) in.fail("holds type " + std::to_string(head[2]) + ", only unsigned bytes (0x08) are supported");
  const int nd = head[3];
  if (nd < 1 || nd > 4) in.fail("has " + std::to_string(nd) + " dimensions (1 to 4 supported)");
  IdxArray a;
  uint64_t total = 1;
  std::string dims;
  for (int d = 0; d < nd; ++d) {
    unsigned char b[4];
    in.read_exact(b, 4, "is truncated in its dimensions");
    const uint32_t v = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
    if (v == 0 || v > uint32_t(INT32_MAX)) in.fail("has dimension " + std::to_string(d) + " = " + std::to_string(v));
    a.dims.push_back(static_cast<int>(v));
    dims += (d ? " x " : "") + std::to_string(v);
    if (__builtin_mul_overflow(total, uint64_t(v), &total) || total > kMaxIdxBytes)
      in.fail("declares dimensions " + dims + (d + 1 < nd ? " x ..." : "") + ": more than the " +
              std::to_string(kMaxIdxBytes >> 30) + " GiB this reader accepts");
  }
  const uint64_t header = 4 + 4 * uint64_t(nd);
  if (!in.gzip()) {
    // A raw file must hold exactly the declared bytes: check before allocating them.
    const uint64_t have = in.raw_size() - header;
    if (have < total)
      in.fail("is truncated: dimensions " + dims + " declare " + std::to_string(total) + " data bytes, the file has " +
              std::to_string(have));
    if (have > total)
      in.fail("has " + std::to_string(have - total) + " trailing bytes after the " + std::to_string(total) +
              " data bytes its dimensions " + dims + " declare");
  }
  // Grow while reading, so a gzip stream that lies about its size costs only what it holds.
  constexpr uint64_t kChunk = 1 << 22;
  uint64_t got = 0;
  while (got < total) {
    const uint64_t k = std::min(kChunk, total - got);
    a.data.resize(static_cast<size_t>(got + k));
    const size_t r = in.read(a.data.data() + got, static_cast<size_t>(k));
    got += r;
    if (r < k)
      in.fail("is truncated: dimensions " + dims + " declare " + std::to_string(total) + " data bytes, the " +
              (in.gzip() ? "gzip stream holds " : "file holds ") + std::to_string(got));
  }
  unsigned char extra;
  if (in.read(&extra, 1) != 0)
    in.fail("has trailing bytes after the " + std::to_string(total) + " data bytes its dimensions " + dims + " declare");
  return a;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  InputFile f(path, "IDX");
  IdxStream in(&f, nullptr, 0, path);
  return parse(in);
}

IdxArray parse_idx(const unsigned char* data, size_t size, const std::string& name) {
  IdxStream in(nullptr, data, size, name);
  return parse(in);
}

IdxDataset::IdxDataset(const std::string& images, const std::string& labels, int64_t side) : file_(images), side_(side) {
  ODEGAN_CHECK(side > 0, "IDX: output side must be positive");
  IdxArray lb;
  if (!labels.empty()) lb = read_idx(labels);
  init(read_idx(images), images, labels.empty() ? nullptr : &lb, labels);
}

IdxDataset::IdxDataset(IdxArray images, const std::string& images_name, const IdxArray* labels,
                       const std::string& labels_name, int64_t side)
    : file_(images_name), side_(side) {
  ODEGAN_CHECK(side > 0, "IDX: output side must be positive");
  init(std::move(images), images_name, labels, labels_name);
}

void IdxDataset::init(IdxArray im, const std::string& images, const IdxArray* lb, const std::string& labels) {
  ODEGAN_CHECK(im.dims.size() == 3, "IDX file '", images, "' is not an image file (", im.dims.size(),
               " dimensions, expected 3: N x rows x cols)");
  n_ = im.dims[0];
  rows_ = im.dims[1];
  cols_ = im.dims[2];
  pixels_ = std::move(im.data);
  if (lb) {
    ODEGAN_CHECK(lb->dims.size() == 1, "IDX labels file '", labels, "' has ", lb->dims.size(),
                 " dimensions, expected 1 (one label per image)");
    ODEGAN_CHECK(lb->dims[0] == n_, "IDX labels file '", labels, "' holds ", lb->dims[0], " labels for the ", n_,
                 " images of '", images, "'");
    for (size_t i = 0; i < lb->data.size(); ++i)
      ODEGAN_CHECK(lb->data[i] < num_classes(), "IDX labels file '", labels, "': label ", int(lb->data[i]),
                   " of image ", i, " is not below the ", num_classes(), " classes");
    labels_.assign(lb->data.begin(), lb->data.end());
  } else {
    labels_.assign(static_cast<size_t>(n_), 0);
  }
}

std::unique_ptr<IdxDataset> IdxDataset::from_directory(const std::string& dir, const std::string& split,
                                                       int64_t side) {
  if (fs::is_regular_file(dir)) return std::make_unique<IdxDataset>(dir, "", side);
  ODEGAN_CHECK(fs::is_directory(dir), "IDX: '", dir, "' is neither a directory nor a file");
  const std::string prefix = split == "test" ? "t10k" : "train";
  ODEGAN_CHECK(split == "train" || split == "test", "IDX: unknown split '", split, "' (train or test)");
  auto find = [&](const std::string& stem) -> std::string {
    for (const char* ext : {"", ".gz"}) {
      std::string p = dir + "/" + prefix + "-" + stem + ext;
      if (fs::exists(p)) return p;
    }
    return "";
  };
  std::string images = find("images-idx3-ubyte"), labels = find("labels-idx1-ubyte");
  ODEGAN_CHECK(!images.empty(), "IDX: no ", prefix, "-images-idx3-ubyte[.gz] in '", dir, "'");
  return std::make_unique<IdxDataset>(images, labels, side);
}

bool IdxDataset::get(int64_t i, float* out, int32_t* label, Generator*) const {
  const unsigned char* p = &pixels_[static_cast<size_t>(i * rows_ * cols_)];
  *label = labels_[static_cast<size_t>(i)];
  if (rows_ <= side_ && cols_ <= side_ && (side_ - rows_) % 2 == 0 && (side_ - cols_) % 2 == 0) {
    // Centre the image on a background of -1 (zero pixels), e.g. 28 -> 32.
    const int64_t oy = (side_ - rows_) / 2, ox = (side_ - cols_) / 2;
    std::fill(out, out + side_ * side_, -1.f);
    for (int64_t y = 0; y < rows_; ++y)
      for (int64_t x = 0; x < cols_; ++x) out[(y + oy) * side_ + x + ox] = p[y * cols_ + x] / 127.5f - 1.f;
    return true;
  }
  Image img;
  img.height = static_cast<int>(rows_);
  img.width = static_cast<int>(cols_);
  img.channels = 1;
  img.px.assign(p, p + rows_ * cols_);
  image_to_chw(resize(img, static_cast<int>(side_), static_cast<int>(side_)), out);
  return true;
}

std::string IdxDataset::where(int64_t i) const { return file_ + " image " + std::to_string(i); }

}  // namespace odegan::data
