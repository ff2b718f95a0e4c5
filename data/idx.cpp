#include "data/idx.h"

#include <zlib.h>

#include <filesystem>

#include "data/image.h"

namespace odegan::data {

namespace fs = std::filesystem;

IdxArray read_idx(const std::string& path) {
  // gzread reads gzip and plain files alike.
  gzFile f = gzopen(path.c_str(), "rb");
  ODEGAN_CHECK(f != nullptr, "IDX: cannot open '", path, "'");
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};
  unsigned char head[4];
  ODEGAN_CHECK(gzread(f, head, 4) == 4, "IDX: '", path, "' is too short for a header");
  ODEGAN_CHECK(head[0] == 0 && head[1] == 0, "IDX: '", path, "' has a bad magic number (",
               int(head[0]), " ", int(head[1]), " ", int(head[2]), " ", int(head[3]), "); not an IDX file");
  ODEGAN_CHECK(head[2] == 0x08, "IDX: '", path, "' holds type 0x", std::hex, int(head[2]),
               ", only unsigned bytes (0x08) are supported");
  const int nd = head[3];
  ODEGAN_CHECK(nd >= 1 && nd <= 4, "IDX: '", path, "' has ", nd, " dimensions");
  IdxArray a;
  size_t total = 1;
  for (int d = 0; d < nd; ++d) {
    unsigned char b[4];
    ODEGAN_CHECK(gzread(f, b, 4) == 4, "IDX: '", path, "' is truncated in its dimensions");
    const int v = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    ODEGAN_CHECK(v > 0, "IDX: '", path, "' has dimension ", d, " = ", v);
    a.dims.push_back(v);
    total *= static_cast<size_t>(v);
  }
  a.data.resize(total);
  size_t got = 0;
  while (got < total) {
    const int chunk = static_cast<int>(std::min<size_t>(total - got, 1 << 30));
    const int r = gzread(f, a.data.data() + got, static_cast<unsigned>(chunk));
    ODEGAN_CHECK(r > 0, "IDX: '", path, "' is truncated: ", got, " of ", total, " data bytes");
    got += static_cast<size_t>(r);
  }
  return a;
}

IdxDataset::IdxDataset(const std::string& images, const std::string& labels, int64_t side)
    : file_(images), side_(side) {
  ODEGAN_CHECK(side > 0, "IDX: output side must be positive");
  IdxArray im = read_idx(images);
  ODEGAN_CHECK(im.dims.size() == 3, "IDX: '", images, "' is not an image file (", im.dims.size(),
               " dimensions, expected 3: N x rows x cols)");
  n_ = im.dims[0];
  rows_ = im.dims[1];
  cols_ = im.dims[2];
  pixels_ = std::move(im.data);
  if (!labels.empty()) {
    IdxArray lb = read_idx(labels);
    ODEGAN_CHECK(lb.dims.size() == 1 && lb.dims[0] == n_, "IDX: labels '", labels, "' hold ", lb.dims[0],
                 " labels for ", n_, " images");
    labels_.assign(lb.data.begin(), lb.data.end());
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
