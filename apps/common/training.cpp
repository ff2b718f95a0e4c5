#include "apps/common/training.h"

#include <cmath>

namespace odegan::app {

void save_training_state(Checkpoint& ck, solvers::GanGame& game, const solvers::Stepper& stepper) {
  solvers::Players& p = game.players();
  // The state y = [theta; phi] is the players' parameters, stored once, by name.
  for (auto& [name, t] : p.generator->state_dict()) ck.tensors["generator." + name] = t;
  for (auto& [name, t] : p.discriminator->state_dict()) ck.tensors["discriminator." + name] = t;
  const solvers::StepperState st = stepper.state();
  for (const auto& [k, t] : st.tensors) ck.tensors["solver." + k] = t;
  for (const auto& [k, x] : st.numbers) {
    // Counts are stored as JSON integers, other numbers as doubles.
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9007199254740992.0)
      ck.info[k] = static_cast<int64_t>(x);
    else
      ck.info[k] = x;
  }
  ck.info["method"] = stepper.name();
  ck.info["format"] = Checkpoint::kFormat;
}

void load_player(const Checkpoint& ck, const std::string& which, nn::Module& module) {
  std::map<std::string, Tensor> t = ck.player(which);
  // Converted to the module's dtype (odegan_spectrum studies a float32 run in float64).
  for (auto& [name, mine] : module.state_dict()) {
    auto it = t.find(name);
    if (it != t.end() && it->second.dtype() != mine.dtype() && is_floating(mine.dtype()))
      it->second = it->second.to(mine.dtype());
  }
  try {
    module.load_state_dict(t);
  } catch (const Error& e) {
    ODEGAN_FAIL("checkpoint '", ck.path, "': the ", which, " does not match this run's configuration (was it written ",
                "with other --arch/--width-mult/--latent/--hidden?): ", e.what());
  }
}

void load_training_state(const Checkpoint& ck, solvers::GanGame& game, solvers::Stepper& stepper) {
  const std::string method = ck.get_string("method");
  ODEGAN_CHECK(method == stepper.name(), "checkpoint '", ck.path, "' was written by --method ", method,
               ", this run uses --method ", stepper.name());
  solvers::Players& p = game.players();
  // The parameters are views into the game's state: loading them restores y.
  load_player(ck, "generator", *p.generator);
  load_player(ck, "discriminator", *p.discriminator);
  solvers::StepperState st;
  if (ck.format() == 1) {
    st.tensors = ck.tensors;
  } else {
    for (const auto& [k, t] : ck.tensors)
      if (k.rfind("solver.", 0) == 0) st.tensors[k.substr(7)] = t;
  }
  for (const auto& [k, v] : ck.info.items())
    if (v.is_number()) st.numbers[k] = v.get<double>();
  stepper.load_state(st, game, "checkpoint '" + ck.path + "'");
}

}  // namespace odegan::app
