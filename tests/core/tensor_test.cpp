#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "tests/common/test_util.h"

namespace odegan {
namespace {

TEST(Tensor, CreateFillAndRead) {
  Tensor t = Tensor::full({2, 3}, 1.5, DType::f64);
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 48u);
  for (double v : t.to_vector<double>()) EXPECT_EQ(v, 1.5);
  Tensor z = Tensor::zeros({4}, DType::f32);
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, FromVectorRoundTripAndDtypeCheck) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Tensor, ReshapeSharesStorageAndInfers) {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), Shape({3, 2}));
  r.data<float>()[5] = 42;
  EXPECT_EQ(t.to_vector<float>()[5], 42);
  EXPECT_THROW(t.reshape({4, -1}), Error);
  EXPECT_THROW(t.reshape({-1, -1}), Error);
}

TEST(Tensor, SliceAndRowViews) {
  Tensor t = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor s = t.slice(1, 3);
  EXPECT_EQ(s.shape(), Shape({2, 2}));
  EXPECT_EQ(s.to_vector<double>(), (std::vector<double>{2, 3, 4, 5}));
  EXPECT_EQ(t[3].to_vector<double>(), (std::vector<double>{6, 7}));
  EXPECT_EQ(t[3].shape(), Shape({2}));
  s.fill_(-1);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{0, 1, -1, -1, -1, -1, 6, 7}));
  EXPECT_THROW(t.slice(3, 5), Error);
}

TEST(Tensor, FlatViewsIntoOneBuffer) {
  // Parameters as views into one flat buffer: writing through a view changes the buffer.
  Tensor flat = Tensor::zeros({10}, DType::f32);
  Tensor w = flat.view(0, {2, 3});
  Tensor b = flat.view(6, {4});
  w.fill_(2);
  b.fill_(3);
  EXPECT_EQ(flat.to_vector<float>(), (std::vector<float>{2, 2, 2, 2, 2, 2, 3, 3, 3, 3}));
  EXPECT_THROW(flat.view(8, {3}), Error);
}

TEST(Tensor, CloneCopyAndCast) {
  Tensor t = Tensor::from_vector<float>({1.25f, -2.5f, 3}, {3});
  Tensor c = t.clone();
  c.fill_(0);
  EXPECT_EQ(t.to_vector<float>()[0], 1.25f);
  Tensor d = t.to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{1.25, -2.5, 3}));
  Tensor dst = Tensor::empty({3}, DType::f32);
  dst.copy_(t);
  EXPECT_EQ(dst.to_vector<float>(), t.to_vector<float>());
  Tensor wrong = Tensor::empty({4}, DType::f32);
  EXPECT_THROW(wrong.copy_(t), Error);
  Tensor wrong_dtype = Tensor::empty({3}, DType::f64);
  EXPECT_THROW(wrong_dtype.copy_(t), Error);
}

TEST(Tensor, MismatchErrorsPrintBothShapes) {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = Tensor::zeros({3, 2});
  try {
    check_same_shape(a, b, "myop");
    FAIL() << "expected a throw";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("myop"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 2]"), std::string::npos) << msg;
  }
}

TEST(Tensor, PrintingShowsShapeDtypeAndValues) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  std::string s = t.str();
  EXPECT_NE(s.find("[2, 2] float32 cpu"), std::string::npos) << s;
  EXPECT_NE(s.find("[[1, 2],"), std::string::npos) << s;
  Tensor big = Tensor::zeros({100});
  EXPECT_NE(big.str(3).find("..."), std::string::npos);
}

TEST(Device, Parse) {
  EXPECT_TRUE(Device::parse("cpu").is_cpu());
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
  EXPECT_THROW(Device::parse("tpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
  if (cuda_device_count() == 0) {
    EXPECT_TRUE(Device::parse("auto").is_cpu());
  }
}

TEST(Memory, HostStatsTrackCurrentAndPeak) {
  reset_peak_memory(Device::cpu());
  int64_t before = memory_stats(Device::cpu()).current_bytes;
  {
    Tensor t = Tensor::empty({1000}, DType::f64);
    EXPECT_EQ(memory_stats(Device::cpu()).current_bytes, before + 8000);
  }
  EXPECT_EQ(memory_stats(Device::cpu()).current_bytes, before);
  EXPECT_GE(memory_stats(Device::cpu()).peak_bytes, before + 8000);
}

// Freed host blocks are reused by the next allocation of the same (64-byte-rounded) size
// on the same thread, stay 64-byte aligned, and do not count as memory in use.
TEST(Memory, HostBlocksAreReusedPerThread) {
  const int64_t before = memory_stats(Device::cpu()).current_bytes;
  const float* first;
  {
    Tensor t = Tensor::empty({12345}, DType::f32);
    first = t.data<float>();
  }
  EXPECT_EQ(memory_stats(Device::cpu()).current_bytes, before);
  // A smaller block in between: malloc alone would carve it out of the freed one.
  Tensor small = Tensor::empty({1000}, DType::f32);
  Tensor again = Tensor::empty({12340}, DType::f32);  // 49 360 bytes: the same 64-byte class as 49 380
  EXPECT_EQ(again.data<float>(), first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.data<float>()) % 64, 0u);
  Tensor other = Tensor::empty({12345}, DType::f32);  // the cached block is taken: a new one
  EXPECT_NE(other.data<float>(), first);
  // Blocks made on one thread and freed on another (loader batches) are fine both ways.
  std::vector<Tensor> made(8);
  std::thread worker([&] {
    for (Tensor& m : made) m = Tensor::full({777}, 2.0, DType::f32);
  });
  worker.join();
  double sum = 0;
  for (const Tensor& m : made) sum += m.to_vector<double>()[776];
  EXPECT_EQ(sum, 16.0);
  made.clear();
  std::thread freer([t = Tensor::full({777}, 3.0, DType::f32)]() mutable { t = Tensor(); });
  freer.join();
}

class TensorCuda : public testing::CudaTest {};

TEST_F(TensorCuda, RoundTripFillCastAndViews) {
  Tensor h = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor d = h.to(Device::cuda());
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.to_vector<float>(), h.to_vector<float>());
  Tensor d64 = d.to(DType::f64);
  EXPECT_EQ(d64.to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  d.slice(1, 2).fill_(9);
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{1, 2, 3, 9, 9, 9}));
  Tensor c = d.clone();
  c.fill_(0);
  EXPECT_EQ(d.to_vector<float>()[3], 9);
  Tensor back = Tensor::empty({6}, DType::f32);
  back.copy_(d);
  EXPECT_EQ(back.to_vector<float>(), d.to_vector<float>());
}

TEST_F(TensorCuda, MemoryStatsCountDeviceBytes) {
  Device dev = Device::cuda();
  int64_t before = memory_stats(dev).current_bytes;
  {
    Tensor t = Tensor::empty({256}, DType::f32, dev);
    EXPECT_EQ(memory_stats(dev).current_bytes, before + 1024);
  }
  EXPECT_EQ(memory_stats(dev).current_bytes, before);
}

}  // namespace
}  // namespace odegan
