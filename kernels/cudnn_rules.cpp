#include "kernels/cudnn_rules.h"

#include <climits>

#include "core/error.h"

namespace odegan::kernels {

std::array<int, 4> cudnn_dims(const Shape& s, const char* op, const char* what) {
  ODEGAN_CHECK(s.ndim() == 4, op, ": ", what, " must be 4-d for cuDNN, got ", s.str());
  std::array<int, 4> d{};
  int64_t stride = 1;
  for (int i = 3; i >= 0; --i) {
    ODEGAN_CHECK(s[i] >= 0 && s[i] <= INT_MAX && stride <= INT_MAX, op, ": ", what, " ", s.str(),
                 " is too large for cuDNN (its dims and strides must fit a 32-bit int)");
    d[static_cast<size_t>(i)] = static_cast<int>(s[i]);
    stride *= s[i];
  }
  return d;
}

std::optional<ConvMath> conv_run_math(ConvMath reported, DType t, bool allow_tf32) {
  if (t != DType::f32 || allow_tf32) return reported;
  if (reported == ConvMath::fma || reported == ConvMath::default_math) return ConvMath::fma;
  return std::nullopt;
}

std::vector<std::pair<ConvCandidate, ConvMath>> conv_usable(const std::vector<ConvCandidate>& listed, DType t,
                                                            bool deterministic, bool allow_tf32) {
  std::vector<std::pair<ConvCandidate, ConvMath>> out;
  for (const ConvCandidate& c : listed) {
    if (!c.ok || (deterministic && !c.deterministic)) continue;
    if (auto m = conv_run_math(c.math, t, allow_tf32)) out.emplace_back(c, *m);
  }
  return out;
}

}  // namespace odegan::kernels
