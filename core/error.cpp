#include "core/error.h"

#include "core/dtype.h"

namespace odegan::detail {

void throw_error(const std::string& msg, const char* file, int line) {
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') base = p + 1;
  throw Error(msg + " (" + base + ":" + std::to_string(line) + ")");
}

void throw_unsupported_dtype(const char* op, DType t, const char* file, int line) {
  throw_error(std::string(op) + ": unsupported dtype " + dtype_name(t), file, line);
}

}  // namespace odegan::detail

namespace odegan {
const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
  }
  return "?";
}
}  // namespace odegan
