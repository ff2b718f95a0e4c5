// CIFAR-10 in its binary format: data_batch_1..5.bin (train) and test_batch.bin (test),
// each a sequence of 3073-byte records: 1 label byte (0-9), then 1024 red, 1024 green and
// 1024 blue bytes of a 32x32 image. Loaded into memory (150 MB for the training set).
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace odegan::data {

class Cifar10Dataset : public Dataset {
 public:
  // Reads every file of the split from `dir`; errors name the file (and record).
  Cifar10Dataset(const std::string& dir, const std::string& split = "train");
  // Reads explicit files (for tests and custom subsets).
  explicit Cifar10Dataset(const std::vector<std::string>& files);
  // Records from bytes in memory; `name` stands for the file in messages.
  static Cifar10Dataset from_memory(const unsigned char* data, size_t size, const std::string& name);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Shape sample_shape() const override { return {3, 32, 32}; }
  int64_t num_classes() const override { return 10; }
  bool get(int64_t i, float* out, int32_t* label, Generator* aug) const override;
  std::string where(int64_t i) const override;
  std::string name() const override { return "cifar10"; }

  static constexpr int kRecord = 3073;

 private:
  Cifar10Dataset() = default;
  void read(const std::string& file);
  static void check_size(uint64_t bytes, const std::string& file);
  void add_records(const unsigned char* data, size_t size, const std::string& file);
  std::vector<unsigned char> pixels_;  // 3072 bytes per sample, CHW
  std::vector<int32_t> labels_;
  std::vector<std::pair<std::string, int64_t>> sources_;  // file, first sample index
};

}  // namespace odegan::data
