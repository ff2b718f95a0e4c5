#include "data/cifar10.h"

#include <filesystem>

#include "core/input_file.h"

namespace odegan::data {

namespace fs = std::filesystem;

Cifar10Dataset::Cifar10Dataset(const std::string& dir, const std::string& split) {
  ODEGAN_CHECK(split == "train" || split == "test", "CIFAR-10: unknown split '", split, "' (train or test)");
  const std::string expected = "data_batch_1.bin ... data_batch_5.bin and test_batch.bin";
  ODEGAN_CHECK(fs::exists(dir), "CIFAR-10: '", dir, "' does not exist (expected the folder with ", expected, ")");
  ODEGAN_CHECK(fs::is_directory(dir), "CIFAR-10: '", dir, "' is not a directory (expected the folder with ", expected,
               ")");
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  // Say every missing file at once, before reading 150 MB of the others.
  std::string missing;
  for (const auto& f : files)
    if (!fs::exists(f)) missing += (missing.empty() ? "" : ", ") + fs::path(f).filename().string();
  ODEGAN_CHECK(missing.empty(), "CIFAR-10: '", dir, "' lacks ", missing, " of the ", split,
               " split (cannot open: no such file)");
  for (const auto& f : files) read(f);
}

Cifar10Dataset::Cifar10Dataset(const std::vector<std::string>& files) {
  ODEGAN_CHECK(!files.empty(), "CIFAR-10: no files given");
  for (const auto& f : files) read(f);
}

Cifar10Dataset Cifar10Dataset::from_memory(const unsigned char* data, size_t size, const std::string& name) {
  Cifar10Dataset d;
  d.add_records(data, size, name);
  return d;
}

void Cifar10Dataset::read(const std::string& file) {
  InputFile f(file, "CIFAR-10");
  // Check the size before reading anything: the whole split is only 150 MB.
  check_size(f.size(), file);
  const std::vector<unsigned char> buf = f.read_all(f.size());
  add_records(buf.data(), buf.size(), file);
}

void Cifar10Dataset::check_size(uint64_t bytes, const std::string& file) {
  ODEGAN_CHECK(bytes > 0 && bytes % kRecord == 0, "CIFAR-10 file '", file, "' has ", bytes,
               " bytes, not a positive multiple of the 3073-byte record (",
               bytes % kRecord ? "truncated, or not a CIFAR-10 file" : "empty", ")");
}

void Cifar10Dataset::add_records(const unsigned char* buf, size_t bytes, const std::string& file) {
  check_size(bytes, file);
  const int64_t n = static_cast<int64_t>(bytes / kRecord);
  for (int64_t r = 0; r < n; ++r) {
    const unsigned char* rec = &buf[static_cast<size_t>(r * kRecord)];
    ODEGAN_CHECK(rec[0] <= 9, "CIFAR-10 file '", file, "': record ", r, " has label ", int(rec[0]),
                 " (expected 0-9; not a CIFAR-10 file, or CIFAR-100?)");
  }
  sources_.push_back({file, size()});
  labels_.reserve(labels_.size() + static_cast<size_t>(n));
  pixels_.reserve(pixels_.size() + static_cast<size_t>(n) * 3072);
  for (int64_t r = 0; r < n; ++r) {
    const unsigned char* rec = &buf[static_cast<size_t>(r * kRecord)];
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
