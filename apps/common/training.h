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

// Writes the players' parameters ("generator.*", "discriminator.*"), their buffers
// ("g.*", "d.*"), the flat state ("state"), the stepper's state and the method name.
void save_training_state(Checkpoint& ck, solvers::GanGame& game, const solvers::Stepper& stepper);

// Checks that `ck` was written by the same method, then restores the flat state, the
// buffers and the stepper's state (each entry checked as it is read: a wrong size or a
// bad number throws an error naming the checkpoint and the entry). The apps call it before
// they write anything, so a refused checkpoint leaves the run directory as it was.
void load_training_state(const Checkpoint& ck, solvers::GanGame& game, solvers::Stepper& stepper);

}  // namespace odegan::app
