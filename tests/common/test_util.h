// Helpers shared by every test suite: which devices to run on, random inputs,
// tensor comparison with a useful failure message.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace odegan::testing {

// True when this build has CUDA and a device is present.
bool cuda_available();
std::string cuda_skip_reason();

// Skips the current test, saying why, when no CUDA device can run it.
#define ODEGAN_REQUIRE_CUDA()                                                   \
  do {                                                                          \
    if (!::odegan::testing::cuda_available())                                   \
      GTEST_SKIP() << "CUDA test skipped: " << ::odegan::testing::cuda_skip_reason(); \
  } while (0)

// The fixture of CUDA-against-CPU tests that loop over their own cases (the kernel
// comparisons); device-typed suites use testing::DeviceTest (device_test.h) instead.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override { ODEGAN_REQUIRE_CUDA(); }
};

// Uniform [lo, hi) values from a seeded generator (reproducible per seed).
Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0, double hi = 1.0,
                     Device device = Device::cpu());
// Uniform values whose magnitude is at least `gap` (away from ReLU-like kinks).
Tensor random_away_from_zero(const Shape& shape, DType dtype, uint64_t seed, double gap = 0.05,
                             Device device = Device::cpu());

// Writes element i (flat) of a float tensor on any device (a one-element fill off the CPU).
void set_element(const Tensor& t, int64_t i, double value);

// <a, b> over all elements, in double (adjoint identities <op(x), y> = <x, op^T(y)>).
double dot(const Tensor& a, const Tensor& b);

// Largest |a - b| / (atol + rtol * |b|) over elements; <= 1 means close.
double close_ratio(const Tensor& a, const Tensor& b, double rtol, double atol);

// EXPECT-style comparison: shapes equal and every element within atol + rtol * |b|.
::testing::AssertionResult tensors_close(const Tensor& a, const Tensor& b, double rtol, double atol);
#define EXPECT_TENSOR_NEAR(a, b, rtol, atol) EXPECT_TRUE(::odegan::testing::tensors_close((a), (b), (rtol), (atol)))
#define ASSERT_TENSOR_NEAR(a, b, rtol, atol) ASSERT_TRUE(::odegan::testing::tensors_close((a), (b), (rtol), (atol)))

// Default tolerance for comparing two implementations in a dtype (f32 / f64).
inline double default_rtol(DType t) { return t == DType::f64 ? 1e-10 : 1e-5; }
inline double default_atol(DType t) { return t == DType::f64 ? 1e-12 : 1e-6; }

// A scratch directory unique to the running test, removed at the end of the process.
std::string temp_dir();

const DType kFloatTypes[] = {DType::f32, DType::f64};

}  // namespace odegan::testing
