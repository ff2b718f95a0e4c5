// The counter-based RNG (determinism, distributions, the hand-written transcendental
// functions that make CPU and GPU agree bit for bit) and safetensors I/O.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include "core/philox.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "tests/common/test_util.h"

namespace odegan {
namespace {

std::vector<double> draw(void (*fill)(Tensor&, Generator&, double, double), int64_t n, uint64_t seed,
                         DType dt = DType::f64, double a = 0, double b = 1) {
  Tensor t = Tensor::empty({n}, dt);
  Generator g(seed);
  fill(t, g, a, b);
  return t.to_vector<double>();
}

TEST(Philox, KnownAnswerForCounterZeroKeyZero) {
  // Random123's known-answer test for philox4x32_10 with counter = 0, key = 0.
  philox::U4 r = philox::philox4x32_10(0, 0);
  EXPECT_EQ(r.x, 0x6627e8d5u);
  EXPECT_EQ(r.y, 0xe169c58du);
  EXPECT_EQ(r.z, 0xbc57ac4cu);
  EXPECT_EQ(r.w, 0x9b00dbd8u);
}

TEST(Philox, PortableLogAndSinCosAreAccurate) {
  for (double u = 1e-300; u < 1.0; u *= 1.37) EXPECT_NEAR(philox::log_unit(u), std::log(u), 4e-16 * std::fabs(std::log(u)) + 1e-300);
  for (int i = 0; i <= 4096; ++i) {
    double u = i / 4097.0, s, c;
    philox::sincos_2pi(u, &s, &c);
    EXPECT_NEAR(s, std::sin(2 * M_PI * u), 1e-15) << u;
    EXPECT_NEAR(c, std::cos(2 * M_PI * u), 1e-15) << u;
  }
  EXPECT_NEAR(philox::erfinv(0.5), 0.4769362762044699, 1e-6);
  EXPECT_NEAR(philox::erfinv(-0.9), -1.1630871536766743, 1e-6);
}

TEST(Rng, SameSeedSameNumbersDifferentSeedDifferent) {
  EXPECT_EQ(draw(fill_normal, 1000, 7), draw(fill_normal, 1000, 7));
  EXPECT_NE(draw(fill_normal, 1000, 7), draw(fill_normal, 1000, 8));
  EXPECT_EQ(draw(fill_uniform, 999, 3, DType::f32), draw(fill_uniform, 999, 3, DType::f32));
}

TEST(Rng, StateIsTwoIntegersAndFillsConsumeCounters) {
  Generator g(11);
  Tensor a = Tensor::empty({6}, DType::f64), b = Tensor::empty({4}, DType::f64), all = Tensor::empty({10}, DType::f64);
  fill_normal(a, g);
  EXPECT_EQ(g.offset(), counters_for_normal(6));
  fill_normal(b, g);
  Generator h(11);
  fill_normal(all, h);
  std::vector<double> joined = a.to_vector<double>(), bv = b.to_vector<double>();
  joined.insert(joined.end(), bv.begin(), bv.end());
  EXPECT_EQ(joined, all.to_vector<double>());
  // Restoring (seed, offset) continues the stream exactly.
  Generator r(0);
  r.set_state(11, counters_for_normal(6));
  Tensor c = Tensor::empty({4}, DType::f64);
  fill_normal(c, r);
  EXPECT_EQ(c.to_vector<double>(), bv);
}

TEST(Rng, HostFillsMatchThePerCounterDefinitionTheGpuUses) {
  // The CPU fills are written for speed; the CUDA kernel calls philox::generate per
  // counter. Both must give the same bits.
  for (DType dt : testing::kFloatTypes)
    for (int64_t n : {1, 2, 31, 32, 33, 1001}) {
      Tensor t = Tensor::empty({n}, dt);
      Generator g(5, 7);
      fill_normal(t, g, 0.5, 2.0);
      std::vector<double> got = t.to_vector<double>();
      philox::DistParams prm{{0.5, 2.0, 0, 0, 0, 0}};
      for (int64_t c = 0; 2 * c < n; ++c) {
        double v[4];
        philox::generate<double>(philox::Dist::normal, prm, 5, 7 + static_cast<uint64_t>(c), v);
        for (int j = 0; j < 2 && 2 * c + j < n; ++j) {
          const double want = dt == DType::f32 ? static_cast<double>(static_cast<float>(v[j])) : v[j];
          ASSERT_EQ(got[static_cast<size_t>(2 * c + j)], want) << n << " " << c;
        }
      }
    }
}

TEST(Rng, UniformMomentsAndRange) {
  for (DType dt : testing::kFloatTypes) {
    std::vector<double> v = draw(fill_uniform, 1 << 20, 5, dt, -1, 3);
    double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size(), var = 0;
    for (double x : v) {
      ASSERT_GE(x, -1);
      ASSERT_LT(x, 3);
      var += (x - mean) * (x - mean);
    }
    var /= v.size();
    // U(-1, 3): mean 1, variance 16/12; 6 standard errors.
    EXPECT_NEAR(mean, 1.0, 6 * std::sqrt(16.0 / 12 / v.size()));
    EXPECT_NEAR(var, 16.0 / 12, 0.01);
  }
}

TEST(Rng, NormalMomentsAndTails) {
  std::vector<double> v = draw(fill_normal, 1 << 20, 9, DType::f64, 2.0, 0.5);
  double mean = 0, var = 0, within1 = 0, within2 = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  for (double x : v) {
    var += (x - mean) * (x - mean);
    within1 += std::fabs(x - 2.0) < 0.5;
    within2 += std::fabs(x - 2.0) < 1.0;
  }
  var /= v.size();
  EXPECT_NEAR(mean, 2.0, 6 * 0.5 / std::sqrt(v.size()));
  EXPECT_NEAR(var, 0.25, 0.002);
  EXPECT_NEAR(within1 / v.size(), 0.682689, 0.003);
  EXPECT_NEAR(within2 / v.size(), 0.954500, 0.002);
}

TEST(Rng, TruncatedNormalStaysInsideAndHasTheRightSpread) {
  Tensor t = Tensor::empty({1 << 18}, DType::f64);
  Generator g(4);
  fill_truncated_normal(t, g, 0.0, 0.1, -2, 2);
  std::vector<double> v = t.to_vector<double>();
  double var = 0;
  for (double x : v) {
    ASSERT_LE(std::fabs(x), 0.2 + 1e-12);
    var += x * x;
  }
  // The variance of a standard normal truncated to [-2, 2] is 0.773741.
  EXPECT_NEAR(std::sqrt(var / v.size()), 0.1 * std::sqrt(0.773741), 0.001);
}

TEST(Rng, HostDrawsAreUniform) {
  Generator g(1);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[g.next_below(7)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_THROW(g.next_below(0), Error);
}

TEST(RngCuda, BitwiseEqualToCpu) {
  ODEGAN_REQUIRE_CUDA();
  for (DType dt : testing::kFloatTypes)
    for (int64_t n : {1, 7, 1000, 123457}) {
      Tensor c = Tensor::empty({n}, dt), d = Tensor::empty({n}, dt, Device::cuda());
      Generator gc(99, 5), gd(99, 5);
      fill_normal(c, gc, 0.1, 2.0);
      fill_normal(d, gd, 0.1, 2.0);
      EXPECT_EQ(c.to_vector<double>(), d.to_vector<double>()) << dtype_name(dt) << " " << n;
      fill_uniform(c, gc, -1, 1);
      fill_uniform(d, gd, -1, 1);
      EXPECT_EQ(c.to_vector<double>(), d.to_vector<double>());
      fill_truncated_normal(c, gc, 0, 0.3);
      fill_truncated_normal(d, gd, 0, 0.3);
      EXPECT_EQ(c.to_vector<double>(), d.to_vector<double>());
      EXPECT_EQ(gc.offset(), gd.offset());
    }
}

// ---------------------------------------------------------------- safetensors

std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                      int64_t declared_len = -1) {
  std::string path = testing::temp_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  uint64_t n = declared_len >= 0 ? uint64_t(declared_len) : header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
  return path;
}

std::string expect_rejected(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << "error does not name the file: " << m;
    return m;
  }
  ADD_FAILURE() << "accepted malformed file " << path;
  return "";
}

TEST(Safetensors, RoundTripWithMetadata) {
  const std::string path = testing::temp_dir() + "/model.safetensors";
  TensorMap in = {{"w", testing::random_tensor({3, 4}, DType::f32, 1)},
                  {"b", testing::random_tensor({4}, DType::f64, 2)},
                  {"scalar", Tensor::scalar(2.5, DType::f64)},
                  {"labels", Tensor::from_vector<int32_t>({3, -1, 7}, {3})},
                  {"empty", Tensor::zeros({0, 5})}};
  save_safetensors(path, in, {{"step", "42"}});
  std::map<std::string, std::string> meta;
  TensorMap out = load_safetensors(path, &meta);
  EXPECT_EQ(meta.at("step"), "42");
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [k, t] : in) {
    ASSERT_TRUE(out.count(k)) << k;
    EXPECT_EQ(out[k].shape(), t.shape()) << k;
    EXPECT_EQ(out[k].dtype(), t.dtype()) << k;
    EXPECT_EQ(out[k].to_vector<double>(), t.to_vector<double>()) << k;
  }
  // The data section starts 8-byte aligned and no temporary file is left behind.
  std::ifstream f(path, std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, ReadsAFileLaidOutLikeThePythonLibrary) {
  // {"a": F32 [2] at [0, 8)}, written by hand as the reference implementation does.
  float vals[2] = {1.5f, -2.0f};
  std::string data(reinterpret_cast<const char*>(vals), 8);
  std::string path = write_raw("py.safetensors",
                               R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                               data);
  TensorMap t = load_safetensors(path);
  EXPECT_EQ(t.at("a").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
}

TEST(Safetensors, MalformedFilesAreRejectedWithTheReason) {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data(8, '\0');
  EXPECT_NE(expect_rejected(testing::temp_dir() + "/missing.safetensors").find("cannot open"), std::string::npos);
  {
    std::string p = testing::temp_dir() + "/short.safetensors";
    std::ofstream(p) << "abc";
    EXPECT_NE(expect_rejected(p).find("too short"), std::string::npos);
  }
  EXPECT_NE(expect_rejected(write_raw("len.safetensors", "{" + ok_entry + "}", data, 1 << 20)).find("header length"),
            std::string::npos);
  EXPECT_NE(expect_rejected(write_raw("json.safetensors", "{not json", data)).find("JSON"), std::string::npos);
  EXPECT_NE(expect_rejected(write_raw("dtype.safetensors", R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})",
                                      data))
                .find("F16"),
            std::string::npos);
  EXPECT_NE(expect_rejected(write_raw("fields.safetensors", R"({"a":{"dtype":"F32","shape":[2]}})", data))
                .find("data_offsets"),
            std::string::npos);
  EXPECT_NE(
      expect_rejected(write_raw("neg.safetensors", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data))
          .find("negative"),
      std::string::npos);
  EXPECT_NE(
      expect_rejected(write_raw("range.safetensors", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data))
          .find("out of range"),
      std::string::npos);
  EXPECT_NE(
      expect_rejected(write_raw("size.safetensors", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data))
          .find("needs 12"),
      std::string::npos);
  EXPECT_NE(expect_rejected(write_raw("overlap.safetensors",
                                      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                      data))
                .find("overlaps"),
            std::string::npos);
  EXPECT_NE(
      expect_rejected(write_raw("hole.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data))
          .find("hole"),
      std::string::npos);
  EXPECT_NE(expect_rejected(write_raw("extra.safetensors", "{" + ok_entry + "}", data + "xxxx")).find("bytes"),
            std::string::npos);
}

}  // namespace
}  // namespace odegan
