// The paper's networks: output shapes, exact parameter counts (computed here from the
// layer list, independently of the model code), a forward + backward pass at small batch,
// save/load, and second derivatives through the MoG pair and a reduced-width DCGAN pair
// on every device; on CUDA every pair (DCGAN, CIFAR ResNet with and without spectral
// norm, conditional ImageNet ResNet) against the CPU: value, first and second derivatives.
#include <gtest/gtest.h>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/gradcheck.h"
#include "kernels/reduce.h"
#include "layers/models/dcgan.h"
#include "layers/models/mog.h"
#include "layers/models/resnet.h"
#include "layers/spectral_norm.h"
#include "solvers/gan_game.h"
#include "layers/layers.h"
#include "tests/common/device_test.h"
#include "tests/common/module_check.h"
#include "tests/common/test_util.h"

namespace odegan::nn::models {
namespace {

int64_t linear(int64_t i, int64_t o, bool bias = true) { return i * o + (bias ? o : 0); }
int64_t conv(int64_t i, int64_t o, int64_t k) { return i * o * k * k + o; }
int64_t gblock(int64_t i, int64_t o, int64_t classes) {
  const int64_t bn = classes ? 2 * classes : 2;
  return bn * i + conv(i, o, 3) + bn * o + conv(o, o, 3) + conv(i, o, 1);
}
int64_t dblock(int64_t i, int64_t o, bool down, bool opt) {
  return conv(i, o, 3) + conv(o, o, 3) + ((i != o || down || opt) ? conv(i, o, 1) : 0);
}

TEST(Models, MogShapesAndCounts) {
  auto g = mog_generator(), d = mog_discriminator();
  EXPECT_EQ(g->num_parameters(), linear(32, 25) + linear(25, 25) + linear(25, 2));
  EXPECT_EQ(d->num_parameters(), linear(2, 25) + linear(25, 25) + linear(25, 1));
  EXPECT_EQ((*g)(Var(Tensor::zeros({7, 32}))).shape(), Shape({7, 2}));
  EXPECT_EQ((*d)(Var(Tensor::zeros({7, 2}))).shape(), Shape({7, 1}));
}

TEST(Models, DcganShapesAndCounts) {
  DcganOptions o;
  auto g = dcgan_generator(o), d = dcgan_discriminator(o);
  const int64_t gc = linear(128, 4 * 4 * 512) + conv(512, 256, 4) + 2 * 256 + conv(256, 128, 4) + 2 * 128 +
                     conv(128, 64, 4) + 2 * 64 + conv(64, 3, 3);
  const int64_t dc = conv(3, 64, 3) + conv(64, 64, 4) + conv(64, 128, 3) + conv(128, 128, 4) + conv(128, 256, 3) +
                     conv(256, 256, 4) + conv(256, 512, 3) + linear(512 * 4 * 4, 1);
  EXPECT_EQ(g->num_parameters(), gc);
  EXPECT_EQ(d->num_parameters(), dc);
  o.logits = 2;
  o.image_channels = 1;
  auto d2 = dcgan_discriminator(o);
  EXPECT_EQ(d2->num_parameters(), dc - 2 * 64 * 9 + linear(8192, 2) - linear(8192, 1));
  // Forward and backward at batch 2, full size.
  Generator gen(1);
  g->reset_all(gen, Init::reference);
  d->reset_all(gen, Init::reference);
  Var z(testing::random_tensor({2, 128}, DType::f32, 2));
  Var x = (*g)(z);
  EXPECT_EQ(x.shape(), Shape({2, 3, 32, 32}));
  Var logits = (*d)(x);
  EXPECT_EQ(logits.shape(), Shape({2, 1}));
  ad::backward(ad::sum(logits));
  EXPECT_TRUE(kernels::all_finite(g->flat_gradients()));
  EXPECT_GT(kernels::sum_squares(g->flat_gradients()).item(), 0.0);
  EXPECT_THROW(dcgan_generator({128, 3, 30}), Error);
}

// The SN-GAN baseline's DCGAN discriminator: the same parameters, every weighted layer wrapped
// in spectral normalisation, so each layer's effective weight has largest singular value 1.
TEST(Models, DcganDiscriminatorWithSpectralNorm) {
  DcganOptions o;
  o.width = 1.0 / 16;
  auto plain = dcgan_discriminator(o);
  o.spectral_norm = true;
  auto sn = dcgan_discriminator(o);
  EXPECT_EQ(sn->num_parameters(), plain->num_parameters());
  Generator gen(3);
  sn->reset_all(gen, Init::reference);
  int wrapped = 0;
  for (auto& [name, m] : sn->named_children())
    if (auto* s = dynamic_cast<SpectralNorm*>(m.get())) {
      ++wrapped;
      for (int i = 0; i < 50; ++i) (void)s->normalized(s->layer->weight());  // power iterations
      const double sigma = s->sigma();
      Var w = s->normalized(s->layer->weight());
      // The normalised weight's largest singular value, estimated independently by power iteration.
      const Tensor wt = w.data().to(Device::cpu()).to(DType::f64);
      const int64_t rows = wt.shape()[0], cols = wt.numel() / rows;
      std::vector<double> W = wt.to_vector<double>(), v(static_cast<size_t>(cols), 1.0), u(static_cast<size_t>(rows));
      double top = 0;
      for (int it = 0; it < 200; ++it) {
        for (int64_t r = 0; r < rows; ++r) {
          double a = 0;
          for (int64_t c = 0; c < cols; ++c) a += W[static_cast<size_t>(r * cols + c)] * v[static_cast<size_t>(c)];
          u[static_cast<size_t>(r)] = a;
        }
        double nv = 0;
        for (int64_t c = 0; c < cols; ++c) {
          double a = 0;
          for (int64_t r = 0; r < rows; ++r) a += W[static_cast<size_t>(r * cols + c)] * u[static_cast<size_t>(r)];
          v[static_cast<size_t>(c)] = a, nv += a * a;
        }
        nv = std::sqrt(nv);
        for (double& x : v) x /= nv;
        top = std::sqrt(nv);
      }
      EXPECT_NEAR(top, 1.0, 1e-3) << name << " (sigma estimate " << sigma << ")";
    }
  EXPECT_EQ(wrapped, 8) << "7 convolutions and the linear layer";
}

TEST(Models, CifarResNetShapesAndCounts) {
  ResNetOptions o;
  auto g = cifar_resnet_generator(o);
  auto d = cifar_resnet_discriminator(o);
  EXPECT_EQ(g->num_parameters(),
            linear(128, 16 * 256) + 3 * gblock(256, 256, 0) + 2 * 256 + conv(256, 3, 3));
  EXPECT_EQ(d->num_parameters(), dblock(3, 128, true, true) + dblock(128, 128, true, false) +
                                     2 * dblock(128, 128, false, false) + linear(128, 1));
  EXPECT_EQ(g->resolution(), 32);
  // Reduced width, forward + backward.
  auto gs = cifar_resnet_generator(o, 1.0 / 32);
  auto ds = cifar_resnet_discriminator(o, 1.0 / 16);
  Generator gen(2);
  gs->reset_all(gen, Init::reference);
  ds->reset_all(gen, Init::reference);
  Var x = (*gs)(Var(testing::random_tensor({3, 128}, DType::f32, 3)));
  EXPECT_EQ(x.shape(), Shape({3, 3, 32, 32}));
  Var l = (*ds)(x);
  EXPECT_EQ(l.shape(), Shape({3, 1}));
  ad::backward(ad::sum(l));
  EXPECT_TRUE(kernels::all_finite(gs->flat_gradients()));
  // Spectral norm in D adds u, v buffers but no parameters.
  o.spectral_norm = true;
  auto dsn = cifar_resnet_discriminator(o, 1.0 / 16);
  EXPECT_EQ(dsn->num_parameters(), ds->num_parameters());
  EXPECT_GT(dsn->named_buffers().size(), 10u);
}

TEST(Models, ImagenetConditionalResNetShapesAndCounts) {
  ResNetOptions o;
  o.num_classes = 1000;
  const int64_t ch = 64;
  auto g = imagenet_resnet_generator(o, ch, 128);
  auto d = imagenet_resnet_discriminator(o, ch, 128);
  EXPECT_EQ(g->num_parameters(), linear(128, 16 * 16 * ch) + gblock(16 * ch, 16 * ch, 1000) +
                                     gblock(16 * ch, 8 * ch, 1000) + gblock(8 * ch, 4 * ch, 1000) +
                                     gblock(4 * ch, 2 * ch, 1000) + gblock(2 * ch, ch, 1000) + 2 * ch + conv(ch, 3, 3));
  EXPECT_EQ(d->num_parameters(), dblock(3, ch, true, true) + dblock(ch, 2 * ch, true, false) +
                                     dblock(2 * ch, 4 * ch, true, false) + dblock(4 * ch, 8 * ch, true, false) +
                                     dblock(8 * ch, 16 * ch, true, false) + dblock(16 * ch, 16 * ch, false, false) +
                                     linear(16 * ch, 1) + 1000 * 16 * ch);
  EXPECT_EQ(g->resolution(), 128);
  // Tiny and 32x32: the conditional forward + backward; labels change the output.
  o.num_classes = 5;
  auto gs = imagenet_resnet_generator(o, 2, 32);
  auto ds = imagenet_resnet_discriminator(o, 2, 32);
  Generator gen(3);
  gs->reset_all(gen, Init::reference);
  ds->reset_all(gen, Init::reference);
  Var z(testing::random_tensor({2, 128}, DType::f32, 4));
  Tensor y = Tensor::from_vector<int32_t>({0, 4}, {2});
  Var x = gs->forward(z, y);
  EXPECT_EQ(x.shape(), Shape({2, 3, 32, 32}));
  Var l = ds->forward(x, y);
  EXPECT_EQ(l.shape(), Shape({2, 1}));
  ad::backward(ad::sum(l));
  EXPECT_TRUE(kernels::all_finite(gs->flat_gradients()));
  Var l2 = ds->forward(x, Tensor::from_vector<int32_t>({1, 2}, {2}));
  EXPECT_NE(l.data().to_vector<float>(), l2.data().to_vector<float>());
  EXPECT_THROW(gs->forward(z, Tensor()), Error);
  EXPECT_THROW(imagenet_resnet_generator(o, 2, 48), Error);
}

TEST(Models, SaveAndLoad) {
  const std::string path = testing::temp_dir() + "/g.safetensors";
  DcganOptions o;
  o.width = 1.0 / 16;
  auto g = dcgan_generator(o);
  Generator gen(5);
  g->reset_all(gen, Init::dcgan);
  g->save(path);
  auto h = dcgan_generator(o);
  h->load(path);
  EXPECT_EQ(h->flat_parameters().to_vector<float>(), g->flat_parameters().to_vector<float>());
  o.width = 1.0 / 8;
  EXPECT_THROW(dcgan_generator(o)->load(path), Error);
}

// Second derivatives through whole networks: on CUDA, the value of l_G, its gradient and
// its second derivatives w.r.t. z and every parameter against the CPU's; then (when
// `finite_differences`) gradgradcheck of l_G w.r.t. every parameter on the device.
void check_pair(std::shared_ptr<Module> g, std::shared_ptr<Module> d, const Shape& z_shape, Device device,
                bool finite_differences = true, Tensor labels = Tensor()) {
  g->to(DType::f64);
  d->to(DType::f64);
  Sequential pair({g, d});  // moves both players together
  std::vector<Var> in{Var(testing::random_tensor(z_shape, DType::f64, 6), true)};
  auto f = [&] {
    Var x = labels.defined() ? std::dynamic_pointer_cast<ResNetGenerator>(g)->forward(in[0], labels.to(in[0].device()))
                             : (*g)(in[0]);
    Var logits = labels.defined() ? std::dynamic_pointer_cast<ResNetDiscriminator>(d)->forward(x, labels.to(x.device()))
                                  : (*d)(x);
    return ad::mean(ad::softplus(ad::neg(logits)));
  };
  if (device.is_cuda()) {
    // Whole networks in float64: the devices differ only in summation order (cuDNN's
    // algorithms, reduction trees), amplified by batch norm's 1/std and by the depth, so
    // the bound is 1e-9 of each tensor's scale rather than the 1e-12 of a single function.
    ad::CompareOptions co;
    co.rtol = 1e-9;
    co.atol = 1e-9;
    ad::GradcheckResult r = testing::compare_module_devices(pair, in, f, device, co);
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_GT(r.checked, 2 * pair.num_parameters());
  } else {
    pair.to(device);
  }
  if (!finite_differences) return;
  std::vector<Var> leaves = g->parameters();
  for (const Var& p : d->parameters()) leaves.push_back(p);
  ad::GradcheckOptions opt;
  opt.kink = 0;
  ad::GradcheckResult r = ad::gradgradcheck_leaves(f, leaves, opt);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 100);
}

class ModelPairs : public testing::DeviceTest {};
ODEGAN_INSTANTIATE_DEVICES(ModelPairs);

TEST_P(ModelPairs, GradgradThroughTheMogPair) {
  auto g = mog_generator(4, 5), d = mog_discriminator(5);
  Generator gen(7);
  g->reset_all(gen, Init::reference);
  d->reset_all(gen, Init::reference);
  check_pair(g, d, {3, 4}, device());
}

TEST_P(ModelPairs, GradgradThroughAReducedDcganPair) {
  DcganOptions o;
  o.latent = 3;
  o.width = 1.0 / 64;
  o.image_size = 8;
  o.image_channels = 1;
  auto g = dcgan_generator(o), d = dcgan_discriminator(o);
  Generator gen(8);
  g->reset_all(gen, Init::reference);
  d->reset_all(gen, Init::reference);
  check_pair(g, d, {2, 3}, device());
}

// CUDA against the CPU only: larger pairs, where finite differences would take minutes.
class ModelPairsCuda : public testing::DeviceTest {};
ODEGAN_INSTANTIATE_CUDA(ModelPairsCuda);

TEST_P(ModelPairsCuda, DcganAt32x32) {
  DcganOptions o;
  o.latent = 16;
  o.width = 1.0 / 32;
  auto g = dcgan_generator(o), d = dcgan_discriminator(o);
  Generator gen(9);
  g->reset_all(gen, Init::dcgan);
  d->reset_all(gen, Init::dcgan);
  check_pair(g, d, {2, 16}, device(), false);
}

TEST_P(ModelPairsCuda, CifarResNetWithAndWithoutSpectralNorm) {
  for (bool sn : {false, true}) {
    SCOPED_TRACE(sn ? "spectral norm" : "plain");
    ResNetOptions o;
    o.spectral_norm = sn;
    std::shared_ptr<Module> g = cifar_resnet_generator(o, 1.0 / 32), d = cifar_resnet_discriminator(o, 1.0 / 16);
    Generator gen(10);
    g->reset_all(gen, Init::reference);
    d->reset_all(gen, Init::reference);
    check_pair(g, d, {2, 128}, device(), false);
  }
}

TEST_P(ModelPairsCuda, ConditionalImagenetResNet) {
  ResNetOptions o;
  o.num_classes = 5;
  std::shared_ptr<Module> g = imagenet_resnet_generator(o, 2, 32), d = imagenet_resnet_discriminator(o, 2, 32);
  Generator gen(11);
  g->reset_all(gen, Init::reference);
  d->reset_all(gen, Init::reference);
  check_pair(g, d, {2, 128}, device(), false, Tensor::from_vector<int32_t>({0, 4}, {2}));
}

TEST_P(ModelPairsCuda, SaveOnTheDeviceLoadOnTheCpuAndBack) {
  const std::string path = testing::temp_dir() + "/g.safetensors";
  ResNetOptions o;
  o.num_classes = 3;
  auto g = imagenet_resnet_generator(o, 2, 32);
  Generator gen(12);
  g->reset_all(gen, Init::reference);
  g->to(device());
  // Batch-norm statistics move off their initial values: buffers travel too.
  g->forward(Var(testing::random_tensor({2, 128}, DType::f32, 1, -1, 1, device())),
             Tensor::from_vector<int32_t>({0, 2}, {2}, device()));
  g->save(path);
  auto h = imagenet_resnet_generator(o, 2, 32);
  h->load(path);
  std::map<std::string, Tensor> a = g->state_dict(), b = h->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (auto& [name, t] : a) {
    EXPECT_TRUE(b.at(name).device().is_cpu());
    EXPECT_EQ(t.to_vector<float>(), b.at(name).to_vector<float>()) << name;
  }
  // Back onto the device, into existing device storage.
  auto k = imagenet_resnet_generator(o, 2, 32);
  k->to(device());
  k->load(path);
  for (auto& [name, t] : k->state_dict()) {
    EXPECT_TRUE(t.is_cuda()) << name;
    EXPECT_EQ(t.to_vector<float>(), a.at(name).to_vector<float>()) << name;
  }
}

}  // namespace
}  // namespace odegan::nn::models
