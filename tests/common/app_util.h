// Running the programs from tests: where the built programs are, and a command's exit
// code and output.
#pragma once
#include <string>

namespace odegan::testing {

// $ODEGAN_BIN_DIR/<name> (ctest sets it to the build's bin/).
std::string bin(const std::string& name);
// Runs `cmd` through the shell with stderr folded into stdout; returns its exit code
// (-1 when it was killed or could not start). timeout_s > 0 runs it under timeout(1), so a
// program that hangs fails its test instead of stalling the suite (exit code 124).
int run(const std::string& cmd, std::string* output = nullptr, int timeout_s = 0);
// Writes a tiny CIFAR-10 binary dataset into `dir`: 5 batch files of 4 records, label
// r % 10, pixel k of record r in file f = (r * a + k * b + f) mod 256. Returns `dir`.
std::string write_tiny_cifar10(const std::string& dir, int a = 31, int b = 7);

}  // namespace odegan::testing
