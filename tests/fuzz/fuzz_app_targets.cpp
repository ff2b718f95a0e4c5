#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "apps/common/image_gan.h"
#include "apps/common/run.h"
#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"

namespace odegan::fuzz {

namespace {

// The apps read these from files: the input is written to <tmp>/odegan-fuzz-<pid>/<name>.
std::string input_file(const uint8_t* d, size_t n, const std::string& ext) {
  static const struct Dir {
    std::string path = (std::filesystem::temp_directory_path() / ("odegan-fuzz-" + std::to_string(::getpid()))).string();
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } dir;
  const std::string path = dir.path + "/" + kInputName + ext;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(d), static_cast<std::streamsize>(n));
  return path;
}


// config.json as odegan_sample reads it: read_json, then the validated config.
Outcome run_config(const uint8_t* d, size_t n) {
  const std::string path = input_file(d, n, ".json");
  return guarded([&] { (void)app::ImageGanConfig::from_json(app::read_json(path), path); });
}

// A checkpoint as --resume reads it: read_checkpoint, then the values the image-GAN loop
// resumes from (through the validated accessors).
Outcome run_checkpoint(const uint8_t* d, size_t n) {
  const std::string path = input_file(d, n, ".safetensors");
  return guarded([&] {
    const app::Checkpoint ck = app::read_checkpoint(path);
    (void)ck.step();
    (void)ck.get_string("method");
    (void)ck.get_int("loader_epoch", 0, app::Checkpoint::kMaxStep);
    (void)ck.get_int("loader_batch", 0, 1 << 20);
    (void)ck.get_uint("noise_seed");
    (void)ck.get_uint("noise_offset");
    for (const char* p : {"generator", "discriminator"}) (void)ck.player(p).size();
  });
}

}  // namespace

const std::vector<Target>& app_targets() {
  static const std::vector<Target> all = {{"config", run_config}, {"checkpoint", run_checkpoint}};
  return all;
}

}  // namespace odegan::fuzz
