// What every training app shares: the run directory, JSON files written atomically, a
// per-step metrics log (CSV) that survives resumption, checkpoints (one safetensors file
// per checkpoint plus a "latest" pointer, both written atomically, so a crash or a NaN
// never destroys the last good one), and a main() wrapper that turns errors into one
// clear line and a non-zero exit.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace odegan::app {

using json = nlohmann::json;

// Creates the directory (and parents) and checks it is writable; returns it.
std::string prepare_dir(const std::string& dir);
void write_json(const std::string& path, const json& j);  // atomic (temp file + rename)
json read_json(const std::string& path);
void write_text(const std::string& path, const std::string& text);  // atomic

// A CSV log with named columns, one row per call to append(). Opened for resumption at
// `resume_step`, it keeps the rows with step <= resume_step and drops the rest (they
// belong to the interrupted part of the run).
class MetricsLog {
 public:
  MetricsLog(std::string path, std::vector<std::string> columns, int64_t resume_step = -1);
  ~MetricsLog();
  void append(const std::vector<double>& values);  // in column order; values[0] is the step
  // Every row so far (including those kept from before a resume).
  const std::vector<std::vector<double>>& rows() const { return rows_; }
  std::vector<double> column(const std::string& name) const;

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::vector<std::vector<double>> rows_;
  std::FILE* file_ = nullptr;
};

struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  json info;  // step, RNG states, options: anything that is not a tensor
};

// Writes <dir>/ckpt-<step>.safetensors and points <dir>/latest at it; keeps the newest
// `keep` checkpoints.
void save_checkpoint(const std::string& dir, int64_t step, const Checkpoint& ckpt, int keep = 3);
// The checkpoint <dir>/latest points to, if any.
std::optional<Checkpoint> load_latest_checkpoint(const std::string& dir);

// Runs an app body; an exception prints "<prog>: error: <message>" and returns 1.
int run_main(const char* prog, const std::function<int()>& body);

// Wall-clock seconds since the epoch (for logs) and a monotonic stopwatch.
double now_seconds();

}  // namespace odegan::app
