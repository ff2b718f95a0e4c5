#include "apps/common/training.h"

#include <cmath>

namespace odegan::app {

void save_training_state(Checkpoint& ck, solvers::GanGame& game, const solvers::Stepper& stepper) {
  solvers::Players& p = game.players();
  ck.tensors["state"] = game.state();
  for (auto& [name, t] : p.generator->named_parameters()) ck.tensors["generator." + name] = t.data();
  for (auto& [name, t] : p.discriminator->named_parameters()) ck.tensors["discriminator." + name] = t.data();
  for (auto& [name, buf] : p.generator->named_buffers()) ck.tensors["g." + name] = *buf;
  for (auto& [name, buf] : p.discriminator->named_buffers()) ck.tensors["d." + name] = *buf;
  const solvers::StepperState st = stepper.state();
  for (const auto& [k, t] : st.tensors) ck.tensors[k] = t;
  for (const auto& [k, x] : st.numbers) {
    // Counts are stored as JSON integers, other numbers as doubles.
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9007199254740992.0)
      ck.info[k] = static_cast<int64_t>(x);
    else
      ck.info[k] = x;
  }
  ck.info["method"] = stepper.name();
}

void load_training_state(const Checkpoint& ck, solvers::GanGame& game, solvers::Stepper& stepper) {
  const std::string method = ck.get_string("method");
  ODEGAN_CHECK(method == stepper.name(), "checkpoint '", ck.path, "' was written by --method ", method,
               ", this run uses --method ", stepper.name());
  ck.copy_into(game.state(), "state");
  solvers::Players& p = game.players();
  for (auto& [name, buf] : p.generator->named_buffers()) ck.copy_into(*buf, "g." + name);
  for (auto& [name, buf] : p.discriminator->named_buffers()) ck.copy_into(*buf, "d." + name);
  solvers::StepperState st;
  st.tensors = ck.tensors;
  for (const auto& [k, v] : ck.info.items())
    if (v.is_number()) st.numbers[k] = v.get<double>();
  stepper.load_state(st, game, "checkpoint '" + ck.path + "'");
}

}  // namespace odegan::app
