#include "kernels/config.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace odegan::kernels {
namespace {
bool env_flag(const char* name) {
  const char* e = std::getenv(name);
  return e && e[0] != '\0' && std::strcmp(e, "0") != 0;
}
std::atomic<bool>& deterministic_flag() {
  static std::atomic<bool> f{env_flag("ODEGAN_DETERMINISTIC")};
  return f;
}
std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> f{env_flag("ODEGAN_ALLOW_TF32")};
  return f;
}
}  // namespace

void set_deterministic(bool on) { deterministic_flag().store(on); }
bool deterministic() { return deterministic_flag().load(); }
void set_allow_tf32(bool on) { tf32_flag().store(on); }
bool allow_tf32() { return tf32_flag().load(); }

}  // namespace odegan::kernels
