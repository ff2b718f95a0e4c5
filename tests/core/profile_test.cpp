// The kernel profiler (core/profile.h): off by default, counts every dispatched kernel
// while on, attributes nested kernels to the outer one.
#include "core/profile.h"

#include <gtest/gtest.h>

#include <thread>

#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"

namespace odegan {
namespace {

const profile::Entry* find(const std::vector<profile::Entry>& v, const std::string& name) {
  for (const profile::Entry& e : v)
    if (e.name == name) return &e;
  return nullptr;
}

struct ProfileOn {
  ProfileOn() {
    profile::reset();
    profile::enable(true);
  }
  ~ProfileOn() {
    profile::enable(false);
    profile::reset();
  }
};

TEST(Profile, OffByDefaultRecordsNothing) {
  profile::reset();
  ASSERT_FALSE(profile::enabled());
  Tensor x = Tensor::full({16}, 1.0);
  kernels::unary(kernels::Unary::exp, x);
  EXPECT_TRUE(profile::snapshot().empty());
}

TEST(Profile, CountsEachKernelCallByName) {
  ProfileOn on;
  Tensor a = Tensor::full({8, 8}, 1.0), b = Tensor::full({8, 8}, 2.0);
  for (int i = 0; i < 3; ++i) kernels::binary(kernels::Binary::add, a, b);
  kernels::matmul(a, b);
  std::vector<profile::Entry> s = profile::snapshot();
  const profile::Entry* add = find(s, "add");
  const profile::Entry* mm = find(s, "matmul");
  ASSERT_NE(add, nullptr);
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(add->calls, 3);
  EXPECT_EQ(mm->calls, 1);
  EXPECT_EQ(mm->flops, 2.0 * 8 * 8 * 8) << "the gemm reports its multiply-adds x 2";
  EXPECT_EQ(add->flops, 0.0);
  EXPECT_GE(add->seconds, 0.0);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_GE(s[i - 1].seconds, s[i].seconds) << "sorted, slowest first";
}

TEST(Profile, ConvolutionsReportTheirArithmetic) {
  ProfileOn on;
  // y (2, 4, 3, 3) from x (2, 3, 5, 5) and w (4, 3, 3, 3), no padding: 2 * 72 outputs x 27 MACs.
  Tensor x = Tensor::full({2, 3, 5, 5}, 1.0), w = Tensor::full({4, 3, 3, 3}, 1.0);
  const kernels::Conv2dGeometry g = kernels::Conv2dGeometry::make(1, 0);
  Tensor y = kernels::conv2d_forward(x, w, g);
  kernels::conv2d_backward_data(y, w, x.shape(), g);
  kernels::conv2d_backward_filter(x, y, w.shape(), g);
  std::vector<profile::Entry> s = profile::snapshot();
  for (const char* name : {"conv2d", "conv2d_backward_data", "conv2d_backward_filter"}) {
    const profile::Entry* e = find(s, name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->flops, 2.0 * 72 * 27) << name;
  }
}

TEST(Profile, NestedScopesCountOnlyTheOuterOne) {
  ProfileOn on;
  {
    profile::Scope outer("outer");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    profile::Scope inner("inner");
  }
  std::vector<profile::Entry> s = profile::snapshot();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, "outer");
  EXPECT_EQ(s[0].calls, 1);
  EXPECT_GE(s[0].seconds, 0.002);
  // The depth went back to zero: a new scope records again.
  { profile::Scope again("inner"); }
  EXPECT_NE(find(profile::snapshot(), "inner"), nullptr);
}

TEST(Profile, ResetClearsTotals) {
  ProfileOn on;
  { profile::Scope s("x"); }
  EXPECT_EQ(profile::snapshot().size(), 1u);
  profile::reset();
  EXPECT_TRUE(profile::snapshot().empty());
}

}  // namespace
}  // namespace odegan
