#include "layers/models/inception.h"

#include <cmath>

namespace odegan::nn::models {

using namespace odegan::ad;

namespace {

using kernels::Pool2dGeometry;

// conv (no bias) -> batch norm (eps 1e-3, running statistics in eval mode) -> ReLU.
class BasicConv2d : public Module {
 public:
  BasicConv2d(int64_t in, int64_t out, int kh, int kw, int stride, int pad_h, int pad_w, DType dtype) {
    conv = register_module("conv", std::make_shared<Conv2d>(in, out, kh, kw, stride, pad_h, pad_w, false, dtype));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(out, 1e-3, 0.1, true, dtype));
  }
  std::string type_name() const override { return "BasicConv2d"; }
  Var forward(const Var& x) override { return relu((*bn)((*conv)(x))); }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

using Conv = std::shared_ptr<BasicConv2d>;

// A mixed block: parallel branches of BasicConv2d concatenated over channels.
class Block : public Module {
 protected:
  explicit Block(DType dtype) : dtype_(dtype) {}
  // Square kernel k with stride and padding.
  Conv conv(const std::string& name, int64_t in, int64_t out, int k, int stride = 1, int pad = 0) {
    return register_module(name, std::make_shared<BasicConv2d>(in, out, k, k, stride, pad, pad, dtype_));
  }
  // Rectangular kernel kh x kw, stride 1, padding (pad_h, pad_w).
  Conv conv_rect(const std::string& name, int64_t in, int64_t out, int kh, int kw, int pad_h, int pad_w) {
    return register_module(name, std::make_shared<BasicConv2d>(in, out, kh, kw, 1, pad_h, pad_w, dtype_));
  }
  static Var call(const Conv& c, const Var& x) { return (*c)(x); }

 private:
  DType dtype_;
};

// TensorFlow's average pool ignores the padded zeros (count_include_pad = False).
const Pool2dGeometry kPool3x3s1 = Pool2dGeometry::make(3, 1, 1);
const Pool2dGeometry kPool3x3s2 = Pool2dGeometry::make(3, 2, 0);

// FIDInceptionA: 64 + 64 + 96 + pool_features channels.
class InceptionA : public Block {
 public:
  InceptionA(int64_t in, int64_t pool_features, DType dtype) : Block(dtype) {
    b1 = conv("branch1x1", in, 64, 1);
    b5_1 = conv("branch5x5_1", in, 48, 1);
    b5_2 = conv("branch5x5_2", 48, 64, 5, 1, 2);
    b3_1 = conv("branch3x3dbl_1", in, 64, 1);
    b3_2 = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    b3_3 = conv("branch3x3dbl_3", 96, 96, 3, 1, 1);
    bp = conv("branch_pool", in, pool_features, 1);
  }
  std::string type_name() const override { return "InceptionA"; }
  Var forward(const Var& x) override {
    return concat({call(b1, x), call(b5_2, call(b5_1, x)), call(b3_3, call(b3_2, call(b3_1, x))),
                   call(bp, avg_pool2d(x, kPool3x3s1))},
                  1);
  }
  Conv b1, b5_1, b5_2, b3_1, b3_2, b3_3, bp;
};

// InceptionB (grid reduction 35 -> 17): 384 + 96 + in channels.
class InceptionB : public Block {
 public:
  InceptionB(int64_t in, DType dtype) : Block(dtype) {
    b3 = conv("branch3x3", in, 384, 3, 2);
    bd_1 = conv("branch3x3dbl_1", in, 64, 1);
    bd_2 = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    bd_3 = conv("branch3x3dbl_3", 96, 96, 3, 2);
  }
  std::string type_name() const override { return "InceptionB"; }
  Var forward(const Var& x) override {
    return concat({call(b3, x), call(bd_3, call(bd_2, call(bd_1, x))), max_pool2d(x, kPool3x3s2)}, 1);
  }
  Conv b3, bd_1, bd_2, bd_3;
};

// FIDInceptionC (factorised 7x7): 4 x 192 channels.
class InceptionC : public Block {
 public:
  InceptionC(int64_t in, int64_t c7, DType dtype) : Block(dtype) {
    b1 = conv("branch1x1", in, 192, 1);
    b7_1 = conv("branch7x7_1", in, c7, 1);
    b7_2 = conv_rect("branch7x7_2", c7, c7, 1, 7, 0, 3);
    b7_3 = conv_rect("branch7x7_3", c7, 192, 7, 1, 3, 0);
    bd_1 = conv("branch7x7dbl_1", in, c7, 1);
    bd_2 = conv_rect("branch7x7dbl_2", c7, c7, 7, 1, 3, 0);
    bd_3 = conv_rect("branch7x7dbl_3", c7, c7, 1, 7, 0, 3);
    bd_4 = conv_rect("branch7x7dbl_4", c7, c7, 7, 1, 3, 0);
    bd_5 = conv_rect("branch7x7dbl_5", c7, 192, 1, 7, 0, 3);
    bp = conv("branch_pool", in, 192, 1);
  }
  std::string type_name() const override { return "InceptionC"; }
  Var forward(const Var& x) override {
    Var dbl = call(bd_5, call(bd_4, call(bd_3, call(bd_2, call(bd_1, x)))));
    return concat({call(b1, x), call(b7_3, call(b7_2, call(b7_1, x))), dbl, call(bp, avg_pool2d(x, kPool3x3s1))},
                  1);
  }
  Conv b1, b7_1, b7_2, b7_3, bd_1, bd_2, bd_3, bd_4, bd_5, bp;
};

// InceptionD (grid reduction 17 -> 8): 320 + 192 + in channels.
class InceptionD : public Block {
 public:
  InceptionD(int64_t in, DType dtype) : Block(dtype) {
    b3_1 = conv("branch3x3_1", in, 192, 1);
    b3_2 = conv("branch3x3_2", 192, 320, 3, 2);
    b7_1 = conv("branch7x7x3_1", in, 192, 1);
    b7_2 = conv_rect("branch7x7x3_2", 192, 192, 1, 7, 0, 3);
    b7_3 = conv_rect("branch7x7x3_3", 192, 192, 7, 1, 3, 0);
    b7_4 = conv("branch7x7x3_4", 192, 192, 3, 2);
  }
  std::string type_name() const override { return "InceptionD"; }
  Var forward(const Var& x) override {
    return concat({call(b3_2, call(b3_1, x)), call(b7_4, call(b7_3, call(b7_2, call(b7_1, x)))),
                   max_pool2d(x, kPool3x3s2)},
                  1);
  }
  Conv b3_1, b3_2, b7_1, b7_2, b7_3, b7_4;
};

// FIDInceptionE_1 (average pool) and FIDInceptionE_2 (3x3 max pool, stride 1, padding 1:
// the TensorFlow graph's quirk): 320 + 768 + 768 + 192 = 2048 channels.
class InceptionE : public Block {
 public:
  InceptionE(int64_t in, bool max_pool, DType dtype) : Block(dtype), max_pool_(max_pool) {
    b1 = conv("branch1x1", in, 320, 1);
    b3_1 = conv("branch3x3_1", in, 384, 1);
    b3_2a = conv_rect("branch3x3_2a", 384, 384, 1, 3, 0, 1);
    b3_2b = conv_rect("branch3x3_2b", 384, 384, 3, 1, 1, 0);
    bd_1 = conv("branch3x3dbl_1", in, 448, 1);
    bd_2 = conv("branch3x3dbl_2", 448, 384, 3, 1, 1);
    bd_3a = conv_rect("branch3x3dbl_3a", 384, 384, 1, 3, 0, 1);
    bd_3b = conv_rect("branch3x3dbl_3b", 384, 384, 3, 1, 1, 0);
    bp = conv("branch_pool", in, 192, 1);
  }
  std::string type_name() const override { return max_pool_ ? "InceptionE_2" : "InceptionE_1"; }
  Var forward(const Var& x) override {
    Var b3 = call(b3_1, x), bd = call(bd_2, call(bd_1, x));
    Var pooled = max_pool_ ? max_pool2d(x, kPool3x3s1) : avg_pool2d(x, kPool3x3s1);
    return concat({call(b1, x), call(b3_2a, b3), call(b3_2b, b3), call(bd_3a, bd), call(bd_3b, bd), call(bp, pooled)},
                  1);
  }
  Conv b1, b3_1, b3_2a, b3_2b, bd_1, bd_2, bd_3a, bd_3b, bp;

 private:
  bool max_pool_;
};

}  // namespace

InceptionV3::InceptionV3(DType dtype) {
  auto stem = [&](const char* name, int64_t in, int64_t out, int k, int stride, int pad) {
    return register_module(name, std::make_shared<BasicConv2d>(in, out, k, k, stride, pad, pad, dtype));
  };
  conv_1a_ = stem("Conv2d_1a_3x3", 3, 32, 3, 2, 0);
  conv_2a_ = stem("Conv2d_2a_3x3", 32, 32, 3, 1, 0);
  conv_2b_ = stem("Conv2d_2b_3x3", 32, 64, 3, 1, 1);
  conv_3b_ = stem("Conv2d_3b_1x1", 64, 80, 1, 1, 0);
  conv_4a_ = stem("Conv2d_4a_3x3", 80, 192, 3, 1, 0);
  int i = 0;
  mixed_[i++] = register_module("Mixed_5b", std::make_shared<InceptionA>(192, 32, dtype));
  mixed_[i++] = register_module("Mixed_5c", std::make_shared<InceptionA>(256, 64, dtype));
  mixed_[i++] = register_module("Mixed_5d", std::make_shared<InceptionA>(288, 64, dtype));
  mixed_[i++] = register_module("Mixed_6a", std::make_shared<InceptionB>(288, dtype));
  mixed_[i++] = register_module("Mixed_6b", std::make_shared<InceptionC>(768, 128, dtype));
  mixed_[i++] = register_module("Mixed_6c", std::make_shared<InceptionC>(768, 160, dtype));
  mixed_[i++] = register_module("Mixed_6d", std::make_shared<InceptionC>(768, 160, dtype));
  mixed_[i++] = register_module("Mixed_6e", std::make_shared<InceptionC>(768, 192, dtype));
  mixed_[i++] = register_module("Mixed_7a", std::make_shared<InceptionD>(768, dtype));
  mixed_[i++] = register_module("Mixed_7b", std::make_shared<InceptionE>(1280, false, dtype));
  mixed_[i++] = register_module("Mixed_7c", std::make_shared<InceptionE>(2048, true, dtype));
  fc_ = register_module("fc", std::make_shared<Linear>(kFeatures, kClasses, true, dtype));
  eval();
}

Var InceptionV3::forward(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 4 && x.shape()[1] == 3 && x.shape()[2] >= 75 && x.shape()[3] >= 75,
               "InceptionV3: input must be (N, 3, H, W) with H, W >= 75, got ", x.shape().str());
  Var h = (*conv_2b_)((*conv_2a_)((*conv_1a_)(x)));
  h = max_pool2d(h, kPool3x3s2);
  h = (*conv_4a_)((*conv_3b_)(h));
  h = max_pool2d(h, kPool3x3s2);
  for (auto& m : mixed_) h = (*m)(h);
  return mean(h, {2, 3});
}

Var InceptionV3::logits(const Var& pool3) { return (*fc_)(pool3); }

InceptionV3::Outputs InceptionV3::run(const Tensor& images) {
  ODEGAN_CHECK(images.defined() && images.ndim() == 4 && (images.shape()[1] == 1 || images.shape()[1] == 3) &&
                   images.shape()[2] > 0 && images.shape()[3] > 0 && is_floating(images.dtype()),
               "InceptionV3: images must be float (N, 1 or 3, H, W) with values in [0, 1], got ", describe(images));
  if (is_training()) eval();
  NoGradGuard no_grad;
  Var x(images.to(device()).to(dtype()));
  if (x.shape()[2] != kSize || x.shape()[3] != kSize) x = resize_bilinear(x, kSize, kSize);
  x = affine(x, 2.0, -1.0);  // [0, 1] -> [-1, 1]
  if (x.shape()[1] == 1) x = concat({x, x, x}, 1);
  Var pool3 = forward(x);
  return {pool3.data(), logits(pool3).data()};
}

std::shared_ptr<InceptionV3> load_inception(const std::string& path, DType dtype, Device device) {
  auto net = std::make_shared<InceptionV3>(DType::f32);
  try {
    net->load(path);
  } catch (const Error& e) {
    ODEGAN_FAIL(e.what(),
                "\n(Inception weights come from pytorch-fid's pt_inception-2015-12-05-6726825d.pth converted by "
                "scripts/convert_inception.py)");
  }
  net->to(dtype);
  net->to(device);
  net->eval();
  return net;
}

void randomize_inception(InceptionV3& net, uint64_t seed) {
  Generator gen(seed);
  auto ends_with = [](const std::string& s, const char* suffix) {
    const std::string t(suffix);
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  for (auto& [name, p] : net.named_parameters()) {
    Tensor t = p.data();
    if (ends_with(name, ".conv.weight")) {
      const int64_t fan_in = t.numel() / t.shape()[0];
      fill_normal(t, gen, 0.0, std::sqrt(2.0 / double(fan_in)));
    } else if (ends_with(name, ".bn.weight")) {
      fill_uniform(t, gen, 0.8, 1.2);
    } else if (ends_with(name, ".bn.bias") || name == "fc.bias") {
      fill_uniform(t, gen, -0.1, 0.1);
    } else if (name == "fc.weight") {
      fill_normal(t, gen, 0.0, 1.0 / std::sqrt(double(InceptionV3::kFeatures)));
    } else {
      ODEGAN_FAIL("randomize_inception: no rule for parameter '", name, "'");
    }
  }
  for (auto& [name, b] : net.named_buffers()) {
    if (ends_with(name, ".running_mean")) {
      fill_uniform(*b, gen, -0.1, 0.1);
    } else if (ends_with(name, ".running_var")) {
      fill_uniform(*b, gen, 0.5, 1.5);
    } else {
      ODEGAN_FAIL("randomize_inception: no rule for buffer '", name, "'");
    }
  }
}

}  // namespace odegan::nn::models
