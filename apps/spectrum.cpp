// odegan_spectrum: the eigenvalues of the game's Jacobian J = dv/d(theta, phi) at a
// checkpoint of a run (odegan_mog, odegan_cifar10 or odegan_imagenet), and where h * lambda
// falls against the stability regions of Euler, RK2, RK4, AB2, AB3 and the implicit methods
// (the paper's Section 3.2 and Lemma 3.1, measured on our own runs).
//   odegan_spectrum --run runs/mog                   # latest checkpoint, every eigenvalue
//   odegan_spectrum --run runs/cifar --steps 5000 --k 20
// J^T u products come from double backward (GanGame::jacobian_transpose). Games with up to
// --dense-limit parameters are formed densely and solved completely (Eigen); larger ones
// get the --k eigenvalues of largest modulus and of smallest real part by implicitly
// restarted Arnoldi (Spectra). Writes <out>/spectrum.json, eigenvalues.csv, stability.png.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/common/flags.h"
#include "apps/common/image_gan.h"
#include "apps/common/progress.h"
#include "apps/common/run.h"
#include "apps/common/spectrum.h"
#include "apps/common/training.h"
#include "autodiff/var.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/mog.h"
#include "layers/models/mog.h"
#include "solvers/gan_game.h"

using namespace odegan;
using app::cdouble;
using app::json;

namespace {

struct Options {
  std::string run, out, device = "auto", checkpoint;
  int64_t steps = -1, batch = 0, dense_limit = 3000;
  int k = 10;
  double h = 0;
  uint64_t seed = 0;
};

std::string checkpoint_path(const Options& o) {
  if (!o.checkpoint.empty()) return o.checkpoint;
  if (o.steps >= 0) {
    char name[64];
    std::snprintf(name, sizeof name, "/checkpoints/ckpt-%09lld.safetensors", static_cast<long long>(o.steps));
    const std::string p = o.run + name;
    ODEGAN_CHECK(std::filesystem::exists(p), "--steps ", o.steps, ": no checkpoint ", p);
    return p;
  }
  const std::string p = app::latest_checkpoint_path(o.run + "/checkpoints");
  ODEGAN_CHECK(!p.empty(), "no checkpoints in ", o.run, "/checkpoints");
  return p;
}

// The run's players (float64, for an accurate spectrum), a batch source and the loss, from
// its config.json: an image run has "arch", a MoG run "hidden".
struct RunGame {
  solvers::Players players;
  std::function<solvers::Batch()> batch;
  solvers::GanLoss loss = solvers::GanLoss::non_saturating;
  int64_t batch_size = 0;
  double h = 0;
  std::string kind, method;
  std::shared_ptr<const data::Dataset> dataset;
  std::shared_ptr<data::Loader> loader;
  std::shared_ptr<data::MixtureOfGaussians> mog;
  std::shared_ptr<Generator> gen;
};

RunGame open_run(const Options& o, Device dev) {
  const std::string config = o.run + "/config.json";
  ODEGAN_CHECK(std::filesystem::exists(config), "--run ", o.run, ": no config.json (not a run directory)");
  const json j = app::read_json(config);
  ODEGAN_CHECK(j.is_object(), config, ": expected a JSON object");
  RunGame r;
  r.gen = std::make_shared<Generator>(o.seed + 17);
  if (j.contains("arch")) {
    app::ImageGanConfig c = app::ImageGanConfig::from_json(j, config);
    r.kind = "image";
    r.method = c.method;
    r.loss = solvers::parse_loss(c.loss);
    r.h = c.h;
    r.batch_size = o.batch > 0 ? o.batch : c.batch;
    r.players = app::build_players(c, DType::f64, dev);
    data::DatasetOptions dopt;
    dopt.format = c.format;
    dopt.image_size = c.image_size;
    dopt.channels = static_cast<int>(c.channels);
    r.dataset = data::open_dataset(c.data, dopt);
    data::LoaderOptions lopt;
    lopt.batch = r.batch_size;
    lopt.seed = o.seed;
    lopt.threads = 1;
    lopt.device = dev;
    r.loader = std::make_shared<data::Loader>(r.dataset, lopt, data::LoaderPosition{});
    const bool conditional = c.arch == "imagenet_resnet" && c.conditional;
    const int64_t latent = c.latent, classes = c.num_classes, n = r.batch_size;
    auto loader = r.loader;
    auto gen = r.gen;
    r.batch = [=] {
      data::ImageBatch b = loader->next();
      solvers::Batch out;
      out.real = b.images.to(DType::f64);
      out.z = Tensor::empty({n, latent}, DType::f64, dev);
      fill_normal(out.z, *gen);
      if (conditional) {
        out.real_labels = b.labels;
        std::vector<int32_t> y(static_cast<size_t>(n));
        for (auto& v : y) v = static_cast<int32_t>(gen->next_below(static_cast<uint64_t>(classes)));
        out.fake_labels = Tensor::from_vector(y, {n}).to(dev);
      }
      return out;
    };
  } else {
    ODEGAN_CHECK(j.contains("hidden") && j.contains("latent"), config,
                 ": neither an image run (no 'arch') nor a MoG run (no 'hidden'/'latent')");
    auto get_int = [&](const char* k) {
      ODEGAN_CHECK(j.at(k).is_number_integer() && j.at(k).get<int64_t>() > 0, config, ": key '", k,
                   "' must be a positive integer");
      return j.at(k).get<int64_t>();
    };
    r.kind = "mog";
    r.method = j.value("method", std::string("?"));
    r.loss = solvers::parse_loss(j.value("loss", std::string("non_saturating")));
    r.h = j.value("h", 0.0);
    const int64_t latent = get_int("latent"), hidden = get_int("hidden");
    r.batch_size = o.batch > 0 ? o.batch : get_int("batch");
    auto g = nn::models::mog_generator(latent, hidden, 2, DType::f64);
    auto d = nn::models::mog_discriminator(hidden, 2, DType::f64);
    g->to(dev);
    d->to(dev);
    r.players = solvers::Players::unconditional(g, d);
    r.mog = std::make_shared<data::MixtureOfGaussians>();
    auto mog = r.mog;
    auto gen = r.gen;
    const int64_t n = r.batch_size;
    r.batch = [=] {
      solvers::Batch b;
      b.real = mog->sample(n, *gen, DType::f64, dev);
      b.z = Tensor::empty({n, latent}, DType::f64, dev);
      fill_normal(b.z, *gen);
      return b;
    };
  }
  return r;
}

json complex_list(const std::vector<cdouble>& v) {
  json a = json::array();
  for (const cdouble& z : v) a.push_back({z.real(), z.imag()});
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_main("odegan_spectrum", [&] {
    Options o;
    CLI::App cli{"Eigenvalues of the GAN game's Jacobian at a checkpoint, against the methods' stability regions"};
    cli.option_defaults()->always_capture_default();
    namespace flags = app::flags;
    cli.add_option("--run", o.run, "run directory (config.json and checkpoints/)")->required();
    cli.add_option("--out", o.out, "output directory (default <run>/spectrum)");
    cli.add_option("--device", o.device, "cpu, cuda, cuda:N or auto");
    cli.add_option("--steps", o.steps, "the checkpoint of this step (default: the latest)")
        ->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--checkpoint", o.checkpoint, "an explicit checkpoint file");
    cli.add_option("--batch", o.batch, "batch the field is evaluated on (0: the run's batch size)")
        ->check(flags::integer(0, 1 << 20));
    cli.add_option("--k", o.k, "eigenvalues reported per rule (largest modulus, smallest real part)")
        ->check(flags::integer(1, 10000));
    cli.add_option("--dense-limit", o.dense_limit, "form J densely and find every eigenvalue up to this many parameters")
        ->check(flags::integer(0, 20000));
    cli.add_option("--h", o.h, "step size for h * lambda (0: the run's --h)")->check(flags::nonnegative());
    cli.add_option("--seed", o.seed, "seed of the batch")->check(flags::integer(0, INT64_MAX));
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    const Device dev = Device::parse(o.device);
    RunGame r = open_run(o, dev);
    const double h = o.h > 0 ? o.h : r.h;
    ODEGAN_CHECK(h > 0, "no step size: the run's config has none; give --h");
    const std::string ckpt = checkpoint_path(o);
    const app::Checkpoint ck = app::read_checkpoint(ckpt);
    solvers::GameOptions gopt;
    gopt.loss = r.loss;
    solvers::GanGame game(r.players, r.batch, gopt);
    // The parameters are views into the game's (float64) state: loading them sets y.
    app::load_player(ck, "generator", *r.players.generator);
    app::load_player(ck, "discriminator", *r.players.discriminator);
    const int64_t step = ck.step();
    const std::string out = app::prepare_dir(o.out.empty() ? o.run + "/spectrum" : o.out);

    const int64_t n = game.state().numel();
    std::printf("odegan_spectrum: %s run (method %s), step %lld, %lld parameters, batch %lld, h %g, %s\n",
                r.kind.c_str(), r.method.c_str(), static_cast<long long>(step), static_cast<long long>(n),
                static_cast<long long>(r.batch_size), h, n <= o.dense_limit ? "dense" : "Arnoldi");
    auto jt = game.jacobian_transpose(game.next_batch());
    Tensor u = Tensor::empty({n}, DType::f64, dev), v = Tensor::empty({n}, DType::f64, dev);
    int products = 0;
    const app::LinearOperator op = [&](const double* x, double* y) {
      u.copy_(Tensor::from_vector(std::vector<double>(x, x + n), {n}).to(dev));
      jt(u, v);
      const std::vector<double> got = v.to_vector<double>();
      std::copy(got.begin(), got.end(), y);
      ++products;
    };
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<cdouble> all, largest, leftmost;
    bool converged = true;
    if (n <= o.dense_limit) {
      app::Progress progress(n, "products");
      all = app::dense_eigenvalues(op, n, [&](int64_t done) {
        if (done % 64 == 0 || done == n) progress.update(done, "forming J^T column by column");
      });
      progress.finish();
      largest = app::select(all, app::Which::largest_modulus, o.k);
      leftmost = app::select(all, app::Which::smallest_real, o.k);
    } else {
      const int nev = static_cast<int>(std::min<int64_t>(o.k, n - 2));
      for (app::Which w : {app::Which::largest_modulus, app::Which::smallest_real}) {
        std::printf("Arnoldi: %d eigenvalues of %s...\n", nev,
                    w == app::Which::largest_modulus ? "largest modulus" : "smallest real part");
        app::ArnoldiResult a = app::arnoldi_eigenvalues(op, n, nev, w);
        converged = converged && a.converged;
        if (!a.converged)
          std::printf("note: Arnoldi converged for %zu of %d eigenvalues; those are reported\n", a.values.size(), nev);
        (w == app::Which::largest_modulus ? largest : leftmost) = app::select(a.values, w, o.k);
        all.insert(all.end(), a.values.begin(), a.values.end());
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    double max_re = -INFINITY, max_abs = 0;
    for (const cdouble& z : all) max_re = std::max(max_re, z.real()), max_abs = std::max(max_abs, std::abs(z));
    // Eigenvalues with a clearly positive real part: directions the continuous dynamics move
    // away from this point along. The threshold, 1e-4 of the largest modulus, stays above the
    // spread of the many (near-)zero eigenvalues of dead ReLU units, which a dense
    // eigensolver scatters by about sqrt(machine epsilon) times |J| around 0.
    const double re_tol = 1e-4 * max_abs;
    int positive = 0;
    for (const cdouble& z : all) positive += z.real() > re_tol;
    // Per method: eigenvalues whose h * lambda lies outside its stability region, all of them,
    // and those of decaying directions (Re lambda < -threshold), where the ODE is stable and
    // only the method can make the step unstable.
    json stable = json::object();
    for (const std::string& m : app::stability_methods()) {
      int outside = 0, outside_decaying = 0;
      for (const cdouble& z : all) {
        const bool out_of_region = app::growth(m, h * z) > 1.0 + 1e-9;
        outside += out_of_region;
        outside_decaying += out_of_region && z.real() < -re_tol;
      }
      stable[m] = {{"stable", outside == 0},
                   {"eigenvalues_outside", outside},
                   {"decaying_outside", outside_decaying}};
    }
    json s = {{"run", o.run},
              {"checkpoint", ckpt},
              {"step", step},
              {"method", r.method},
              {"parameters", n},
              {"batch", r.batch_size},
              {"h", h},
              {"solver", n <= o.dense_limit ? "dense (Eigen, every eigenvalue)" : "Arnoldi (Spectra)"},
              {"converged", converged},
              {"products", products},
              {"seconds", seconds},
              {"eigenvalues_found", all.size()},
              {"max_real_part", max_re},
              {"positive_real_count", positive},
              {"positive_real_threshold", re_tol},
              {"max_modulus", max_abs},
              {"largest_modulus", complex_list(largest)},
              {"smallest_real_part", complex_list(leftmost)},
              {"stability_at_h", stable}};
    app::write_json(out + "/spectrum.json", s);
    std::string csv = "re,im,abs,re_h,im_h\n";
    char line[160];
    for (const cdouble& z : app::select(all, app::Which::largest_modulus, -1)) {
      std::snprintf(line, sizeof line, "%.10g,%.10g,%.10g,%.10g,%.10g\n", z.real(), z.imag(), std::abs(z),
                    h * z.real(), h * z.imag());
      csv += line;
    }
    app::write_text(out + "/eigenvalues.csv", csv);
    std::vector<cdouble> hz;
    for (const cdouble& z : all) hz.push_back(h * z);
    char title[160];
    std::snprintf(title, sizeof title, "h * eigenvalues of dv/dy, %s step %lld (h = %g)", r.method.c_str(),
                  static_cast<long long>(step), h);
    app::write_stability_plot(out + "/stability.png", hz, title);

    std::printf("%zu eigenvalues in %.1f s (%d products of J^T): max Re %.4g (%d with Re > %.2g), max |lambda| %.4g\n",
                all.size(), seconds, products, max_re, positive, re_tol, max_abs);
    std::printf("largest modulus:");
    for (const cdouble& z : app::select(largest, app::Which::largest_modulus, 5)) std::printf("  %.4g%+.4gi", z.real(), z.imag());
    std::printf("\nsmallest real part:");
    for (const cdouble& z : app::select(leftmost, app::Which::smallest_real, 5)) std::printf("  %.4g%+.4gi", z.real(), z.imag());
    std::printf("\nat h = %g, every eigenvalue found is inside the stability region of:", h);
    for (const std::string& m : app::stability_methods())
      if (stable[m]["stable"].get<bool>()) std::printf(" %s", m.c_str());
    std::printf("\nevery decaying direction (Re lambda < %.2g) is inside the region of:", -re_tol);
    for (const std::string& m : app::stability_methods())
      if (stable[m]["decaying_outside"].get<int>() == 0) std::printf(" %s", m.c_str());
    std::printf("\nwrote %s/{spectrum.json,eigenvalues.csv,stability.png}\n", out.c_str());
    return 0;
  });
}
