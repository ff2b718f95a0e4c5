// Figures of the mixture-of-Gaussians app, after the paper's Fig. 2: the generator's
// density as a heat map with the discriminator's contour lines at four points of
// training, the losses against their Nash values, and the gradient norms.
#pragma once
#include <string>
#include <vector>

#include "apps/common/run.h"
#include "layers/module.h"
#include "solvers/gan_game.h"

namespace odegan::app {

// Saves <dir>/step-<step>.safetensors: G's samples for the fixed latents and D's logits
// on a 100 x 100 grid over [-2, 2]^2.
void save_mog_snapshot(const std::string& dir, int64_t step, nn::Module& g, nn::Module& d, const Tensor& z);

// <run>/mog.png (snapshots + loss and gradient-norm panel) and <run>/losses.png.
void write_mog_figures(const std::string& run, const MetricsLog& log, const std::vector<int64_t>& steps,
                       const std::string& method, solvers::GanLoss loss);

// <out>/compare.png: one row of snapshots per method (run directories <out>/<method>).
void write_mog_comparison(const std::string& out, const std::vector<std::string>& methods,
                          const std::vector<int64_t>& steps);

}  // namespace odegan::app
