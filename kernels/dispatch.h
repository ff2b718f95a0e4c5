// Device dispatch for kernel families: one declaration, a CPU and a CUDA implementation.
// An op called on CUDA in a build without CUDA fails with the op's name. Every call is
// a profiling scope named after the op (core/profile.h; free while profiling is off).
#pragma once
#include "core/profile.h"
#include "core/tensor.h"

namespace odegan::kernels::detail {
[[noreturn]] void throw_no_cuda(const char* op);
}  // namespace odegan::kernels::detail

#ifdef ODEGAN_WITH_CUDA
#define ODEGAN_DISPATCH_DEVICE(DEV, OPNAME, CALL)     \
  do {                                                \
    ::odegan::profile::Scope odegan_scope_(OPNAME);   \
    if ((DEV).is_cuda()) {                            \
      cuda::CALL;                                     \
    } else {                                          \
      cpu::CALL;                                      \
    }                                                 \
  } while (0)
#else
#define ODEGAN_DISPATCH_DEVICE(DEV, OPNAME, CALL)           \
  do {                                                      \
    ::odegan::profile::Scope odegan_scope_(OPNAME);         \
    if ((DEV).is_cuda()) {                                  \
      ::odegan::kernels::detail::throw_no_cuda(OPNAME);     \
    } else {                                                \
      cpu::CALL;                                            \
    }                                                       \
  } while (0)
#endif
