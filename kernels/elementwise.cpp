#include "kernels/elementwise.h"

#include "kernels/broadcast.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/dispatch.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace odegan::kernels {

namespace {
// Names and formulas from the op lists, indexed by the enums' values (0, 1, ... in list order).
#define ODEGAN_OP_NAME(name, formula) #name,
#define ODEGAN_OP_FORMULA(name, formula) formula,
constexpr const char* kUnaryNames[] = {ODEGAN_UNARY_OPS(ODEGAN_OP_NAME)};
constexpr const char* kUnaryFormulas[] = {ODEGAN_UNARY_OPS(ODEGAN_OP_FORMULA)};
constexpr const char* kBinaryNames[] = {ODEGAN_BINARY_OPS(ODEGAN_OP_NAME)};
constexpr const char* kBinaryFormulas[] = {ODEGAN_BINARY_OPS(ODEGAN_OP_FORMULA)};
#undef ODEGAN_OP_NAME
#undef ODEGAN_OP_FORMULA
static_assert(sizeof kUnaryNames / sizeof *kUnaryNames == kNumUnary, "one name per unary op");
static_assert(sizeof kBinaryNames / sizeof *kBinaryNames == kNumBinary, "one name per binary op");

template <size_t N>
const char* entry(const char* const (&table)[N], int i) {
  return i >= 0 && static_cast<size_t>(i) < N ? table[i] : "?";
}
}  // namespace

const char* unary_name(Unary op) { return entry(kUnaryNames, static_cast<int>(op)); }
const char* unary_formula(Unary op) { return entry(kUnaryFormulas, static_cast<int>(op)); }
const char* binary_name(Binary op) { return entry(kBinaryNames, static_cast<int>(op)); }
const char* binary_formula(Binary op) { return entry(kBinaryFormulas, static_cast<int>(op)); }

void unary(Unary op, const Tensor& x, Tensor& out, double a, double b) {
  const char* name = unary_name(op);
  check_compatible(x, out, name);
  check_same_shape(x, out, name);
  ODEGAN_CHECK(is_floating(x.dtype()), name, ": needs a float tensor, got ", describe(x));
  ODEGAN_DISPATCH_DEVICE(x.device(), name, unary(op, x, out, a, b));
}

Tensor unary(Unary op, const Tensor& x, double a, double b) {
  check_defined(x, unary_name(op), "input");
  Tensor out = Tensor::empty_like(x);
  unary(op, x, out, a, b);
  return out;
}

void binary(Binary op, const Tensor& x, const Tensor& y, Tensor& out, double a) {
  const char* name = binary_name(op);
  check_compatible(x, y, name);
  check_compatible(x, out, name);
  ODEGAN_CHECK(is_floating(x.dtype()), name, ": needs float tensors, got ", describe(x));
  Shape s = broadcast_shapes(x.shape(), y.shape());
  ODEGAN_CHECK(out.shape() == s, name, ": output shape ", out.shape().str(), " but inputs ", x.shape().str(),
               " and ", y.shape().str(), " broadcast to ", s.str());
  BroadcastPlan plan = make_broadcast_plan(x.shape(), y.shape(), s);
  ODEGAN_DISPATCH_DEVICE(x.device(), name, binary(op, x, y, out, a, plan));
}

Tensor binary(Binary op, const Tensor& x, const Tensor& y, double a) {
  check_compatible(x, y, binary_name(op));
  Tensor out = Tensor::empty(broadcast_shapes(x.shape(), y.shape()), x.dtype(), x.device());
  binary(op, x, y, out, a);
  return out;
}

void axpby(double a, const Tensor& x, double b, Tensor& y) { lincomb(y, b, y, {{a, x}}); }

void lincomb(Tensor& out, double c0, const Tensor& x0, const std::vector<std::pair<double, Tensor>>& terms) {
  check_compatible(out, x0, "lincomb");
  ODEGAN_CHECK(is_floating(out.dtype()), "lincomb: needs float tensors, got ", describe(out));
  ODEGAN_CHECK(out.numel() == x0.numel(), "lincomb: output ", describe(out), " and x0 ", describe(x0),
               " differ in size");
  for (const auto& [c, k] : terms) {
    check_compatible(out, k, "lincomb");
    ODEGAN_CHECK(k.numel() == out.numel(), "lincomb: term ", describe(k), " and output ", describe(out),
                 " differ in size");
  }
  // Up to four terms per pass; later passes fold the running result in as x0.
  constexpr size_t kPerPass = 4;
  // A pass reads each input element just before writing the same element of `out`, so
  // an input that is exactly `out` is safe; one that overlaps it at another offset is
  // not, nor is `out` as a term of a later pass (the first pass has overwritten it).
  // Those go through a temporary.
  bool via_temporary = x0.overlaps(out) && !x0.same_memory(out);
  for (size_t i = 0; i < terms.size(); ++i) {
    const Tensor& k = terms[i].second;
    if (k.overlaps(out) && (i >= kPerPass || !k.same_memory(out))) via_temporary = true;
  }
  if (via_temporary) {
    Tensor tmp = Tensor::empty_like(out);
    lincomb(tmp, c0, x0, terms);
    out.copy_(tmp);
    return;
  }
  size_t done = 0;
  double c = c0;
  Tensor base = x0;
  do {
    size_t n = std::min(kPerPass, terms.size() - done);
    std::vector<std::pair<double, Tensor>> chunk(terms.begin() + done, terms.begin() + done + n);
    ODEGAN_DISPATCH_DEVICE(out.device(), "lincomb", lincomb(out, c, base, chunk));
    done += n;
    c = 1.0;
    base = out;
  } while (done < terms.size());
}

}  // namespace odegan::kernels
