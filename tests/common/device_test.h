// The device-typed test harness (Caffe's typed tests, ggml's test-backend-ops): a test body
// is written once against GetParam()'s device and dtype and instantiated for the CPU and
// CUDA (x float32 / float64 where it matters). CUDA instances skip, saying why, where no
// GPU is usable, so the same binary passes on a laptop and checks everything on a GPU.
//
//   class LayersOnDevice : public testing::DeviceTest {};
//   TEST_P(LayersOnDevice, Linear) { ... device() ... dtype() ... }
//   ODEGAN_INSTANTIATE_DEVICES(LayersOnDevice);          // cpu_f64, cuda_f64
//   ODEGAN_INSTANTIATE_DEVICES_AND_DTYPES(SomeSuite);    // cpu_f32, cpu_f64, cuda_f32, cuda_f64
//
// On CUDA a test should both check itself independently (finite differences in float64)
// and compare against the CPU (ad::compare / ad::compare_devices in autodiff/gradcheck.h).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/common/test_util.h"

namespace odegan::testing {

struct DeviceCase {
  Device device;
  DType dtype = DType::f64;
};
std::ostream& operator<<(std::ostream& os, const DeviceCase& c);
// "cpu_f64", "cuda_f32": test-name friendly.
std::string device_case_name(const DeviceCase& c);

// {cpu, cuda:0} x dtypes. CUDA cases are listed even in CPU-only builds: they skip.
std::vector<DeviceCase> device_cases(const std::vector<DType>& dtypes = {DType::f64});
// Only cuda:0 (tests that compare CUDA against the CPU reference).
std::vector<DeviceCase> cuda_cases(const std::vector<DType>& dtypes = {DType::f64});

// Skips the current test when `device` cannot run here, saying why.
#define ODEGAN_REQUIRE_DEVICE(device)                     \
  do {                                                    \
    if ((device).is_cuda()) ODEGAN_REQUIRE_CUDA();        \
  } while (0)

// Float tolerances for comparing two backends on the same computation: float64 results
// differ only by summation order (ulps times sqrt of the terms summed); float32 also by
// CUDA's transcendental functions (a few ulp).
struct Tolerance {
  double rtol, atol;
};
inline Tolerance backend_tolerance(DType t) { return t == DType::f64 ? Tolerance{1e-10, 1e-12} : Tolerance{1e-4, 1e-5}; }

class DeviceTest : public ::testing::TestWithParam<DeviceCase> {
 protected:
  void SetUp() override { ODEGAN_REQUIRE_DEVICE(device()); }
  Device device() const { return GetParam().device; }
  DType dtype() const { return GetParam().dtype; }
  bool on_cuda() const { return device().is_cuda(); }
  // Seeded uniform values, drawn on the CPU (identical for every device) then moved.
  Tensor rnd(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) const {
    return random_tensor(s, dtype(), seed, lo, hi, device());
  }
};

#define ODEGAN_INSTANTIATE_DEVICES(Suite)                                                              \
  INSTANTIATE_TEST_SUITE_P(Devices, Suite, ::testing::ValuesIn(::odegan::testing::device_cases()), \
                           [](const auto& p) { return ::odegan::testing::device_case_name(p.param); })
#define ODEGAN_INSTANTIATE_DEVICES_AND_DTYPES(Suite)                                                            \
  INSTANTIATE_TEST_SUITE_P(                                                                                      \
      Devices, Suite,                                                                                            \
      ::testing::ValuesIn(::odegan::testing::device_cases({::odegan::DType::f32, ::odegan::DType::f64})),    \
      [](const auto& p) { return ::odegan::testing::device_case_name(p.param); })
#define ODEGAN_INSTANTIATE_CUDA(Suite)                                                               \
  INSTANTIATE_TEST_SUITE_P(Cuda, Suite, ::testing::ValuesIn(::odegan::testing::cuda_cases()),    \
                           [](const auto& p) { return ::odegan::testing::device_case_name(p.param); })

}  // namespace odegan::testing
