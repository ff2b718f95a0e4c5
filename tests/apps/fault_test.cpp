// Fault tests of the run directory: training runs killed (SIGKILL) at chosen points,
// including inside a checkpoint write, and after random delays, then resumed, must end with
// the uninterrupted run's logs (no row lost, none duplicated) and final state; an injected
// write failure (ENOSPC) on any file of the run directory stops the run with an error
// naming the file and loses nothing: the resumed run again matches the uninterrupted one.
// The hooks (ODEGAN_FAULT_KILL, ODEGAN_FAULT_WRITE) are described in apps/common/run.h.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "core/safetensors.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int code = -1;       // exit code, or -1
  bool killed = false;  // ended by SIGKILL
  std::string output;
};

Result run(const std::string& cmd) {
  Result r;
  FILE* p = popen(("ODEGAN_NUM_THREADS=1 exec " + cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int st = pclose(p);
  if (WIFEXITED(st)) r.code = WEXITSTATUS(st);
  r.killed = (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) || r.code == 128 + SIGKILL;
  return r;
}

// Starts `cmd` and kills it with SIGKILL after `ms` milliseconds (if still running);
// returns whether it was killed.
bool run_and_kill_after(const std::string& cmd, int ms) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("ODEGAN_NUM_THREADS=1 exec " + cmd + " >/dev/null 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  const bool killed = ::kill(pid, SIGKILL) == 0;
  int st = 0;
  waitpid(pid, &st, 0);
  return killed && WIFSIGNALED(st);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The CSV without the wall-clock columns (which differ between runs).
std::string strip_columns(const std::string& csv, std::vector<int> drop) {
  std::stringstream in(csv), out;
  for (std::string line; std::getline(in, line);) {
    std::stringstream cells(line);
    int k = 0;
    for (std::string cell; std::getline(cells, cell, ','); ++k)
      if (std::find(drop.begin(), drop.end(), k) == drop.end()) out << cell << ",";
    out << "\n";
  }
  return out.str();
}

std::string strip_jsonl(const std::string& text) {
  std::stringstream in(text), out;
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    j.erase("ms_per_step");
    j.erase("images_per_s");
    out << j.dump() << "\n";
  }
  return out.str();
}

// Temp files left under `dir` (none when a failed start removed the empty directory).
std::vector<std::string> temp_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

// Every value of the state and the generator's buffers, bitwise.
std::vector<double> final_state(const std::string& ckpt) {
  std::vector<double> all;
  for (auto& [name, t] : odegan::load_safetensors(ckpt))
    if (name.rfind("generator.", 0) == 0 || name.rfind("discriminator.", 0) == 0)
      for (double v : t.to(odegan::DType::f64).to_vector<double>()) all.push_back(v);
  return all;
}

// Resumes until the run completes (at most a few times); returns the last output.
std::string resume_to_end(const std::string& cmd) {
  Result r;
  for (int attempt = 0; attempt < 3; ++attempt) {
    r = run(cmd + " --resume");
    if (r.code == 0) return r.output;
  }
  ADD_FAILURE() << "resume failed: " << r.output;
  return r.output;
}

// ---------------------------------------------------------------- MoG

const std::string kMogFlags =
    " --device cpu --steps 60 --checkpoint-every 10 --eval-every 20 --eval-samples 100 --batch 16"
    " --figure-steps 0,20,40,60";

class MogFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_ = new std::string(odegan::testing::temp_dir() + "/mog-reference");
    const auto t0 = std::chrono::steady_clock::now();
    Result r = run(bin("odegan_mog") + kMogFlags + " --out " + *reference_);
    reference_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() { delete reference_; }

  // The run in `dir` ended like the reference: the same rows (bitwise, but the timing
  // column), the same final state, no temp files.
  void expect_like_reference(const std::string& dir) {
    const std::string csv = read_file(dir + "/metrics.csv"), ref = read_file(*reference_ + "/metrics.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 61) << dir;
    EXPECT_EQ(strip_columns(csv, {8}), strip_columns(ref, {8})) << dir;
    EXPECT_EQ(final_state(dir + "/checkpoints/ckpt-000000060.safetensors"),
              final_state(*reference_ + "/checkpoints/ckpt-000000060.safetensors"))
        << dir;
    const json a = json::parse(read_file(dir + "/metrics.json")), b = json::parse(read_file(*reference_ + "/metrics.json"));
    EXPECT_EQ(a["loss_d"], b["loss_d"]) << dir;
    EXPECT_EQ(a["modes_covered"], b["modes_covered"]) << dir;
    EXPECT_EQ(temp_files(dir), std::vector<std::string>{}) << dir;
    for (const char* f : {"config.json", "mog.png", "losses.png", "snapshots/step-000000040.safetensors"})
      EXPECT_TRUE(fs::exists(dir + "/" + f)) << dir << ": " << f;
  }

  static std::string* reference_;
  static double reference_ms_;  // wall time of the uninterrupted run (kill delays scale with it)
};
std::string* MogFaults::reference_ = nullptr;
double MogFaults::reference_ms_ = 0;

TEST_F(MogFaults, KilledAtChosenPointsThenResumedMatchesTheUninterruptedRun) {
  // Inside a log write (half a buffer written), between the checkpoint file and its
  // "latest" pointer, inside the pointer's write, after it, and inside the final writes.
  for (const std::string point : {"metrics.csv@4", "checkpoint-written@2", "latest@3", "checkpoint-linked@4",
                                  "metrics.json", "mog.png", "step-000000040"}) {
    const std::string dir = odegan::testing::temp_dir() + "/mog-kill-" + point;
    const std::string cmd = bin("odegan_mog") + kMogFlags + " --out '" + dir + "'";
    Result r = run("env ODEGAN_FAULT_KILL=" + point + " " + cmd);
    ASSERT_TRUE(r.killed) << point << ": " << r.output;
    resume_to_end(cmd);
    expect_like_reference(dir);
  }
}

TEST_F(MogFaults, KilledAfterRandomDelaysThenResumedMatchesTheUninterruptedRun) {
  const std::string dir = odegan::testing::temp_dir() + "/mog-random";
  const std::string cmd = bin("odegan_mog") + kMogFlags + " --out " + dir;
  std::mt19937 rng(12345);
  // Delays between 10 % and 90 % of an uninterrupted run's time, so kills land inside the
  // run on a fast idle machine as on a loaded one. A run that finishes before its kill
  // (the reference was timed while the machine was busier) is thrown away and started
  // again with shorter delays: four kills must land, each resumed by the next run.
  int kills = 0;
  bool fresh = true;
  double scale = 1.0;
  for (int attempt = 0; attempt < 24 && kills < 4; ++attempt) {
    const double fraction = 0.1 + 0.8 * static_cast<double>(rng() % 1000) / 1000.0;
    const int ms = std::max(1, static_cast<int>(fraction * scale * reference_ms_));
    if (run_and_kill_after(cmd + (fresh ? "" : " --resume"), ms)) {
      ++kills;
      fresh = false;
    } else {
      fs::remove_all(dir);
      fresh = true;
      scale *= 0.7;
    }
  }
  EXPECT_EQ(kills, 4) << "kills did not land inside runs of " << reference_ms_ << " ms";
  resume_to_end(cmd);
  expect_like_reference(dir);
}

TEST_F(MogFaults, WriteFailureOnAnyFileIsAnErrorNamingItAndLosesNothing) {
  for (const std::string file : {"metrics.csv@3", "config.json", "ckpt-000000020", "latest@2", "step-000000020",
                                 "metrics.json", "mog.png", "losses.png"}) {
    const std::string dir = odegan::testing::temp_dir() + "/mog-enospc-" + file;
    const std::string cmd = bin("odegan_mog") + kMogFlags + " --out '" + dir + "'";
    Result r = run("env ODEGAN_FAULT_WRITE=" + file + " " + cmd);
    EXPECT_EQ(r.code, 1) << file << ": " << r.output;
    const std::string name = file.substr(0, file.find('@'));
    EXPECT_NE(r.output.find("cannot write '" + dir), std::string::npos) << file << ": " << r.output;
    EXPECT_NE(r.output.find(name), std::string::npos) << file << ": " << r.output;
    EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << file << ": " << r.output;
    EXPECT_EQ(temp_files(dir), std::vector<std::string>{}) << file;
    // config.json is the first file: that start failed before writing anything, and removed
    // the run directory it had created.
    if (file == "config.json") {
      EXPECT_FALSE(fs::exists(dir)) << "a failed start left its empty run directory";
    }
    resume_to_end(cmd);
    expect_like_reference(dir);
  }
}

// ---------------------------------------------------------------- image GAN

std::string tiny_cifar(const std::string& dir) { return ::odegan::testing::write_tiny_cifar10(dir, 29, 5); }

TEST(ImageGanFaults, KilledOrFailedWritesThenResumedMatchTheUninterruptedRun) {
  const std::string base = odegan::testing::temp_dir();
  const std::string cmd0 = bin("odegan_cifar10") + " --data " + tiny_cifar(base + "/cifar") +
                           " --device cpu --width-mult 0.03125 --batch 4 --latent 8 --threads 1 --steps 6"
                           " --log-every 1 --sample-every 2 --checkpoint-every 2";
  Result ref = run(cmd0 + " --out " + base + "/reference");
  ASSERT_EQ(ref.code, 0) << ref.output;
  auto expect_like_reference = [&](const std::string& dir) {
    EXPECT_EQ(strip_jsonl(read_file(dir + "/metrics.jsonl")), strip_jsonl(read_file(base + "/reference/metrics.jsonl")))
        << dir;
    EXPECT_EQ(strip_columns(read_file(dir + "/metrics.csv"), {8, 9}),
              strip_columns(read_file(base + "/reference/metrics.csv"), {8, 9}))
        << dir;
    EXPECT_EQ(final_state(dir + "/checkpoints/ckpt-000000006.safetensors"),
              final_state(base + "/reference/checkpoints/ckpt-000000006.safetensors"))
        << dir;
    EXPECT_EQ(read_file(dir + "/config.json"), read_file(base + "/reference/config.json").replace(
                                                   read_file(base + "/reference/config.json").find(base + "/reference"),
                                                   (base + "/reference").size(), dir))
        << dir;
    EXPECT_EQ(temp_files(dir), std::vector<std::string>{}) << dir;
  };
  for (const std::string point : {"metrics.jsonl@2", "checkpoint-written@2", "latest@2", "step-000000004.png"}) {
    const std::string dir = base + "/kill-" + point;
    const std::string cmd = cmd0 + " --out '" + dir + "'";
    Result r = run("env ODEGAN_FAULT_KILL=" + point + " " + cmd);
    ASSERT_TRUE(r.killed) << point << ": " << r.output;
    resume_to_end(cmd);
    expect_like_reference(dir);
  }
  for (const std::string file : {"metrics.jsonl@2", "metrics.csv@3", "ckpt-000000004", "latest.png@2",
                                 "config.json"}) {
    const std::string dir = base + "/enospc-" + file;
    const std::string cmd = cmd0 + " --out '" + dir + "'";
    Result r = run("env ODEGAN_FAULT_WRITE=" + file + " " + cmd);
    EXPECT_EQ(r.code, 1) << file << ": " << r.output;
    EXPECT_NE(r.output.find("cannot write '" + dir), std::string::npos) << file << ": " << r.output;
    EXPECT_NE(r.output.find(file.substr(0, file.find('@'))), std::string::npos) << file << ": " << r.output;
    EXPECT_EQ(temp_files(dir), std::vector<std::string>{}) << file;
    if (file == "config.json") {
      EXPECT_FALSE(fs::exists(dir)) << "a failed start left its empty run directory";
    }
    resume_to_end(cmd);
    expect_like_reference(dir);
  }
}

}  // namespace
