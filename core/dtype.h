// Element types a Tensor can hold, and the switch that turns a runtime dtype into a C++ type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace odegan {

enum class DType : uint8_t { f32, f64, i32 };

inline size_t dtype_size(DType t) { return t == DType::f64 ? 8 : 4; }
inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
const char* dtype_name(DType t);  // "float32", "float64", "int32"

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };

}  // namespace odegan

namespace odegan::detail {
[[noreturn]] void throw_unsupported_dtype(const char* op, DType t, const char* file, int line);
}

namespace odegan {
// Calls f(T{}) with T = float or double according to `dt`; any other dtype throws,
// naming the op. Inside f: `using scalar_t = decltype(tag);`.
template <class F>
decltype(auto) visit_float(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    default: break;
  }
  detail::throw_unsupported_dtype(op, dt, __FILE__, __LINE__);
}
}  // namespace odegan
