#include "core/device.h"

#include <sys/stat.h>

#include "core/error.h"

#ifdef ODEGAN_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace odegan {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "auto") return cuda_device_count() > 0 ? cuda(0) : cpu();
  if (s == "cuda" || s == "gpu") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    std::string num = s.substr(5);
    ODEGAN_CHECK(!num.empty() && num.find_first_not_of("0123456789") == std::string::npos,
                 "bad device '", s, "': expected cpu, cuda, cuda:N or auto");
    return cuda(std::stoi(num));
  }
  ODEGAN_FAIL("bad device '", s, "': expected cpu, cuda, cuda:N or auto");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

#ifdef ODEGAN_WITH_CUDA
bool cuda_compiled() { return true; }
namespace {
// Linux's NVIDIA driver (and WSL's) exposes these nodes; without them there is no device to
// find, and asking the CUDA runtime costs most of a second per process (every test process).
bool driver_nodes_present() {
  struct stat st {};
  return ::stat("/dev/nvidiactl", &st) == 0 || ::stat("/dev/dxg", &st) == 0;
}
}  // namespace
int cuda_device_count() {
  if (!driver_nodes_present()) return 0;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}
std::string cuda_unavailable_reason() {
  if (!driver_nodes_present()) return "no NVIDIA driver on this machine (/dev/nvidiactl not found)";
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  }
  return n > 0 ? "" : "no CUDA device present";
}
#else
bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "built without CUDA (ODEGAN_CUDA=OFF or toolkit not found)"; }
#endif

}  // namespace odegan
