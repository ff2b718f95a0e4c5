// Test main: says up front whether the CUDA comparisons run here or are skipped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "tests/common/test_util.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (odegan::testing::cuda_available())
    std::printf("[odegan] CUDA tests run on %d device(s)\n", odegan::cuda_device_count());
  else
    std::printf("[odegan] CUDA tests are skipped: %s\n", odegan::testing::cuda_skip_reason().c_str());
  int rc = RUN_ALL_TESTS();
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("odegan-test-" + std::to_string(getpid())), ec);
  return rc;
}
