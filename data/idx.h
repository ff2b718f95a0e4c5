// IDX files (MNIST, Fashion-MNIST, ...), raw or gzip-compressed: images
// (magic 0x00000803, dims N x rows x cols, unsigned bytes) and labels (magic 0x00000801).
// Images become 1-channel side x side samples in [-1, 1]: 28 x 28 is zero-padded (to -1)
// to 32 x 32 as in the reference code, other sizes are resized.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace odegan::data {

struct IdxArray {
  std::vector<int> dims;
  std::vector<unsigned char> data;
};
// Reads an unsigned-byte IDX file (gzip or raw); errors name the file. The declared size
// is checked before it is allocated (raw: against the file's size; gzip: while streaming,
// failing at the first shortfall); products that overflow, trailing bytes, a gzip stream
// without its trailer and gzip CRC errors are refused.
IdxArray read_idx(const std::string& path);
// The same from bytes in memory; `name` stands for the file in messages.
IdxArray parse_idx(const unsigned char* data, size_t size, const std::string& name);

class IdxDataset : public Dataset {
 public:
  // images_file and labels_file (may be empty: labels 0). Labels must be below 10.
  IdxDataset(const std::string& images_file, const std::string& labels_file, int64_t side = 32);
  // From arrays already read (labels may be null); the names stand for the files in messages.
  IdxDataset(IdxArray images, const std::string& images_name, const IdxArray* labels, const std::string& labels_name,
             int64_t side = 32);
  // A directory holding train-images-idx3-ubyte[.gz] etc. (split: train or test).
  static std::unique_ptr<IdxDataset> from_directory(const std::string& dir, const std::string& split, int64_t side);
  int64_t size() const override { return n_; }
  Shape sample_shape() const override { return {1, side_, side_}; }
  int64_t num_classes() const override { return 10; }
  bool get(int64_t i, float* out, int32_t* label, Generator* aug) const override;
  std::string where(int64_t i) const override;
  std::string name() const override { return "idx"; }

 private:
  void init(IdxArray images, const std::string& images_name, const IdxArray* labels, const std::string& labels_name);
  std::string file_;
  int64_t n_ = 0, rows_ = 0, cols_ = 0, side_ = 32;
  std::vector<unsigned char> pixels_;
  std::vector<int32_t> labels_;
};

}  // namespace odegan::data
