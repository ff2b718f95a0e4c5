// Where a tensor lives: the CPU or one CUDA device ("cpu", "cuda", "cuda:1").
#pragma once
#include <string>

namespace odegan {

struct Device {
  enum class Kind : unsigned char { cpu, cuda };
  Kind kind = Kind::cpu;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {Kind::cuda, i}; }
  // Parses "cpu", "cuda", "cuda:N", and "auto" (cuda:0 when a GPU is usable, else cpu).
  static Device parse(const std::string& s);

  bool is_cpu() const { return kind == Kind::cpu; }
  bool is_cuda() const { return kind == Kind::cuda; }
  bool operator==(const Device& o) const { return kind == o.kind && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

// True when this build has the CUDA backend compiled in.
bool cuda_compiled();
// Number of usable CUDA devices (0 when built without CUDA or no driver/GPU).
int cuda_device_count();
// Why no CUDA device is usable ("built without CUDA", driver message, ...), or "".
std::string cuda_unavailable_reason();

}  // namespace odegan
