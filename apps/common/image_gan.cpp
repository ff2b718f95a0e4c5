#include "apps/common/image_gan.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/common/config_json.h"
#include "apps/common/flags.h"
#include "apps/common/plot.h"
#include "apps/common/progress.h"
#include "apps/common/tensorboard.h"
#include "core/comm.h"
#include "apps/common/training.h"
#include "autodiff/var.h"
#include "core/staging.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/loader.h"
#include "layers/models/dcgan.h"
#include "layers/models/resnet.h"
#include "solvers/stepper.h"

namespace odegan::app {

namespace fs = std::filesystem;
using ad::Var;

json ImageGanConfig::to_json() const { return json(*this); }

namespace {

// The range of every numeric flag, shared by the flags and by config.json (from_json).
const std::map<std::string, std::pair<std::string, CLI::Validator>>& numeric_checks() {
  static const std::map<std::string, std::pair<std::string, CLI::Validator>> m = {
      {"image_size", {"--image-size", flags::integer(4, 4096)}},
      {"channels", {"channels", flags::integer(1, 4)}},
      {"num_classes", {"num_classes", flags::integer(0, 1 << 24)}},
      {"threads", {"--threads", flags::integer(0, 1024)}},
      {"width", {"--width-mult", flags::real(1.0 / 64, 16)}},
      {"ch", {"--ch", flags::integer(1, 4096)}},
      {"latent", {"--latent", flags::integer(1, 1 << 16)}},
      {"logits", {"--logits", flags::integer(1, 2)}},
      {"h", {"--h", flags::positive()}},
      {"lambda", {"--lambda", flags::nonnegative()}},
      {"adam_lr", {"--adam-lr", flags::positive()}},
      {"adam_beta1", {"--adam-beta1", flags::real(0, 1, false, true)}},
      {"adam_beta2", {"--adam-beta2", flags::real(0, 1, false, true)}},
      {"n_dis", {"--n-dis", flags::integer(1, 1000)}},
      {"rtol", {"--rtol", flags::real(0, 1, true)}},
      {"atol", {"--atol", flags::nonnegative()}},
      {"max_iterations", {"--max-iterations", flags::integer(1, 10000)}},
      {"krylov", {"--krylov", flags::integer(1, 1000)}},
      {"steps", {"--steps", flags::integer(0, flags::kMaxSteps)}},
      {"batch", {"--batch", flags::integer(1, 1 << 20)}},
      {"seed", {"--seed", flags::integer(0, INT64_MAX)}},
      {"log_every", {"--log-every", flags::integer(0, flags::kMaxSteps)}},
      {"sample_every", {"--sample-every", flags::integer(0, flags::kMaxSteps)}},
      {"checkpoint_every", {"--checkpoint-every", flags::integer(0, flags::kMaxSteps)}},
      {"error_every", {"--error-every", flags::integer(0, flags::kMaxSteps)}},
  };
  return m;
}

CLI::Option* checked(CLI::Option* o, const std::string& key) { return o->check(numeric_checks().at(key).second); }

}  // namespace

ImageGanConfig ImageGanConfig::from_json(const json& j, const std::string& source) {
  return config_from_json<ImageGanConfig>(j, source, [&](const std::string& key, const json& v) {
    auto it = numeric_checks().find(key);
    if (it != numeric_checks().end()) flags::check(it->second.second, source + ": key '" + key + "'", v.dump());
  });
}

void add_image_gan_flags(CLI::App& cli, ImageGanConfig& c) {
  cli.add_option("--data", c.data, "dataset: a CIFAR-10 directory, IDX directory/file, or image folder")->required();
  cli.add_option("--format", c.format, "cifar10, idx or folder");
  cli.add_option("--out", c.out, "run directory (created if missing)")->required();
  cli.add_option("--device", c.device, "cpu, cuda, cuda:N or auto");
  checked(cli.add_option("--steps", c.steps, "training steps"), "steps");
  checked(cli.add_option("--seed", c.seed, "random seed"), "seed");
  checked(cli.add_option("--batch", c.batch, "batch size per RK stage"), "batch");
  checked(cli.add_option("--latent", c.latent, "latent dimension"), "latent");
  cli.add_option("--method", c.method, solvers::stepper_help() + " (sngan also turns spectral norm on)");
  checked(cli.add_option("--h", c.h, "step size (the learning rate for RK + Adam)"), "h");
  cli.add_option("--schedule", c.schedule, "reference (h/4 for 500 steps, then h, h/2 after 400k) or constant");
  checked(cli.add_option("--lambda", c.lambda, "gradient regulariser weight (0: off)"), "lambda");
  cli.add_option("--loss", c.loss, "non_saturating, saturating, hinge or wasserstein");
  cli.add_flag("--sync-bn", c.sync_bn,
               "with several ranks (mpirun): batch norm over the global batch, not each rank's shard");
  cli.add_option("--bucket-mb", c.bucket_mb,
                 "with several ranks: all-reduce gradients in buckets of this many MB while backward runs "
                 "(0: one all-reduce after it)")
      ->check(flags::real(0, 1024));
  cli.add_flag("--shared-batches", c.shared_batches, "one batch for all stages of a step (default: fresh per stage)");
  cli.add_flag("--per-player", c.per_player, "integrate each player with the other frozen");
  checked(cli.add_option("--adam-lr", c.adam_lr, "adam / sngan: learning rate"), "adam_lr");
  checked(cli.add_option("--adam-beta1", c.adam_beta1, "adam / sngan: beta1"), "adam_beta1");
  checked(cli.add_option("--adam-beta2", c.adam_beta2, "adam / sngan: beta2"), "adam_beta2");
  checked(cli.add_option("--n-dis", c.n_dis, "sngan: discriminator steps per generator step"), "n_dis");
  checked(cli.add_option("--rtol", c.rtol, "adaptive and implicit methods: relative tolerance"), "rtol");
  checked(cli.add_option("--atol", c.atol, "adaptive and implicit methods: absolute tolerance"), "atol");
  checked(cli.add_option("--max-iterations", c.max_iterations, "implicit methods: iteration cap per step"),
          "max_iterations");
  cli.add_option("--implicit-solver", c.implicit_solver, "implicit methods: fixed_point or newton (Newton-Krylov)")
      ->check(CLI::IsMember({"fixed_point", "newton"}));
  checked(cli.add_option("--krylov", c.krylov, "implicit methods with newton: GMRES iterations per Newton iteration"),
          "krylov");
  cli.add_flag("--spectral-norm", c.spectral_norm, "spectral normalisation in D (always on for sngan)");
  checked(cli.add_option("--width-mult", c.width, "channel multiplier (shrinks the networks for CPU runs)"), "width");
  checked(cli.add_option("--image-size", c.image_size, "image side"), "image_size");
  cli.add_option("--init", c.init, "reference, dcgan, kaiming or xavier");
  checked(cli.add_option("--threads", c.threads, "data loader threads"), "threads");
  cli.add_flag("--random-crop", c.random_crop, "image folders: random square crops");
  cli.add_flag("--random-flip", c.random_flip, "image folders: random horizontal flips");
  cli.add_option("--max-skipped-fraction", c.max_skipped_fraction,
                 "image folders: fraction of unreadable image files tolerated (they are skipped and reported)")
      ->check(flags::real(0, 1));
  checked(cli.add_option("--log-every", c.log_every, "steps between metrics lines"), "log_every");
  checked(cli.add_option("--sample-every", c.sample_every, "steps between sample grids"), "sample_every");
  checked(cli.add_option("--checkpoint-every", c.checkpoint_every, "steps between checkpoints"), "checkpoint_every");
  checked(cli.add_option("--error-every", c.error_every, "steps between Fehlberg error estimates (0: never)"),
          "error_every");
  cli.add_option("--dtype", c.dtype, "float32 or float64");
  cli.add_flag("--resume", c.resume, "continue from the latest checkpoint in --out");
  add_quality_flags(cli, c.quality);
}

CLI::Option* add_checked_option(CLI::App& cli, const std::string& flag, ImageGanConfig& c) {
  if (flag == "--arch") return cli.add_option("--arch", c.arch, "dcgan or resnet");
  if (flag == "--logits")
    return checked(cli.add_option("--logits", c.logits, "dcgan discriminator outputs: 1, or 2 as the reference code"),
                   "logits");
  if (flag == "--ch") return checked(cli.add_option("--ch", c.ch, "base channel count (64 in the SN-GAN paper)"), "ch");
  ODEGAN_FAIL("add_checked_option: unknown flag ", flag);
}

// ---------------------------------------------------------------- models

solvers::Players build_players(const ImageGanConfig& c, DType dtype, Device device) {
  std::shared_ptr<nn::Module> g, d;
  solvers::Players p;
  if (c.arch == "dcgan") {
    nn::models::DcganOptions o;
    o.latent = c.latent;
    o.image_channels = c.channels;
    o.image_size = c.image_size;
    o.width = c.width;
    o.logits = c.logits;
    o.dtype = dtype;
    o.spectral_norm = c.spectral_norm;
    p = solvers::Players::unconditional(nn::models::dcgan_generator(o), nn::models::dcgan_discriminator(o));
  } else if (c.arch == "resnet" || c.arch == "imagenet_resnet") {
    nn::models::ResNetOptions o;
    o.latent = c.latent;
    o.image_channels = c.channels;
    o.spectral_norm = c.spectral_norm;
    o.dtype = dtype;
    std::shared_ptr<nn::models::ResNetGenerator> rg;
    std::shared_ptr<nn::models::ResNetDiscriminator> rd;
    if (c.arch == "resnet") {
      ODEGAN_CHECK(c.image_size == 32, "--arch resnet is the 32x32 CIFAR ResNet; got --image-size ", c.image_size);
      rg = nn::models::cifar_resnet_generator(o, c.width);
      rd = nn::models::cifar_resnet_discriminator(o, c.width);
    } else {
      o.num_classes = c.conditional ? c.num_classes : 0;
      ODEGAN_CHECK(!c.conditional || c.num_classes > 0, "a conditional model needs a labelled dataset");
      rg = nn::models::imagenet_resnet_generator(o, c.ch, c.image_size);
      rd = nn::models::imagenet_resnet_discriminator(o, c.ch, c.image_size);
    }
    p.generator = rg;
    p.discriminator = rd;
    p.generate = [rg](const Var& z, const Tensor& y) { return rg->forward(z, y); };
    p.discriminate = [rd](const Var& x, const Tensor& y) { return rd->forward(x, y); };
  } else {
    ODEGAN_FAIL("unknown --arch '", c.arch, "': expected dcgan, resnet or imagenet_resnet");
  }
  Generator init(c.seed);
  p.generator->reset_all(init, nn::parse_init(c.init));
  p.discriminator->reset_all(init, nn::parse_init(c.init));
  p.generator->to(device);
  p.discriminator->to(device);
  return p;
}

double step_size(const ImageGanConfig& c, int64_t step) {
  if (c.schedule == "constant") return c.h;
  ODEGAN_CHECK(c.schedule == "reference", "unknown --schedule '", c.schedule, "': reference or constant");
  if (step < 500) return c.h / 4;
  if (step >= 400000) return c.h / 2;
  return c.h;
}

// ---------------------------------------------------------------- training

namespace {

const std::vector<std::string> kColumns = {"step",     "loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "reg_norm",
                                           "h",        "error",  "ms",     "images_per_s"};

void write_loss_figure(const std::string& path, const MetricsLog& log, solvers::GanLoss loss, const std::string& title) {
  const std::vector<double> step = log.column("step"), ld = log.column("loss_d"), lg = log.column("loss_g");
  plot::Canvas cv(900, 420);
  plot::Axes ax(cv, 80, 40, 780, 320);
  auto r = plot::finite_range(ld), r2 = plot::finite_range(lg);
  const double lo = std::min({r[0], r2[0], solvers::nash_loss_g(loss)});
  const double hi = std::max({r[1], r2[1], solvers::nash_loss_d(loss)});
  ax.set_limits(step.empty() ? 0 : step.front(), step.empty() ? 1 : step.back(), lo - 0.05 * (hi - lo),
                hi + 0.05 * (hi - lo));
  ax.plot(step, ld, plot::colors::blue, 1.0);
  ax.plot(step, lg, plot::colors::orange, 1.0);
  ax.hline(solvers::nash_loss_d(loss), plot::colors::red);
  ax.hline(solvers::nash_loss_g(loss), plot::colors::red);
  ax.draw_frame(title, "step", "loss");
  ax.legend({{"l_D", plot::colors::blue}, {"l_G", plot::colors::orange}, {"Nash values", plot::colors::red}});
  cv.save_png(path);
}

void save_samples(const std::string& dir, int64_t step, solvers::Players& p, const Tensor& z, const Tensor& labels) {
  prepare_dir(dir);
  ad::NoGradGuard no_grad;
  p.generator->eval();
  Tensor x = p.generate(Var(z), labels).data();
  p.generator->train();
  char name[64];
  std::snprintf(name, sizeof name, "/step-%09lld.png", static_cast<long long>(step));
  for (const std::string& path : {dir + name, dir + "/latest.png"})
    write_file_via(path, [&](const std::string& tmp) { data::write_image_grid(tmp, x, 8); });
}

}  // namespace

int train_image_gan(ImageGanConfig c, const std::string& program) {
  // Data parallelism (mpirun): each rank loads its rows of every global batch and only
  // rank 0 writes. Batch norm normalises each rank's shard (per-replica statistics, as
  // PyTorch's DDP does by default).
  const std::shared_ptr<Communicator> comm = Communicator::from_environment();
  const bool root = comm->is_root();
  const int ranks = comm->size();
  ODEGAN_CHECK(!c.out.empty(), "--out is required");
  ODEGAN_CHECK(c.batch % ranks == 0, "--batch ", c.batch, " does not split into ", ranks, " equal shards (one per rank)");
  ODEGAN_CHECK(c.steps >= 0 && c.batch > 0 && c.latent > 0 && c.h > 0 && c.lambda >= 0,
               "need --steps >= 0, --batch > 0, --latent > 0, --h > 0 and --lambda >= 0");
  ODEGAN_CHECK(c.dtype == "float32" || c.dtype == "float64", "--dtype must be float32 or float64");
  c.quality.validate();
  const DType dtype = c.dtype == "float64" ? DType::f64 : DType::f32;
  Device dev = Device::parse(c.device);
  // Several ranks on a node: each takes the GPU of its local rank unless one is named.
  if (ranks > 1 && dev.is_cuda() && c.device.find(':') == std::string::npos) dev.index = comm->local_rank();
  if (root) {
    prepare_dir(c.out);
    for (const char* sub : {"", "/checkpoints", "/samples"}) remove_stale_temp_files(c.out + sub);
  }

  data::DatasetOptions dopt;
  dopt.format = c.format;
  dopt.image_size = c.image_size;
  dopt.channels = static_cast<int>(c.channels);
  dopt.random_crop = c.random_crop;
  dopt.random_flip = c.random_flip;
  dopt.max_skipped_fraction = c.max_skipped_fraction;
  std::shared_ptr<const data::Dataset> dataset = data::open_dataset(c.data, dopt);
  if (const std::string r = dataset->report(); !r.empty() && root) std::printf("%s\n", r.c_str());
  c.channels = dataset->sample_shape()[0];
  c.image_size = dataset->sample_shape()[2];
  c.num_classes = dataset->num_classes();
  const bool conditional = c.arch == "imagenet_resnet" && c.conditional;
  // The method, from the one registry every app uses (solvers/stepper.h).
  solvers::StepperOptions so;
  so.adam = {c.adam_lr, c.adam_beta1, c.adam_beta2, 1e-8};
  so.n_dis = c.n_dis;
  so.adaptive = solvers::AdaptiveOptions{c.atol, c.rtol};
  so.implicit.rtol = c.rtol, so.implicit.atol = c.atol, so.implicit.max_iterations = c.max_iterations;
  so.implicit.solver = c.implicit_solver, so.implicit.krylov = c.krylov;
  std::unique_ptr<solvers::Stepper> stepper = solvers::make_stepper(c.method, so);
  if (c.method == "sngan") c.spectral_norm = true;

  solvers::Players players = build_players(c, dtype, dev);
  int synced = 0;
  if (c.sync_bn && ranks > 1)
    synced = nn::set_sync_batch_norm(*players.generator, comm) + nn::set_sync_batch_norm(*players.discriminator, comm);
  const std::string ckpt_dir = c.out + "/checkpoints";
  std::optional<Checkpoint> ck;
  if (c.resume) {
    ck = load_latest_checkpoint(ckpt_dir);
    if (!ck && root) std::printf("no checkpoint in %s: starting from step 0\n", ckpt_dir.c_str());
  }
  data::LoaderPosition pos;
  Generator noise(c.seed + 1);
  int64_t start = 0;
  if (ck) {
    // Every field is checked before anything is used (or config.json rewritten).
    start = ck->step();
    ODEGAN_CHECK(start <= c.steps, "checkpoint '", ck->path, "' is at step ", start, ", beyond --steps ", c.steps);
    const std::string method = ck->get_string("method");
    ODEGAN_CHECK(method == c.method, "checkpoint '", ck->path, "' was written by --method ", method,
                 ", this run uses --method ", c.method);
    pos = {ck->get_int("loader_epoch", 0, Checkpoint::kMaxStep), ck->get_int("loader_batch", 0, dataset->size())};
    noise.set_state(ck->get_uint("noise_seed"), ck->get_uint("noise_offset"));
  }
  data::LoaderOptions lopt;
  lopt.batch = c.batch;
  lopt.seed = c.seed + 2;
  lopt.threads = c.threads;
  lopt.device = dev;
  const int64_t shard = c.batch / ranks, first = comm->rank() * shard;
  lopt.shard_begin = first, lopt.shard_end = first + shard;  // the whole batch with one rank
  data::Loader loader(dataset, lopt, pos);

  DeviceUploader label_upload(dev);  // fake labels go up without a sync (core/staging.h)
  solvers::BatchFn batches = [&] {
    data::ImageBatch b = loader.next();
    solvers::Batch out;
    out.real = b.images.to(dtype);
    // Noise and fake labels: every rank draws the whole batch's and keeps its rows, so the
    // global batch does not depend on the number of ranks.
    out.z = Tensor::empty({c.batch, c.latent}, dtype, dev);
    fill_normal(out.z, noise);
    if (ranks > 1) out.z = out.z.slice(first, first + shard);
    if (conditional) {
      out.real_labels = b.labels;
      std::vector<int32_t> y(static_cast<size_t>(c.batch));
      for (auto& v : y) v = static_cast<int32_t>(noise.next_below(static_cast<uint64_t>(c.num_classes)));
      out.fake_labels = label_upload.upload(y.data() + first, {shard}, DType::i32);
    }
    return out;
  };
  solvers::GameOptions gopt;
  gopt.loss = solvers::parse_loss(c.loss);
  gopt.per_player = c.per_player;
  gopt.fresh_batch_per_stage = !c.shared_batches;
  // The SN-GAN baseline trains without the regulariser; every other method uses lambda.
  gopt.reg_lambda = stepper->uses_regulariser() ? c.lambda : 0.0;
  gopt.comm = comm;
  gopt.bucket_bytes = static_cast<size_t>(c.bucket_mb * (1 << 20));
  solvers::GanGame game(players, batches, gopt);

  if (ck) {
    load_training_state(*ck, game, *stepper);
    if (root) std::printf("resuming %s from step %lld\n", c.out.c_str(), static_cast<long long>(start));
  }
  if (!root) {  // the other ranks only train (and reach every collective rank 0 reaches)
    for (int64_t step = start; step < c.steps; ++step) {
      const double h = step_size(c, step);
      const solvers::StepStats s = stepper->step(game, h);
      ODEGAN_CHECK(s.finite, "training diverged at step ", step + 1, " (rank 0 reports it)");
      if (c.error_every > 0 && (step + 1) % c.error_every == 0) solvers::local_error_estimate(game, h);
    }
    return 0;
  }
  if (ranks > 1)
    std::printf("data parallel: %s, %lld images per rank of each batch of %lld; %s\n", comm->describe().c_str(),
                static_cast<long long>(shard), static_cast<long long>(c.batch),
                synced ? ("batch norm synchronised (" + std::to_string(synced) + " layers)").c_str()
                       : "batch norm per rank");
  // The resume is valid: only now is config.json (re)written and are the logs cut back to
  // the checkpoint's step.
  write_json(c.out + "/config.json", c.to_json());
  std::vector<std::string> columns = kColumns;
  if (stepper->reports_iterations()) columns.push_back("iterations");
  MetricsLog log(c.out + "/metrics.csv", columns, ck ? start : -1);
  JsonlLog jsonl(c.out + "/metrics.jsonl", ck ? start : -1);
  TensorBoardWriter tb(c.out, ck ? start : -1);
  auto checkpoint = [&](int64_t step) {
    Checkpoint k;
    save_training_state(k, game, *stepper);
    // The logs on disk cover every step up to this checkpoint before it exists.
    log.sync();
    jsonl.sync();
    tb.flush();
    data::LoaderPosition lp = loader.position();
    k.info["loader_epoch"] = lp.epoch;
    k.info["loader_batch"] = lp.batch;
    k.info["noise_seed"] = noise.seed();
    k.info["noise_offset"] = noise.offset();
    k.info["config"] = c.to_json();
    save_checkpoint(ckpt_dir, step, k);
  };

  // Fixed noise (and labels) for the sample grids.
  Generator fixed(c.seed + 3);
  Tensor z_fixed = Tensor::empty({64, c.latent}, dtype, dev);
  fill_normal(z_fixed, fixed);
  Tensor y_fixed;
  if (conditional) {
    std::vector<int32_t> y(64);
    for (int i = 0; i < 64; ++i) y[static_cast<size_t>(i)] = static_cast<int32_t>(i % c.num_classes);
    y_fixed = Tensor::from_vector(y, {64}).to(dev);
  }

  std::printf("%s: %s on %s (%s, %lld images), %s, %lld + %lld parameters, method %s\n", program.c_str(),
              c.arch.c_str(), dev.str().c_str(), dataset->name().c_str(), static_cast<long long>(dataset->size()),
              conditional ? "class-conditional" : "unconditional",
              static_cast<long long>(players.generator->num_parameters()),
              static_cast<long long>(players.discriminator->num_parameters()), c.method.c_str());
  // Quality lines ({"step", "fd"} or {"step", "fid", "is", ...}) go to the JSONL log and TensorBoard.
  auto log_quality = [&](const json& line) {
    jsonl.append(line);
    const int64_t at = line.at("step").get<int64_t>();
    for (const char* k : {"fd", "fid", "is"})
      if (line.contains(k)) tb.scalar(std::string("quality/") + k, at, line.at(k).get<double>());
  };
  // Sample grids: the PNG files, and the same image in TensorBoard.
  auto samples = [&](int64_t step) {
    save_samples(c.out + "/samples", step, players, z_fixed, y_fixed);
    tb.image_file("samples", step, c.out + "/samples/latest.png");
  };
  if (start == 0) samples(0);
  std::unique_ptr<QualityEvaluator> quality;  // --eval-every: FD / FID lines in metrics.jsonl, quality.json
  ImageSource eval_images;
  if (c.quality.enabled()) {
    quality = std::make_unique<QualityEvaluator>(c.quality, c.out, *dataset, dev, ck ? start : -1);
    eval_images = generator_images(players, c.latent, conditional ? c.num_classes : 0, dtype, dev, c.seed + 4);
    if (start == 0) log_quality(quality->evaluate(0, eval_images));
  }

  Progress progress(c.steps, "steps");
  double timed_ms = 0;
  int64_t timed_steps = 0;
  for (int64_t step = start; step < c.steps; ++step) {
    const double h = step_size(c, step);
    const double reducing0 = comm->seconds_reducing();
    auto t0 = std::chrono::steady_clock::now();
    solvers::StepStats s = stepper->step(game, h);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const int64_t done = step + 1;
    if (!s.finite) {
      progress.finish();
      if (!log.rows().empty()) write_loss_figure(c.out + "/losses.png", log, gopt.loss, c.arch + ", " + c.method);
      ODEGAN_FAIL("training diverged at step ", done, " (loss_d = ", s.loss_d, ", loss_g = ", s.loss_g,
                  "): a loss or the parameters are NaN/Inf. The last good checkpoint is kept in ", ckpt_dir,
                  "; try a smaller --h or a larger --lambda");
    }
    if (c.error_every > 0 && done % c.error_every == 0) s.error = solvers::local_error_estimate(game, h);
    // Images through the networks per second: each velocity evaluation uses one batch of
    // real and one of generated images.
    const double ips = ms > 0 ? 1000.0 * static_cast<double>(c.batch * s.evaluations) / ms : 0;
    if (c.log_every > 0 && (done % c.log_every == 0 || done == c.steps)) {
      std::vector<double> row = {double(done), s.loss_d, s.loss_g, s.grad_norm_d, s.grad_norm_g, s.reg_norm, s.h,
                                 s.error, ms, ips};
      if (stepper->reports_iterations()) row.push_back(s.iterations);
      log.append(row);
      json line{{"step", done},
                    {"loss_d", s.loss_d},
                    {"loss_g", s.loss_g},
                    {"nash_loss_d", solvers::nash_loss_d(gopt.loss)},
                    {"nash_loss_g", solvers::nash_loss_g(gopt.loss)},
                    {"grad_norm_d", s.grad_norm_d},
                    {"grad_norm_g", s.grad_norm_g},
                    {"reg_norm", s.reg_norm},
                    {"h", s.h},
                    {"error", s.error},
                    {"ms_per_step", ms},
                    {"images_per_s", ips}};
      if (stepper->reports_iterations()) line["iterations"] = s.iterations, line["converged"] = s.converged;
      if (stepper->reports_error()) line["rejected"] = s.rejected;
      if (ranks > 1) line["allreduce_ms"] = 1000.0 * (comm->seconds_reducing() - reducing0);
      jsonl.append(line);
      write_step_scalars(tb, done, s, gopt.loss, ms, ips);
    }
    if (c.sample_every > 0 && (done % c.sample_every == 0 || done == c.steps)) {
      samples(done);
      // The loss curves too, so a running job can be looked at, not only a finished one.
      if (!log.rows().empty()) write_loss_figure(c.out + "/losses.png", log, gopt.loss, c.arch + ", " + c.method);
    }
    if (quality && (quality->due(done) || done == c.steps)) log_quality(quality->evaluate(done, eval_images));
    if ((c.checkpoint_every > 0 && done % c.checkpoint_every == 0) || done == c.steps) checkpoint(done);
    // The expected duration, from the step times after the first (which allocates): once,
    // with a plain warning when the schedule means days on this machine.
    if (done > start + 1) timed_ms += ms, ++timed_steps;
    if (timed_steps == 3 && done < c.steps) {
      const double per = timed_ms / 1000.0 / timed_steps, rest = per * static_cast<double>(c.steps - done);
      char line[320];
      std::snprintf(line, sizeof line, "timing: %.3g s/step on %s: the remaining %lld steps take about %s", per,
                    dev.str().c_str(), static_cast<long long>(c.steps - done), format_duration(rest).c_str());
      progress.note(line);
      if (rest > 2 * 86400)
        progress.note("note: that is the paper's schedule, which is GPU work; --steps N runs a shorter one "
                      "(docs/reproducing.md has CPU-sized recipes)");
    }
    char text[160];
    std::snprintf(text, sizeof text, "%.0f img/s  l_D %.4f (Nash %.4f)  l_G %.4f (Nash %.4f)", ips, s.loss_d,
                  solvers::nash_loss_d(gopt.loss), s.loss_g, solvers::nash_loss_g(gopt.loss));
    progress.update(done, text);
  }
  progress.finish();
  log.sync();
  jsonl.sync();
  if (!log.rows().empty()) {
    write_loss_figure(c.out + "/losses.png", log, gopt.loss, c.arch + ", " + c.method);
    tb.image_file("losses", c.steps, c.out + "/losses.png");
  }
  tb.flush();
  std::printf("wrote %s/{config.json,metrics.jsonl,metrics.csv,losses.png,samples/,checkpoints/,events.out.tfevents.*}\n",
              c.out.c_str());
  return 0;
}

}  // namespace odegan::app
