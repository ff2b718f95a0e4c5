// The graph nodes of every differentiable function: what each saves for its backward.
// Their derivative rules (apply) are all in autodiff/derivatives.cpp. Internal to autodiff/.
#pragma once
#include <vector>

#include "autodiff/node.h"
#include "kernels/conv.h"
#include "kernels/pool.h"

namespace odegan::ad {

#define ODEGAN_NODE(NAME)                                      \
  struct NAME final : Node {                                   \
    const char* name() const override { return #NAME; }        \
    std::vector<Var> apply(std::vector<Var>&& grads) override;

#define ODEGAN_RELEASE(...)                          \
  void release_saved() override {                    \
    for (SavedVar* s : {__VA_ARGS__}) s->release();  \
  }

// ---- elementwise
ODEGAN_NODE(AddBackward)
  Shape a_shape, b_shape;
};
ODEGAN_NODE(SubBackward)
  Shape a_shape, b_shape;
};
ODEGAN_NODE(MulBackward)
  SavedVar a, b;
  ODEGAN_RELEASE(&a, &b)
};
ODEGAN_NODE(DivBackward)
  SavedVar a, b;
  ODEGAN_RELEASE(&a, &b)
};
ODEGAN_NODE(AffineBackward)  // a * x + b
  double a = 1;
};
ODEGAN_NODE(NegBackward)
};
ODEGAN_NODE(ExpBackward)
  SavedVar y;
  ODEGAN_RELEASE(&y)
};
ODEGAN_NODE(LogBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(SqrtBackward)
  SavedVar y;
  ODEGAN_RELEASE(&y)
};
ODEGAN_NODE(RsqrtBackward)
  SavedVar y;
  ODEGAN_RELEASE(&y)
};
ODEGAN_NODE(SquareBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(AbsBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(PowBackward)
  SavedVar x;
  double p = 1;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(ReluBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(LeakyReluBackward)
  SavedVar x;
  double slope = 0;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(TanhBackward)
  SavedVar y;
  ODEGAN_RELEASE(&y)
};
ODEGAN_NODE(SigmoidBackward)
  SavedVar y;
  ODEGAN_RELEASE(&y)
};
ODEGAN_NODE(SoftplusBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(SiluBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
// The nodes of the fused activation backwards (inputs: grad, x or y).
ODEGAN_NODE(ReluBackwardBackward)
  SavedVar x;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(LeakyReluBackwardBackward)
  SavedVar x;
  double slope = 0;
  ODEGAN_RELEASE(&x)
};
ODEGAN_NODE(TanhBackwardBackward)
  SavedVar grad, y;
  ODEGAN_RELEASE(&grad, &y)
};
ODEGAN_NODE(SigmoidBackwardBackward)
  SavedVar grad, y;
  ODEGAN_RELEASE(&grad, &y)
};
ODEGAN_NODE(SiluBackwardBackward)  // inputs: grad, x
  SavedVar grad, x;
  ODEGAN_RELEASE(&grad, &x)
};

// ---- reductions and shape
ODEGAN_NODE(SumBackward)
  Shape in_shape, keep_shape;  // keep_shape: the result with reduced axes kept as 1
  double scale = 1;            // 1 for sum, 1 / count for mean
};
ODEGAN_NODE(BroadcastToBackward)
  Shape in_shape;
};
ODEGAN_NODE(SumToBackward)
  Shape in_shape;
};
ODEGAN_NODE(ReshapeBackward)
  Shape in_shape;
};
ODEGAN_NODE(ConcatBackward)
  int axis = 0;
  std::vector<int64_t> sizes;
};
ODEGAN_NODE(SliceBackward)
  Shape in_shape;
  int axis = 0;
  int64_t begin = 0, end = 0;
};
ODEGAN_NODE(SliceBackwardBackward)
  int axis = 0;
  int64_t begin = 0, end = 0;
};
ODEGAN_NODE(TransposeBackward)
};

// ---- linear algebra and convolution
ODEGAN_NODE(MatmulBackward)
  SavedVar a, b;
  bool trans_a = false, trans_b = false;
  ODEGAN_RELEASE(&a, &b)
};
ODEGAN_NODE(ConvBackward)
  SavedVar x, w;
  kernels::Conv2dGeometry geom;
  ODEGAN_RELEASE(&x, &w)
};
ODEGAN_NODE(ConvBackwardDataBackward)  // inputs: gy, w
  SavedVar gy, w;
  kernels::Conv2dGeometry geom;
  ODEGAN_RELEASE(&gy, &w)
};
ODEGAN_NODE(ConvBackwardFilterBackward)  // inputs: x, gy
  SavedVar x, gy;
  Shape w_shape;
  kernels::Conv2dGeometry geom;
  ODEGAN_RELEASE(&x, &gy)
};

// ---- normalisation
ODEGAN_NODE(BatchNormBackward)  // inputs: x, gamma, beta
  SavedVar x, gamma;
  Tensor mean, invstd;
  double eps = 0;
  void release_saved() override {
    x.release();
    gamma.release();
    mean = invstd = Tensor();
  }
};
ODEGAN_NODE(BatchNormBackwardBackward)  // inputs: gy, x, gamma
  SavedVar gy, x, gamma;
  double eps = 0;
  ODEGAN_RELEASE(&gy, &x, &gamma)
};

// ---- pooling, resampling, embeddings
ODEGAN_NODE(AvgPoolBackward)
  Shape x_shape;
  kernels::Pool2dGeometry geom;
};
ODEGAN_NODE(AvgPoolBackwardBackward)
  kernels::Pool2dGeometry geom;
};
ODEGAN_NODE(MaxPoolBackward)
  Tensor indices;
  Shape x_shape;
  kernels::Pool2dGeometry geom;
};
ODEGAN_NODE(MaxPoolBackwardBackward)
  Tensor indices;
  Shape y_shape;
  kernels::Pool2dGeometry geom;
};
ODEGAN_NODE(MaxPoolGatherBackward)
  Tensor indices;
  Shape x_shape;
  kernels::Pool2dGeometry geom;
};
ODEGAN_NODE(UpsampleBackward)
};
ODEGAN_NODE(UpsampleBackwardBackward)
};
ODEGAN_NODE(ResizeBilinearBackward)
  Shape x_shape;
};
ODEGAN_NODE(ResizeBilinearBackwardBackward)
  int64_t out_h = 0, out_w = 0;
};
ODEGAN_NODE(EmbeddingBackward)
  Tensor indices;
  int64_t num_rows = 0;
};
ODEGAN_NODE(EmbeddingBackwardBackward)
  Tensor indices;
};

#undef ODEGAN_NODE
#undef ODEGAN_RELEASE

}  // namespace odegan::ad
