#include "tests/common/app_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace odegan::testing {

std::string bin(const std::string& name) {
  const char* dir = std::getenv("ODEGAN_BIN_DIR");
  return std::string(dir ? dir : "bin") + "/" + name;
}

int run(const std::string& cmd, std::string* output, int timeout_s) {
  const std::string full = (timeout_s > 0 ? "timeout " + std::to_string(timeout_s) + " " : "") + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = pclose(p);
  if (output) *output = out;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string write_tiny_cifar10(const std::string& dir, int a, int b) {
  std::filesystem::create_directories(dir);
  for (int f = 1; f <= 5; ++f) {
    std::ofstream out(dir + "/data_batch_" + std::to_string(f) + ".bin", std::ios::binary);
    for (int r = 0; r < 4; ++r) {
      out.put(static_cast<char>(r % 10));
      for (int k = 0; k < 3072; ++k) out.put(static_cast<char>((r * a + k * b + f) % 256));
    }
  }
  return dir;
}

}  // namespace odegan::testing
