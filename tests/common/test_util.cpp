#include "tests/common/test_util.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace odegan::testing {

bool cuda_available() { return cuda_device_count() > 0; }

std::string cuda_skip_reason() {
  std::string r = cuda_unavailable_reason();
  return r.empty() ? "no CUDA device" : r;
}

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo, double hi, Device device) {
  Tensor t = Tensor::empty(shape, dtype, Device::cpu());
  Generator g(seed);
  fill_uniform(t, g, lo, hi);
  return t.to(device);
}

Tensor random_away_from_zero(const Shape& shape, DType dtype, uint64_t seed, double gap, Device device) {
  std::vector<double> v = random_tensor(shape, DType::f64, seed, -1.0, 1.0).to_vector<double>();
  for (double& x : v) x = (x < 0 ? -gap : gap) + x * (1.0 - gap);
  return Tensor::from_doubles(v, shape, dtype, device);
}

void set_element(const Tensor& t, int64_t i, double value) { t.view(i, {1}).fill_(value); }

double dot(const Tensor& a, const Tensor& b) {
  std::vector<double> u = a.to_vector<double>(), v = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
  return s;
}

double close_ratio(const Tensor& a, const Tensor& b, double rtol, double atol) {
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double tol = atol + rtol * std::fabs(vb[i]);
    double r = std::fabs(va[i] - vb[i]) / tol;
    if (std::isnan(va[i]) != std::isnan(vb[i])) r = INFINITY;
    if (r > worst || std::isnan(r)) worst = std::isnan(r) ? INFINITY : r;
  }
  return worst;
}

::testing::AssertionResult tensors_close(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (!a.defined() || !b.defined())
    return ::testing::AssertionFailure() << "undefined tensor: " << describe(a) << " vs " << describe(b);
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape mismatch " << a.shape().str() << " vs " << b.shape().str();
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  size_t bad = 0, first = 0;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double err = std::fabs(va[i] - vb[i]);
    bool ok = err <= atol + rtol * std::fabs(vb[i]) && std::isnan(va[i]) == std::isnan(vb[i]);
    if (std::isnan(va[i]) && std::isnan(vb[i])) ok = true;
    if (!ok) {
      if (bad++ == 0) first = i;
      if (!(err <= worst)) {
        worst = err;
        worst_i = i;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(12);
  os << bad << " of " << va.size() << " elements differ (rtol " << rtol << ", atol " << atol << "); first at flat "
     << first << ": " << va[first] << " vs " << vb[first] << "; worst at " << worst_i << ": " << va[worst_i]
     << " vs " << vb[worst_i] << " (|diff| " << worst << ")";
  return ::testing::AssertionFailure() << os.str();
}

std::string temp_dir() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "odegan";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() / ("odegan-test-" + std::to_string(getpid())) / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace odegan::testing
