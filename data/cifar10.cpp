#include "data/cifar10.h"

#include <filesystem>
#include <fstream>

namespace odegan::data {

namespace fs = std::filesystem;

Cifar10Dataset::Cifar10Dataset(const std::string& dir, const std::string& split) {
  ODEGAN_CHECK(fs::is_directory(dir), "CIFAR-10: '", dir, "' is not a directory (expected the folder with ",
               "data_batch_1.bin ... data_batch_5.bin and test_batch.bin)");
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else if (split == "test") {
    files.push_back(dir + "/test_batch.bin");
  } else {
    ODEGAN_FAIL("CIFAR-10: unknown split '", split, "' (train or test)");
  }
  for (const auto& f : files) read(f);
}

Cifar10Dataset::Cifar10Dataset(const std::vector<std::string>& files) {
  ODEGAN_CHECK(!files.empty(), "CIFAR-10: no files given");
  for (const auto& f : files) read(f);
}

void Cifar10Dataset::read(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  ODEGAN_CHECK(in.good(), "CIFAR-10: cannot open '", file, "'");
  in.seekg(0, std::ios::end);
  const int64_t bytes = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  ODEGAN_CHECK(bytes > 0 && bytes % kRecord == 0, "CIFAR-10: '", file, "' has ", bytes,
               " bytes, not a positive multiple of the 3073-byte record (truncated or not a CIFAR-10 file)");
  const int64_t n = bytes / kRecord;
  std::vector<unsigned char> buf(static_cast<size_t>(bytes));
  in.read(reinterpret_cast<char*>(buf.data()), bytes);
  ODEGAN_CHECK(in.good(), "CIFAR-10: reading '", file, "' failed");
  sources_.push_back({file, size()});
  for (int64_t r = 0; r < n; ++r) {
    const unsigned char* rec = &buf[static_cast<size_t>(r * kRecord)];
    ODEGAN_CHECK(rec[0] <= 9, "CIFAR-10: '", file, "' record ", r, " has label ", int(rec[0]), " (expected 0-9)");
    labels_.push_back(rec[0]);
    pixels_.insert(pixels_.end(), rec + 1, rec + kRecord);
  }
}

bool Cifar10Dataset::get(int64_t i, float* out, int32_t* label, Generator*) const {
  const unsigned char* p = &pixels_[static_cast<size_t>(i) * 3072];
  for (int k = 0; k < 3072; ++k) out[k] = p[k] / 127.5f - 1.f;
  *label = labels_[static_cast<size_t>(i)];
  return true;
}

std::string Cifar10Dataset::where(int64_t i) const {
  for (size_t k = sources_.size(); k-- > 0;)
    if (i >= sources_[k].second) return sources_[k].first + " record " + std::to_string(i - sources_[k].second);
  return "?";
}

}  // namespace odegan::data
