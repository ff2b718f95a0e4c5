#include "tests/common/device_test.h"

#include <ostream>

namespace odegan::testing {

std::string device_case_name(const DeviceCase& c) {
  return std::string(c.device.is_cuda() ? "cuda" : "cpu") + "_" + (c.dtype == DType::f64 ? "f64" : "f32");
}

std::ostream& operator<<(std::ostream& os, const DeviceCase& c) { return os << device_case_name(c); }

std::vector<DeviceCase> device_cases(const std::vector<DType>& dtypes) {
  std::vector<DeviceCase> r;
  for (Device d : {Device::cpu(), Device::cuda(0)})
    for (DType t : dtypes) r.push_back({d, t});
  return r;
}

std::vector<DeviceCase> cuda_cases(const std::vector<DType>& dtypes) {
  std::vector<DeviceCase> r;
  for (DType t : dtypes) r.push_back({Device::cuda(0), t});
  return r;
}

}  // namespace odegan::testing
