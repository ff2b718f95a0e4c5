// What the training apps share around a Stepper: the method flags' options, and the
// parts of a checkpoint that are not app-specific (the players' parameters and buffers,
// the stepper's state, the method that wrote it), saved and restored the same way by
// odegan_mog, odegan_cifar10 and odegan_imagenet.
#pragma once
#include <memory>
#include <string>

#include "apps/common/run.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"

namespace odegan::app {

// Writes the players' parameters and buffers ("generator.*", "discriminator.*", by their
// state_dict names), the stepper's state ("solver.*"), the method name and the format
// (Checkpoint::kFormat; the layout is described at Checkpoint::format).
void save_training_state(Checkpoint& ck, solvers::GanGame& game, const solvers::Stepper& stepper);

// Loads one player ("generator" or "discriminator") from a checkpoint of either format into
// `module` (converting to the module's dtype); a mismatch is an error naming the file and
// every differing tensor.
void load_player(const Checkpoint& ck, const std::string& which, nn::Module& module);

// Checks that `ck` was written by the same method, then restores the players' parameters
// (and with them the flat state), their buffers and the stepper's state (each entry checked as it is read: a wrong size or a
// bad number throws an error naming the checkpoint and the entry). The apps call it before
// they write anything, so a refused checkpoint leaves the run directory as it was.
void load_training_state(const Checkpoint& ck, solvers::GanGame& game, solvers::Stepper& stepper);

}  // namespace odegan::app
