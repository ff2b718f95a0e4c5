// Reading input files safely: only regular files are opened for reading (a FIFO would
// block open() forever, a directory reads as garbage), reads are exact or fail, and every
// error names the kind of file, the path and the reason.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace odegan {

class InputFile {
 public:
  // Opens `path`; `what` names the kind of file in messages ("IDX", "CIFAR-10", ...).
  // Throws odegan::Error when it is missing, unreadable, a directory or not a regular file.
  InputFile(const std::string& path, const std::string& what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Size in bytes when opened.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly n bytes at `offset`; a short read (the file shrank) is an error.
  void read_at(uint64_t offset, void* dst, size_t n) const;
  // Reads up to n bytes from the current position (0 at the end of the file).
  size_t read_some(void* dst, size_t n);
  // The whole file; refuses files larger than max_bytes before reading them.
  std::vector<unsigned char> read_all(uint64_t max_bytes);

  // "<what> file '<path>': <reason>" as an odegan::Error.
  [[noreturn]] void fail(const std::string& reason) const;

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Throws unless `path` names a regular file (or a symlink to one); `what` as above.
void check_regular_file(const std::string& path, const std::string& what);

}  // namespace odegan
