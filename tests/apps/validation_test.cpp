// Bad input to the programs: nonsense flags refused with a message naming the flag,
// checkpoints with bad metadata, missing tensors or the wrong sizes refused with a message
// naming the file and the key, FIFOs and directories refused without blocking, a failed
// --resume that leaves config.json alone; and the pieces under them (the logs' resume
// truncation, stale temp files, axis ticks over non-finite or huge ranges).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/common/flags.h"
#include "apps/common/image_gan.h"
#include "apps/common/plot.h"
#include "apps/common/run.h"
#include "core/safetensors.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;
int run(const std::string& cmd, std::string* output) { return ::odegan::testing::run(cmd, output, 20); }

namespace fs = std::filesystem;
using nlohmann::json;
using namespace odegan;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// ---------------------------------------------------------------- flags

TEST(Flags, EveryProgramRefusesNonsenseNamingTheFlag) {
  const std::string out = odegan::testing::temp_dir() + "/flags";
  const std::string cifar = bin("odegan_cifar10") + " --data /nonexistent --out " + out;
  struct Case {
    std::string cmd, flag;
  };
  const std::vector<Case> cases = {
      {cifar + " --width-mult 0", "--width-mult"},
      {cifar + " --width-mult -1", "--width-mult"},
      {cifar + " --width-mult nan", "--width-mult"},
      {cifar + " --width-mult inf", "--width-mult"},
      {cifar + " --width-mult 1e30", "--width-mult"},
      {cifar + " --steps 1e20", "--steps"},
      {cifar + " --steps 99999999999999999999", "--steps"},
      {cifar + " --steps -5", "--steps"},
      {cifar + " --sample-every -1", "--sample-every"},
      {cifar + " --checkpoint-every -2", "--checkpoint-every"},
      {cifar + " --log-every -1", "--log-every"},
      {cifar + " --adam-beta1 2", "--adam-beta1"},
      {cifar + " --adam-beta2 1", "--adam-beta2"},
      {cifar + " --h 0", "--h"},
      {cifar + " --h inf", "--h"},
      {cifar + " --lambda -1", "--lambda"},
      {cifar + " --seed -1", "--seed"},
      {cifar + " --batch 0", "--batch"},
      {cifar + " --threads 100000", "--threads"},
      {cifar + " --n-dis 0", "--n-dis"},
      {cifar + " --logits 3", "--logits"},
      {bin("odegan_imagenet") + " --data /nonexistent --out " + out + " --ch 0", "--ch"},
      {bin("odegan_mog") + " --out " + out + " --rtol 0", "--rtol"},
      {bin("odegan_mog") + " --out " + out + " --atol -1", "--atol"},
      {bin("odegan_mog") + " --out " + out + " --eval-samples 0", "--eval-samples"},
      {bin("odegan_mog") + " --out " + out + " --eval-every -1", "--eval-every"},
      {bin("odegan_mog") + " --out " + out + " --error-every -3", "--error-every"},
      {bin("odegan_mog") + " --out " + out + " --steps 1e20", "--steps"},
      {bin("odegan_mog") + " --out " + out + " --h nan", "--h"},
      {bin("odegan_mog") + " --out " + out + " --compare ''", "--compare"},
      {bin("odegan_mog") + " --out " + out + " --compare euler,,rk4", "--compare"},
      {bin("odegan_mog") + " --out " + out + " --figure-steps 0,x,2", "--figure-steps"},
      {bin("odegan_mog") + " --out " + out + " --figure-steps 0,99999999999999999999", "--figure-steps"},
      {bin("odegan_sample") + " --run " + out + " --n -1", "--n"},
      {bin("odegan_sample") + " --run " + out + " --cols 0", "--cols"},
      {bin("odegan_toy") + " --out " + out + " --h inf", "--h"},
      {bin("odegan_toy") + " --out " + out + " --theta0 inf", "--theta0"},
      {bin("odegan_toy") + " --out " + out + " --phi0 nan", "--phi0"},
      {bin("odegan_toy") + " --out " + out + " --methods ''", "--methods"},
      {bin("odegan_toy") + " --out " + out + " --eps 2", "--eps"},
      {bin("odegan_bench_mog") + " --steps 0", "--steps"},
      {bin("odegan_bench_models") + " --width 0", "--width"},
      {bin("odegan_bench_kernels") + " --batch -1", "--batch"},
      {bin("odegan_bench_loader") + " --threads 1,-2", "--threads"},
  };
  for (const Case& c : cases) {
    std::string log;
    EXPECT_NE(run(c.cmd, &log), 0) << c.cmd << "\n" << log;
    EXPECT_NE(log.find(c.flag), std::string::npos) << c.cmd << "\n" << log;
  }
  EXPECT_FALSE(fs::exists(out)) << "a refused flag must not create the output directory";
}

TEST(Flags, ValidatorsAcceptTheirRangeOnly) {
  auto ok = [](const CLI::Validator& v, std::string s) { return v(s).empty(); };
  EXPECT_TRUE(ok(app::flags::integer(0, 10), "10"));
  EXPECT_TRUE(ok(app::flags::integer(-1, 10), "-1"));
  EXPECT_FALSE(ok(app::flags::integer(0, 10), "11"));
  EXPECT_FALSE(ok(app::flags::integer(0, 10), "010"));  // CLI11 would read octal
  EXPECT_FALSE(ok(app::flags::integer(0, 10), "0x5"));
  EXPECT_FALSE(ok(app::flags::integer(0, INT64_MAX), "9223372036854775808"));
  EXPECT_TRUE(ok(app::flags::real(0, 1, true, true), "0.5"));
  EXPECT_FALSE(ok(app::flags::real(0, 1, true, true), "0"));
  EXPECT_FALSE(ok(app::flags::real(0, 1, true, true), "1"));
  EXPECT_FALSE(ok(app::flags::positive(), "1e999"));
  EXPECT_FALSE(ok(app::flags::positive(), "0.5x"));
  EXPECT_FALSE(ok(app::flags::list(), "a,"));
  EXPECT_TRUE(ok(app::flags::list(), "a,b"));
  EXPECT_EQ(app::flags::parse_integers("0,5,7", "--x", 0, 10), (std::vector<int64_t>{0, 5, 7}));
}

// ---------------------------------------------------------------- config.json

TEST(ConfigJson, WrongTypesAndRangesNameTheKey) {
  auto error_of = [](const json& j) {
    try {
      app::ImageGanConfig::from_json(j, "cfg.json");
    } catch (const odegan::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(json::parse(R"({"steps": "ten"})")).find("cfg.json: key 'steps' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"steps": 2.5})")).find("key 'steps' must be an integer"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"steps": 1e30})")).find("key 'steps'"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"width": 1e30})")).find("key 'width'"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"seed": -1})")).find("key 'seed'"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"arch": 3})")).find("key 'arch' must be a string"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"resume": 1, "random_flip": "yes"})")).find("key 'random_flip'"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse("[1, 2]")).find("expected a JSON object"), std::string::npos);
  // The nested quality settings too (a JSON type error escaped before).
  EXPECT_NE(error_of(json::parse(R"({"quality": {"every": "x"}})")).find("key 'quality.every' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"quality": 3})")).find("key 'quality': expected a JSON object"), std::string::npos);
  EXPECT_EQ(app::ImageGanConfig::from_json(json::parse(R"({"quality": {"every": 5}})")).quality.every, 5);
  EXPECT_EQ(error_of(json::parse(R"({"steps": 7, "width": 0.5, "arch": "resnet"})")), "no error");
  EXPECT_EQ(app::ImageGanConfig::from_json(json::parse(R"({"steps": 7})")).steps, 7);
}

TEST(ConfigJson, DirectoriesAndFifosAreRefusedWithoutBlocking) {
  const std::string dir = odegan::testing::temp_dir() + "/cfg";
  fs::create_directories(dir + "/config.json");
  std::string log;
  EXPECT_NE(run(bin("odegan_sample") + " --run " + dir + " --device cpu", &log), 0);
  EXPECT_NE(log.find("is a directory"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir + "/sampled")) << "odegan_sample must read the run before creating its output";
  fs::remove(dir + "/config.json");
  ASSERT_EQ(::mkfifo((dir + "/config.json").c_str(), 0644), 0);
  EXPECT_NE(run(bin("odegan_sample") + " --run " + dir + " --device cpu", &log), 0);
  EXPECT_NE(log.find("not a regular file"), std::string::npos) << log;
}

// ---------------------------------------------------------------- checkpoints

// A valid MoG run to corrupt copies of.
std::string mog_run() {
  static std::string dir;
  if (dir.empty()) {
    dir = odegan::testing::temp_dir() + "/mog-valid";
    std::string log;
    // AB2: a method whose checkpoint carries stepper state (the velocity history).
    EXPECT_EQ(run(bin("odegan_mog") + " --device cpu --method ab2 --steps 4 --checkpoint-every 2 --eval-every 0 "
                  "--batch 16 --eval-samples 16 --figure-steps 0,4 --out " + dir, &log), 0) << log;
  }
  return dir;
}

// Rewrites the latest checkpoint of a copy of the MoG run with `edit` applied to its
// tensors and metadata; returns the copy's directory.
std::string corrupted(const std::string& name,
                      const std::function<void(TensorMap&, json&)>& edit) {
  const std::string dir = odegan::testing::temp_dir() + "/corrupt-" + name;
  fs::remove_all(dir);
  fs::copy(mog_run(), dir, fs::copy_options::recursive);
  const std::string path = dir + "/checkpoints/ckpt-000000004.safetensors";
  std::map<std::string, std::string> meta;
  TensorMap t = load_safetensors(path, &meta);
  json info = json::parse(meta["odegan"]);
  edit(t, info);
  save_safetensors(path, t, {{"odegan", info.dump()}});
  return dir;
}

TEST(Checkpoints, EveryMetadataFieldIsValidatedNamingFileAndKey) {
  struct Case {
    std::string name;
    std::function<void(TensorMap&, json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"huge-step", [](TensorMap&, json& j) { j["step"] = 9223372036854775800ULL; }, "key 'step'"},
      {"negative-step", [](TensorMap&, json& j) { j["step"] = -3; }, "key 'step'"},
      {"fractional-step", [](TensorMap&, json& j) { j["step"] = 2.5; }, "key 'step'"},
      {"string-step", [](TensorMap&, json& j) { j["step"] = "4"; }, "key 'step'"},
      {"beyond-steps", [](TensorMap&, json& j) { j["step"] = 100; }, "beyond --steps"},
      {"negative-offset", [](TensorMap&, json& j) { j["data_offset"] = -1; }, "key 'data_offset'"},
      {"float-seed", [](TensorMap&, json& j) { j["data_seed"] = 1.5; }, "key 'data_seed'"},
      {"no-seed", [](TensorMap&, json& j) { j.erase("data_seed"); }, "key 'data_seed' is missing"},
      {"ab-count", [](TensorMap&, json& j) { j["ab_count"] = -1; }, "key 'ab_count'"},
      {"ab-step", [](TensorMap&, json& j) { j["ab_h1"] = "0.1"; }, "key 'ab_h1'"},
      {"ab-history", [](TensorMap& t, json&) { t["solver.ab.f1"] = Tensor::zeros({7}); }, "'ab.f1' has 7 values"},
      {"method", [](TensorMap&, json& j) { j["method"] = "euler"; }, "--method euler"},
      {"not-object", [](TensorMap&, json& j) { j = json::array({1, 2}); }, "must be a JSON object"},
      {"format", [](TensorMap&, json& j) { j["format"] = 3; }, "key 'format'"},
      {"no-generator", [](TensorMap& t, json&) {
         for (auto it = t.begin(); it != t.end();) it = it->first.rfind("generator.", 0) == 0 ? t.erase(it) : std::next(it);
       }, "has no generator tensors"},
      {"layer-size", [](TensorMap& t, json&) { t["generator.0.weight"] = Tensor::zeros({7}); },
       "'0.weight': expected [25, 32] float32, found [7] float32"},
      {"stray-tensor", [](TensorMap& t, json&) { t["discriminator.9.weight"] = Tensor::zeros({7}); },
       "unexpected '9.weight'"},
  };
  for (const Case& c : cases) {
    const std::string dir = corrupted(c.name, c.edit);
    const std::string config_before = read_file(dir + "/config.json");
    std::string log;
    EXPECT_EQ(run(bin("odegan_mog") + " --device cpu --method ab2 --steps 6 --checkpoint-every 2 --eval-every 0 "
                  "--batch 16 --eval-samples 16 --figure-steps 0,6 --resume --out " + dir, &log), 1)
        << c.name << "\n" << log;
    EXPECT_NE(log.find(c.expected), std::string::npos) << c.name << "\n" << log;
    EXPECT_NE(log.find("ckpt-000000004.safetensors"), std::string::npos) << c.name << "\n" << log;
    EXPECT_EQ(read_file(dir + "/config.json"), config_before) << c.name << ": a failed resume rewrote config.json";
  }
}

// Rewrites a checkpoint of today's layout (format 2) in the layout of earlier runs (format
// 1): the parameters also in one flat "state" (discriminator's, then generator's, in the
// modules' order), buffers as g.* / d.*, batch norm's weight / bias named gamma / beta, the
// stepper's state without its "solver." prefix, no "format" key.
void write_format1(const std::string& ckpt, const std::string& config) {
  std::map<std::string, std::string> meta;
  TensorMap t = load_safetensors(ckpt, &meta), out;
  json info = json::parse(meta.at("odegan"));
  info.erase("format");
  const app::ImageGanConfig c = app::ImageGanConfig::from_json(app::read_json(config), config);
  solvers::Players p = app::build_players(c, DType::f32, Device::cpu());
  std::vector<float> state;
  for (auto [player, module] : {std::pair<std::string, nn::Module*>{"discriminator", p.discriminator.get()},
                                {"generator", p.generator.get()}}) {
    for (auto& [name, v] : module->named_parameters()) {
      const Tensor& x = t.at(player + "." + name);
      for (float f : x.to_vector<float>()) state.push_back(f);
      std::string legacy = name;
      const size_t dot = name.rfind('.');
      const std::string stem = name.substr(0, dot + 1);
      if (t.count(player + "." + stem + "running_mean")) {  // batch norm
        if (name.substr(dot + 1) == "weight") legacy = stem + "gamma";
        if (name.substr(dot + 1) == "bias") legacy = stem + "beta";
      }
      out[player + "." + legacy] = x;
    }
    for (auto& [name, b] : module->named_buffers()) out[player.substr(0, 1) + "." + name] = t.at(player + "." + name);
  }
  out["state"] = Tensor::from_vector(state, {static_cast<int64_t>(state.size())});
  for (auto& [name, x] : t)
    if (name.rfind("solver.", 0) == 0) out[name.substr(7)] = x;
  save_safetensors(ckpt, out, {{"odegan", info.dump()}});
}

TEST(Checkpoints, EarlierRunsInTheOldLayoutResumeExactlyAndSample) {
  // A DCGAN with batch norm in G, RK4 with the regulariser: 2 steps, the checkpoint turned
  // into format 1, resumed to 4 steps, must equal the straight 4-step run bit for bit.
  const std::string base = odegan::testing::temp_dir();
  const std::string cmd = bin("odegan_cifar10") + " --data " + odegan::testing::write_tiny_cifar10(base + "/cifar", 12, 3) +
                          " --device cpu --width-mult 0.03125 --batch 4 --latent 8 --threads 0 --log-every 1"
                          " --sample-every 0 --checkpoint-every 2";
  std::string log;
  ASSERT_EQ(run(cmd + " --steps 4 --out " + base + "/full", &log), 0) << log;
  ASSERT_EQ(run(cmd + " --steps 2 --out " + base + "/part", &log), 0) << log;
  const std::string ckpt = base + "/part/checkpoints/ckpt-000000002.safetensors";
  write_format1(ckpt, base + "/part/config.json");
  ASSERT_EQ(load_safetensors(ckpt).count("state"), 1u);
  ASSERT_EQ(run(bin("odegan_sample") + " --run " + base + "/part --device cpu --n 2 --out " + base + "/eval-old", &log), 0)
      << log;
  ASSERT_EQ(run(cmd + " --steps 4 --resume --out " + base + "/part", &log), 0) << log;
  auto values = [](const std::string& path) {
    std::vector<std::pair<std::string, std::vector<double>>> v;
    for (auto& [name, x] : load_safetensors(path)) v.emplace_back(name, x.to(DType::f64).to_vector<double>());
    return v;
  };
  const auto full = values(base + "/full/checkpoints/ckpt-000000004.safetensors");
  EXPECT_TRUE(full == values(base + "/part/checkpoints/ckpt-000000004.safetensors"));
  // Today's layout: players by state_dict name (batch norm as PyTorch names it), no flat
  // state, the stepper's state under solver.*.
  std::vector<std::string> names;
  for (auto& [name, x] : full) names.push_back(name);
  for (const char* must : {"generator.0.weight", "generator.3.weight", "generator.3.bias", "generator.3.running_mean",
                           "generator.3.running_var", "discriminator.0.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << must;
  for (const std::string& n : names)
    EXPECT_TRUE(n.rfind("generator.", 0) == 0 || n.rfind("discriminator.", 0) == 0 || n.rfind("solver.", 0) == 0) << n;
}

TEST(Checkpoints, ReadCheckpointThrowsOdeganErrorsOnly) {
  const std::string dir = odegan::testing::temp_dir() + "/read-ckpt";
  fs::create_directories(dir + "/a-directory");
  auto error_of = [](const std::string& path) {
    try {
      app::read_checkpoint(path);
    } catch (const odegan::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(dir + "/missing").find("cannot read checkpoint"), std::string::npos);
  EXPECT_NE(error_of(dir + "/a-directory").find("is a directory"), std::string::npos);
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0644), 0);
  EXPECT_NE(error_of(dir + "/fifo").find("not a regular file"), std::string::npos);
  save_safetensors(dir + "/no-meta.safetensors", {{"state", Tensor::zeros({2})}});
  EXPECT_NE(error_of(dir + "/no-meta.safetensors").find("has no odegan metadata"), std::string::npos);
  save_safetensors(dir + "/bad-json.safetensors", {{"state", Tensor::zeros({2})}}, {{"odegan", "{step: 1"}});
  EXPECT_NE(error_of(dir + "/bad-json.safetensors").find("not valid JSON"), std::string::npos);
  save_safetensors(dir + "/ok.safetensors", {{"state", Tensor::zeros({2})}}, {{"odegan", R"({"step": 3})"}});
  EXPECT_EQ(app::read_checkpoint(dir + "/ok.safetensors").step(), 3);
  // A FIFO named by "latest" is refused too, without blocking.
  ASSERT_EQ(::mkfifo((dir + "/latest").c_str(), 0644), 0);
  try {
    app::load_latest_checkpoint(dir);
    ADD_FAILURE() << "a FIFO 'latest' was accepted";
  } catch (const odegan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

TEST(Checkpoints, FailedResumeWithOtherWidthLeavesTheRunUsable) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = base + "/cifar";
  fs::create_directories(data);
  for (int f = 1; f <= 5; ++f) {
    std::ofstream out(data + "/data_batch_" + std::to_string(f) + ".bin", std::ios::binary);
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3073; ++k) out.put(static_cast<char>((r + k * 3 + f) % 256));
  }
  const std::string cmd = bin("odegan_cifar10") + " --data " + data +
                          " --device cpu --batch 2 --latent 4 --threads 0 --log-every 1 --sample-every 0"
                          " --checkpoint-every 2 --out " + base + "/run";
  std::string log;
  ASSERT_EQ(run(cmd + " --width-mult 0.03125 --steps 2", &log), 0) << log;
  const std::string config = read_file(base + "/run/config.json");
  EXPECT_EQ(run(cmd + " --width-mult 0.0625 --steps 4 --resume", &log), 1) << log;
  EXPECT_NE(log.find("the generator does not match this run's configuration"), std::string::npos) << log;
  EXPECT_NE(log.find("--width-mult"), std::string::npos) << log;
  EXPECT_EQ(read_file(base + "/run/config.json"), config);
  ASSERT_EQ(run(bin("odegan_sample") + " --run " + base + "/run --device cpu --out " + base + "/eval", &log), 0) << log;
}

// ---------------------------------------------------------------- logs, temp files, plots

TEST(RunLogs, ResumeKeepsCompleteRowsUpToTheStepAndCutsTheRest) {
  const std::string dir = odegan::testing::temp_dir() + "/logs";
  fs::create_directories(dir);
  // Rows 1..4, then a row cut by a kill ("5,0.") and a row beyond the checkpoint.
  write_file(dir + "/m.csv", "step,x\n1,0.5\n2,1.5\n3,2.5\n4,3.5\n5,4");
  {
    app::MetricsLog log(dir + "/m.csv", {"step", "x"}, 3);
    EXPECT_EQ(log.rows().size(), 3u);
    log.append({4, 9});
    log.sync();
    EXPECT_EQ(read_file(dir + "/m.csv"), "step,x\n1,0.5\n2,1.5\n3,2.5\n4,9\n");
  }
  // A cut row whose prefix parses as an early step is not kept: "1" of "12,..." was cut.
  write_file(dir + "/m.csv", "step,x\n1,0.5\n1");
  { app::MetricsLog log(dir + "/m.csv", {"step", "x"}, 10); }
  EXPECT_EQ(read_file(dir + "/m.csv"), "step,x\n1,0.5\n");
  // JSON lines: the rows after the step (the interrupted part) are dropped, none duplicated.
  write_file(dir + "/m.jsonl", "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"st");
  {
    app::JsonlLog log(dir + "/m.jsonl", 2);
    log.append({{"step", 3}});
  }
  EXPECT_EQ(read_file(dir + "/m.jsonl"), "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n");
  // Another program's log is not silently overwritten on resume.
  write_file(dir + "/other.csv", "a,b\n1,2\n");
  EXPECT_THROW(app::MetricsLog(dir + "/other.csv", {"step", "x"}, 1), odegan::Error);
}

// A start that fails (here: no such dataset) removes the run directory it created and left
// empty, with the parents it created; a directory that existed before, or that holds a
// file, is kept.
TEST(RunDirs, AFailedStartLeavesNoEmptyRunDirectoryBehind) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  const std::string cmd = bin("odegan_cifar10") + " --data " + base + "/no-such-data --device cpu --steps 1 --out ";
  EXPECT_NE(run(cmd + base + "/new/run", &log), 0);
  EXPECT_NE(log.find("no-such-data"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(base + "/new")) << "a failed start left its empty directories";
  fs::create_directories(base + "/existing");
  EXPECT_NE(run(cmd + base + "/existing", &log), 0);
  EXPECT_TRUE(fs::is_directory(base + "/existing")) << "a directory the user made was removed";
  fs::create_directories(base + "/kept");
  EXPECT_NE(run(bin("odegan_mog") + " --steps 1 --method rk9 --out " + base + "/kept/run", &log), 0);
  EXPECT_FALSE(fs::exists(base + "/kept/run"));
  EXPECT_TRUE(fs::is_directory(base + "/kept"));
  // Unit level: a created directory that holds a file stays.
  app::prepare_dir(base + "/made/a/b");
  std::ofstream(base + "/made/a/note.txt") << "x";
  app::prepare_dir(base + "/empty/x/y");
  app::remove_empty_created_dirs();
  EXPECT_TRUE(fs::exists(base + "/made/a/note.txt"));
  EXPECT_FALSE(fs::exists(base + "/empty"));
}

// The expected duration is printed after the first steps, with a note when it means days
// (here 10^8 steps of a tiny model; the run is stopped by timeout once the note is out).
TEST(RunDirs, ImageAppsPrintTheExpectedDurationAndWarnWhenItIsDays) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = odegan::testing::write_tiny_cifar10(base + "/cifar");
  const std::string cmd = bin("odegan_cifar10") + " --data " + data + " --device cpu --width-mult 0.03125 --batch 4"
                          " --latent 8 --threads 0 --sample-every 0 --checkpoint-every 0 --log-every 1";
  std::string log;
  ::odegan::testing::run(cmd + " --steps 100000000 --out " + base + "/long", &log, 20);
  EXPECT_NE(log.find("timing: "), std::string::npos) << log;
  EXPECT_NE(log.find("steps take about "), std::string::npos) << log;
  EXPECT_NE(log.find("GPU work"), std::string::npos) << log;
  ASSERT_EQ(::odegan::testing::run(cmd + " --steps 6 --out " + base + "/short", &log), 0) << log;
  EXPECT_NE(log.find("the remaining 2 steps take about"), std::string::npos) << log;
  EXPECT_EQ(log.find("GPU work"), std::string::npos) << log;
}

TEST(RunDirs, OutputReachesAFileInTheOrderItWasPrinted) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = odegan::testing::write_tiny_cifar10(base + "/cifar");
  std::string log;
  ASSERT_EQ(::odegan::testing::run(bin("odegan_cifar10") + " --data " + data + " --device cpu --width-mult 0.03125"
                                   " --batch 4 --latent 8 --threads 0 --steps 2 --out " + base + "/run > " + base +
                                   "/out.txt 2>&1", &log), 0) << log;
  const std::string out = read_file(base + "/out.txt");
  const size_t header = out.find("odegan_cifar10: dcgan on cpu"), progress = out.find("2/2 steps");
  ASSERT_NE(header, std::string::npos) << out;
  ASSERT_NE(progress, std::string::npos) << out;
  EXPECT_LT(header, progress) << "stdout (the header) came after stderr (progress):\n" << out;
}

TEST(RunLogs, StaleTempFilesOfDeadProcessesAreRemoved) {
  const std::string dir = odegan::testing::temp_dir() + "/stale";
  fs::create_directories(dir);
  // A process that has exited: its pid is free (until reused, which this test accepts).
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  write_file(dir + "/latest.tmp." + std::to_string(dead), "x");
  write_file(dir + "/config.json.tmp." + std::to_string(getppid()), "x");  // a live process
  write_file(dir + "/notes.tmp.txt", "x");                                // not a temp file of ours
  EXPECT_EQ(app::remove_stale_temp_files(dir), 1);
  EXPECT_FALSE(fs::exists(dir + "/latest.tmp." + std::to_string(dead)));
  EXPECT_TRUE(fs::exists(dir + "/config.json.tmp." + std::to_string(getppid())));
  EXPECT_TRUE(fs::exists(dir + "/notes.tmp.txt"));
}

TEST(Plots, TicksEndForNonFiniteAndHugeRanges) {
  EXPECT_EQ(plot::nice_ticks(0, 1).size(), 6u);
  EXPECT_TRUE(plot::nice_ticks(0, INFINITY).empty());
  EXPECT_TRUE(plot::nice_ticks(-INFINITY, 0).empty());
  EXPECT_TRUE(plot::nice_ticks(NAN, 1).empty());
  EXPECT_TRUE(plot::nice_ticks(-1e308, 1e308).size() <= 1001);
  // The step (5000) vanishes next to 1e20 (1e20 + 5000 == 1e20): the loop never ended.
  EXPECT_TRUE(plot::nice_ticks(1e20, std::nextafter(1e20, INFINITY)).size() <= 1001);
  // Axes with non-finite or huge limits, linear and log, draw and return.
  plot::Canvas cv(200, 200);
  for (double hi : {double(INFINITY), double(NAN), 1e300, 1e308}) {
    plot::Axes ax(cv, 20, 20, 150, 150);
    ax.set_limits(0, hi, 1e-300, hi);
    ax.draw_frame("t", "x", "y");
    plot::Axes lg(cv, 20, 20, 150, 150);
    lg.set_log_y(true);
    lg.set_limits(-hi, hi, 1e-300, hi);
    lg.draw_frame("t", "x", "y");
  }
  std::string log;
  EXPECT_EQ(run(bin("odegan_toy") + " --out " + odegan::testing::temp_dir() + "/toy --theta0 1e100 --steps 20", &log),
            0)
      << log;
}

}  // namespace
