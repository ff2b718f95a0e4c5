#include "kernels/optim.h"

#include "kernels/cpu/optim.h"
#include "kernels/dispatch.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace odegan::kernels {

void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, Tensor& dir, double lr,
                 const AdamParams& p) {
  check_compatible(grad, m, "adam_update");
  check_compatible(grad, v, "adam_update");
  ODEGAN_CHECK(grad.numel() == m.numel() && grad.numel() == v.numel(), "adam_update: gradient ", describe(grad),
               " and moments ", describe(m), " / ", describe(v), " differ in size");
  for (const Tensor* t : {&param, &dir}) {
    if (!t->defined()) continue;
    check_compatible(grad, *t, "adam_update");
    ODEGAN_CHECK(t->numel() == grad.numel(), "adam_update: ", describe(*t), " and gradient ", describe(grad),
                 " differ in size");
  }
  ODEGAN_CHECK(p.step >= 1, "adam_update: step must be >= 1, got ", p.step);
  ODEGAN_DISPATCH_DEVICE(grad.device(), "adam_update", adam_update(param, grad, m, v, dir, lr, p));
}

}  // namespace odegan::kernels
