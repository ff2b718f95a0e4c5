#include "kernels/config.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace odegan::kernels {
namespace {
std::atomic<bool>& flag() {
  static std::atomic<bool> f{[] {
    const char* e = std::getenv("ODEGAN_DETERMINISTIC");
    return e && std::strcmp(e, "0") != 0 && e[0] != '\0';
  }()};
  return f;
}
}  // namespace

void set_deterministic(bool on) { flag().store(on); }
bool deterministic() { return flag().load(); }

}  // namespace odegan::kernels
