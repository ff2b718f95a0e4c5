// The graph nodes of every differentiable function: what each saves for its backward.
// Their derivative rules (apply) are all in autodiff/derivatives.cpp. Internal to autodiff/.
#pragma once
#include <vector>

#include "autodiff/node.h"
#include "kernels/conv.h"
#include "kernels/pool.h"

namespace odegan::ad {

// Each node also lists its name in node_type_names() (the "every function has a gradcheck
// row" test walks that list, so a new node here is checked without further registration).
#define ODEGAN_NODE(NAME)                                                  \
  struct NAME final : Node {                                               \
    const char* name() const override { return #NAME; }                    \
    static inline const bool listed_ = detail::list_node_type(#NAME);      \
    std::vector<Var> apply(std::vector<Var>&& grads) override;

// The Vars a node saves for its rule, declared and released (release_saved) in one place:
//   ODEGAN_SAVED(x, w)   declares SavedVar x, w; and frees both when the graph is released.
// Plain fields (shapes, geometry, constants) are declared as usual after it.
#define ODEGAN_SAVED(...)    \
  SavedVar __VA_ARGS__;      \
  void release_saved() override { detail::release_saved_vars(__VA_ARGS__); }

// ---- elementwise
ODEGAN_NODE(AddBackward)
  Shape a_shape, b_shape;
};
ODEGAN_NODE(SubBackward)
  Shape a_shape, b_shape;
};
ODEGAN_NODE(MulBackward)
  ODEGAN_SAVED(a, b)
};
ODEGAN_NODE(DivBackward)
  ODEGAN_SAVED(a, b)
};
ODEGAN_NODE(AffineBackward)  // a * x + b
  double a = 1;
};
ODEGAN_NODE(NegBackward)
};
ODEGAN_NODE(ExpBackward)
  ODEGAN_SAVED(y)
};
ODEGAN_NODE(LogBackward)
  ODEGAN_SAVED(x)
};
ODEGAN_NODE(SqrtBackward)
  ODEGAN_SAVED(y)
};
ODEGAN_NODE(RsqrtBackward)
  ODEGAN_SAVED(y)
};
ODEGAN_NODE(SquareBackward)
  ODEGAN_SAVED(x)
};
ODEGAN_NODE(AbsBackward)
  ODEGAN_SAVED(x)
};
ODEGAN_NODE(PowBackward)
  ODEGAN_SAVED(x)
  double p = 1;
};
ODEGAN_NODE(ReluBackward)
  ODEGAN_SAVED(x)
};
ODEGAN_NODE(LeakyReluBackward)
  ODEGAN_SAVED(x)
  double slope = 0;
};
ODEGAN_NODE(TanhBackward)
  ODEGAN_SAVED(y)
};
ODEGAN_NODE(SigmoidBackward)
  ODEGAN_SAVED(y)
};
ODEGAN_NODE(SoftplusBackward)
  ODEGAN_SAVED(x)
};
ODEGAN_NODE(SiluBackward)
  ODEGAN_SAVED(x)
};
// The nodes of the fused activation backwards (inputs: grad, x or y).
ODEGAN_NODE(ReluBackwardBackward)
  ODEGAN_SAVED(x)
};
ODEGAN_NODE(LeakyReluBackwardBackward)
  ODEGAN_SAVED(x)
  double slope = 0;
};
ODEGAN_NODE(TanhBackwardBackward)
  ODEGAN_SAVED(grad, y)
};
ODEGAN_NODE(SigmoidBackwardBackward)
  ODEGAN_SAVED(grad, y)
};
ODEGAN_NODE(SiluBackwardBackward)  // inputs: grad, x
  ODEGAN_SAVED(grad, x)
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
  ODEGAN_SAVED(a, b)
  bool trans_a = false, trans_b = false;
};
ODEGAN_NODE(ConvBackward)
  ODEGAN_SAVED(x, w)
  kernels::Conv2dGeometry geom;
};
ODEGAN_NODE(ConvBackwardDataBackward)  // inputs: gy, w
  ODEGAN_SAVED(gy, w)
  kernels::Conv2dGeometry geom;
};
ODEGAN_NODE(ConvBackwardFilterBackward)  // inputs: x, gy
  ODEGAN_SAVED(x, gy)
  Shape w_shape;
  kernels::Conv2dGeometry geom;
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
  ODEGAN_SAVED(gy, x, gamma)
  double eps = 0;
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

// ---- collectives
ODEGAN_NODE(AllReduceSumBackward)
  std::shared_ptr<Communicator> comm;
};

#undef ODEGAN_NODE
#undef ODEGAN_SAVED

}  // namespace odegan::ad
