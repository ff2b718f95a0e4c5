// The host-side rules of the cuDNN convolutions (kernels/cuda/conv.cpp), kept free of
// cuDNN so the CPU tests check them: int narrowing of shapes for 4-d descriptors, and
// which algorithm and math type may run under the deterministic and TF32 settings.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"

namespace odegan::kernels {

// The four dims of a 4-d shape as int, as cuDNN's 4-d descriptors take them; throws,
// naming `op`, `what` and the shape, when a dim or a packed stride (C*H*W, H*W) does not
// fit an int.
std::array<int, 4> cudnn_dims(const Shape& s, const char* op, const char* what);

// cuDNN's cudnnMathType_t, mirrored.
enum class ConvMath { default_math, tensor_op, tensor_op_allow_conversion, fma };

// The math type to run a candidate with, given the math cuDNN reported for it, or none
// when it may not run. float32 without TF32 permission runs with FMA math only
// (DEFAULT_MATH may pick TF32 kernels on Ampere and newer): FMA candidates run as they
// are, DEFAULT ones are forced to FMA (their workspace re-queried), tensor-op ones are
// refused. float64 has no tensor-op kernels: any math is fine.
std::optional<ConvMath> conv_run_math(ConvMath reported, DType t, bool allow_tf32);

// One algorithm as cuDNN lists it (benchmark results, or heuristics in ranked order).
struct ConvCandidate {
  int algo = 0;
  bool ok = true;  // status == success
  bool deterministic = false;
  ConvMath math = ConvMath::fma;
};

// The candidates that may run, in cuDNN's order, with the math type each runs with:
// failed ones dropped, non-deterministic ones in deterministic mode, and by the math
// rule above. The caller takes the first whose workspace fits.
std::vector<std::pair<ConvCandidate, ConvMath>> conv_usable(const std::vector<ConvCandidate>& listed, DType t,
                                                            bool deterministic, bool allow_tf32);

}  // namespace odegan::kernels
