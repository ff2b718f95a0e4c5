#include "core/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace odegan {

namespace {
std::string not_regular(const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return "is a directory, not a file";
  if (S_ISFIFO(st.st_mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISSOCK(st.st_mode)) return "is a socket, not a regular file";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "is a device, not a regular file";
  return "is not a regular file";
}
}  // namespace

void check_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    ODEGAN_FAIL(what, " file '", path, "': cannot open: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) ODEGAN_FAIL(what, " file '", path, "': ", not_regular(st));
}

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    fail(std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    fail(not_regular(st));
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::fail(const std::string& reason) const { ODEGAN_FAIL(what_, " file '", path_, "': ", reason); }

void InputFile::read_at(uint64_t offset, void* dst, size_t n) const {
  char* p = static_cast<char*>(dst);
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(std::string("read error: ") + std::strerror(errno));
    if (r == 0)
      fail("truncated: " + std::to_string(offset + done) + " bytes, expected at least " + std::to_string(offset + n));
    done += static_cast<size_t>(r);
  }
}

size_t InputFile::read_some(void* dst, size_t n) {
  for (;;) {
    const ssize_t r = ::read(fd_, dst, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(std::string("read error: ") + std::strerror(errno));
    return static_cast<size_t>(r);
  }
}

std::vector<unsigned char> InputFile::read_all(uint64_t max_bytes) {
  if (size_ > max_bytes)
    fail("is " + std::to_string(size_) + " bytes, more than the " + std::to_string(max_bytes) + " accepted");
  std::vector<unsigned char> out(static_cast<size_t>(size_));
  read_at(0, out.data(), out.size());
  return out;
}

}  // namespace odegan
