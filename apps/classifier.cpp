// odegan_classifier: trains the small CNN of layers/models/classifier.h on an IDX dataset
// (Fashion-MNIST) with Adam and writes its weights (safetensors) -- the feature network of
// the FD-FMNIST yardstick (odegan_fid --features classifier --classifier FILE, and
// --eval-every with --classifier in the training apps). Prints progress and test accuracy.
//   odegan_classifier --data /usr/share/datasets/fashion-mnist --out /tmp/fmnist-classifier.safetensors
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/common/progress.h"
#include "apps/common/run.h"
#include "autodiff/engine.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "layers/models/classifier.h"
#include "solvers/optimizers.h"

using namespace odegan;

namespace {

// The first `n` samples of a dataset (quick runs and tests).
class Prefix : public data::Dataset {
 public:
  Prefix(std::shared_ptr<const data::Dataset> base, int64_t n) : base_(std::move(base)), n_(n) {}
  int64_t size() const override { return n_; }
  Shape sample_shape() const override { return base_->sample_shape(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  bool get(int64_t i, float* out, int32_t* label, Generator* aug) const override {
    return base_->get(i, out, label, aug);
  }
  std::string where(int64_t i) const override { return base_->where(i); }
  std::string name() const override { return base_->name(); }

 private:
  std::shared_ptr<const data::Dataset> base_;
  int64_t n_;
};

std::shared_ptr<const data::Dataset> open(const std::string& path, const std::string& format,
                                          const std::string& split, int64_t limit) {
  data::DatasetOptions o;
  o.format = format;
  o.split = split;
  o.channels = 1;
  std::shared_ptr<const data::Dataset> d = data::open_dataset(path, o);
  if (limit > 0 && limit < d->size()) d = std::make_shared<Prefix>(d, limit);
  return d;
}

// Accuracy of the model (eval mode) over a whole dataset.
double accuracy(nn::models::Classifier& model, std::shared_ptr<const data::Dataset> d, int64_t batch, Device dev,
                int threads) {
  data::LoaderOptions lo;
  lo.batch = std::min(batch, d->size());
  lo.shuffle = false;
  lo.threads = threads;
  lo.device = dev;
  data::Loader loader(d, lo);
  ad::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0, seen = 0;
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    data::ImageBatch x = loader.next();
    correct += nn::models::count_correct(model(ad::Var(x.images)).data(), x.labels);
    seen += x.labels.numel();
  }
  // The remainder the loader drops (fewer than one batch), scored directly.
  for (int64_t i = seen; i < d->size(); ++i) {
    Tensor img = Tensor::empty(Shape{1, 1, model.options().image_size, model.options().image_size});
    int32_t label = 0;
    if (!d->get(i, img.data<float>(), &label, nullptr)) continue;
    correct += nn::models::count_correct(model(ad::Var(img.to(dev))).data(),
                                         Tensor::from_vector(std::vector<int32_t>{label}, {1}));
    ++seen;
  }
  model.train();
  return seen > 0 ? double(correct) / double(seen) : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_main("odegan_classifier", [&] {
    std::string data_dir, format = "idx", out, device = "auto", json_out;
    int64_t epochs = 2, batch = 64, train_limit = 0, test_limit = 0;
    double lr = 1e-3;
    uint64_t seed = 0;
    int threads = 1;
    CLI::App cli{"Trains the FD-FMNIST feature classifier (a small CNN) on an IDX dataset and writes its weights"};
    cli.option_defaults()->always_capture_default();
    cli.add_option("--data", data_dir, "IDX directory (train-* and t10k-* files), e.g. Fashion-MNIST")->required();
    cli.add_option("--format", format, "dataset format (idx; cifar10 works for 3-channel 32x32 too)");
    cli.add_option("--out", out, "weights file to write (safetensors)")->required();
    cli.add_option("--epochs", epochs, "passes over the training split");
    cli.add_option("--batch", batch, "batch size");
    cli.add_option("--lr", lr, "Adam learning rate");
    cli.add_option("--seed", seed, "initialisation and shuffling seed");
    cli.add_option("--train-limit", train_limit, "use only the first N training images (0: all)");
    cli.add_option("--test-limit", test_limit, "score only the first N test images (0: all)");
    cli.add_option("--threads", threads, "data loader threads");
    cli.add_option("--device", device, "cpu, cuda, cuda:N or auto");
    cli.add_option("--json", json_out, "also write the result (accuracy, time) to this JSON file");
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    ODEGAN_CHECK(epochs > 0, "--epochs must be > 0, got ", epochs);
    ODEGAN_CHECK(batch > 0, "--batch must be > 0, got ", batch);
    ODEGAN_CHECK(lr > 0, "--lr must be > 0, got ", lr);
    ODEGAN_CHECK(train_limit >= 0 && test_limit >= 0, "--train-limit and --test-limit must be >= 0");
    ODEGAN_CHECK(threads >= 0, "--threads must be >= 0, got ", threads);
    const Device dev = Device::parse(device);
    auto train = open(data_dir, format, "train", train_limit);
    auto test = open(data_dir, format, "test", test_limit);
    ODEGAN_CHECK(batch <= train->size(), "--batch ", batch, " is larger than the training set (", train->size(),
                 " images)");
    const Shape s = train->sample_shape();
    nn::models::ClassifierOptions o;
    o.image_channels = s[0];
    o.image_size = s[2];
    o.num_classes = train->num_classes();
    nn::models::Classifier model(o);
    Generator init(seed);
    model.reset_all(init, nn::Init::kaiming_uniform);
    model.to(dev);
    Tensor params = model.flat_parameters(), grads = model.flat_gradients();
    std::printf("odegan_classifier: %lld parameters, %lld training / %lld test images, %s, %lld epochs\n",
                static_cast<long long>(model.num_parameters()), static_cast<long long>(train->size()),
                static_cast<long long>(test->size()), dev.str().c_str(), static_cast<long long>(epochs));

    data::LoaderOptions lo;
    lo.batch = batch;
    lo.seed = seed + 1;
    lo.threads = threads;
    lo.device = dev;
    data::Loader loader(train, lo);
    solvers::Adam adam({lr, 0.9, 0.999, 1e-8});
    const int64_t steps = epochs * loader.batches_per_epoch();
    app::Progress progress(steps, "steps");
    double running = 0;
    for (int64_t step = 0; step < steps; ++step) {
      data::ImageBatch b = loader.next();
      ad::Var loss = nn::models::cross_entropy(model(ad::Var(b.images)), b.labels);
      grads.zero_();
      ad::BackwardOptions bo;
      bo.inputs = model.parameters();
      ad::backward(loss, bo);
      adam.step(params, grads);
      const double l = loss.item();
      ODEGAN_CHECK(std::isfinite(l), "training diverged at step ", step + 1, " (loss ", l, "); try a smaller --lr");
      running = step == 0 ? l : 0.98 * running + 0.02 * l;
      char text[64];
      std::snprintf(text, sizeof text, "loss %.4f", running);
      progress.update(step + 1, text);
      if ((step + 1) % loader.batches_per_epoch() == 0 && step + 1 < steps)
        std::printf("\nepoch %lld: test accuracy %.4f\n", static_cast<long long>((step + 1) / loader.batches_per_epoch()),
                    accuracy(model, test, 500, dev, threads));
    }
    progress.finish();
    const double train_acc = accuracy(model, train, 500, dev, threads);
    const double test_acc = accuracy(model, test, 500, dev, threads);
    model.save(out);
    std::printf("train accuracy %.4f, test accuracy %.4f (%lld images), %.0f s; wrote %s\n", train_acc, test_acc,
                static_cast<long long>(test->size()), progress.elapsed_s(), out.c_str());
    if (!json_out.empty())
      app::write_json(json_out, {{"train_accuracy", train_acc},
                                 {"test_accuracy", test_acc},
                                 {"test_images", test->size()},
                                 {"epochs", epochs},
                                 {"seconds", progress.elapsed_s()},
                                 {"weights", out}});
    return 0;
  });
}
