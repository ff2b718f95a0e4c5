// What every training app shares: the run directory, files written atomically and
// durably, per-step metrics logs (CSV and JSON lines) that survive kill -9 and resumption,
// checkpoints (one safetensors file per checkpoint plus a "latest" pointer, both written
// atomically, so a crash or a NaN never destroys the last good one), and a main() wrapper
// that turns errors into one clear line and a non-zero exit. docs/architecture.md ("Run
// directories") says what is fsynced when.
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

// Creates the directory (and parents) and checks it is writable; returns it. Directories it
// creates are remembered: a failed start (run_main) removes those it left empty.
std::string prepare_dir(const std::string& dir);
// Removes the directories prepare_dir created that hold nothing but empty directories (run_main
// calls it when the app fails, so a bad flag or file leaves no empty run directory behind).
void remove_empty_created_dirs();
// Removes temp files "<name>.tmp.<pid>" in `dir` left by processes that are no longer
// running (a kill -9 during an atomic write); returns how many.
int remove_stale_temp_files(const std::string& dir);

// Atomic and durable: a temp file in the same directory, written, fsynced, renamed over
// `path`, then the directory fsynced. Any failure removes the temp file and throws an
// error naming `path`.
void write_text(const std::string& path, const std::string& text);
void write_json(const std::string& path, const json& j);
// The same for files a library writes by name: `write(tmp)` creates the temp file.
void write_file_via(const std::string& path, const std::function<void(const std::string& tmp)>& write);

// Reads a JSON file; a missing file, a directory, a FIFO or invalid JSON is an error naming it.
json read_json(const std::string& path);
// Throws unless `path` is a regular file (checked before opening, so a FIFO never blocks).
void require_regular_file(const std::string& path, const std::string& what);

// Test hooks, read from the environment (docs/architecture.md):
//   ODEGAN_FAULT_WRITE=<substring>[@N]  from the N-th (default 1st) write to a file whose
//     name contains it on, writes fail (ENOSPC);
//   ODEGAN_FAULT_KILL=<substring>[@N]  the N-th (default 1st) write or point whose name
//     contains it raises SIGKILL (writes: after half of the bytes).
//   ODEGAN_FAULT_RANK=<rank>:<step>:<throw|kill|nan>  in a parallel run, rank <rank> fails
//     when it draws the batch of step <step>: an exception, SIGKILL, or a NaN in its shard.
// fault_point(name) is a named point for ODEGAN_FAULT_KILL (e.g. inside save_checkpoint).
void fault_point(const std::string& name);
// The ODEGAN_FAULT_RANK hook: call with this rank, the step being drawn and its shard.
void fault_rank(int rank, int64_t step, Tensor& shard);

// An append-only log of text lines, each tagged with a training step. Opened for
// resumption at `resume_step` >= 0, the file is truncated in place after the last complete
// line with step <= resume_step (the rows before are never rewritten, so a kill at any
// instant leaves the old or the truncated file); otherwise it starts afresh. sync() writes
// and fsyncs everything appended; the apps call it before every checkpoint, so the log on
// disk always covers the latest checkpoint. Write errors throw, naming the file.
class AppendLog {
 public:
  // `step_of(line)` parses a line's step (nullopt: a malformed line, which ends the kept part).
  AppendLog(std::string path, std::string header, int64_t resume_step,
            const std::function<std::optional<double>(const std::string&)>& step_of);
  ~AppendLog();
  AppendLog(const AppendLog&) = delete;
  AppendLog& operator=(const AppendLog&) = delete;
  void append(const std::string& line);  // without the newline
  void sync();
  const std::string& path() const { return path_; }
  // The kept lines of a resumed file (without the header).
  const std::vector<std::string>& kept() const { return kept_; }

 private:
  void flush();
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  std::vector<std::string> kept_;
};

// A CSV log with named columns, one row per call to append().
class MetricsLog {
 public:
  MetricsLog(std::string path, std::vector<std::string> columns, int64_t resume_step = -1);
  void append(const std::vector<double>& values);  // in column order; values[0] is the step
  void sync() { log_.sync(); }
  // Every row so far (including those kept from before a resume).
  const std::vector<std::vector<double>>& rows() const { return rows_; }
  std::vector<double> column(const std::string& name) const;

 private:
  std::vector<std::string> columns_;
  AppendLog log_;
  std::vector<std::vector<double>> rows_;
};

// JSON lines with a "step" key.
class JsonlLog {
 public:
  JsonlLog(std::string path, int64_t resume_step = -1);
  void append(const json& row) { log_.append(row.dump()); }
  void sync() { log_.sync(); }

 private:
  AppendLog log_;
};

struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  json info;         // step, RNG states, options: anything that is not a tensor
  std::string path;  // where it was read from (for messages)

  // Validated accessors: a missing key or a value of the wrong type or range is an error
  // naming the checkpoint file and the key.
  int64_t step() const { return get_int("step", 0, kMaxStep); }
  int64_t get_int(const std::string& key, int64_t lo, int64_t hi) const;
  uint64_t get_uint(const std::string& key) const;
  double get_positive(const std::string& key) const;  // finite and > 0
  std::string get_string(const std::string& key) const;
  const Tensor& tensor(const std::string& name) const;
  // Copies tensor `name` into `dst`, which must have its shape (a mismatch says so,
  // naming the file and the flags that change sizes).
  void copy_into(Tensor& dst, const std::string& name) const;

  // The layout of the tensors (info "format"):
  //   2 (written now): every parameter and buffer of each player under the names PyTorch's
  //     state_dict() would give them, prefixed by the player: "generator.<name>",
  //     "discriminator.<name>" (e.g. generator.1.weight, generator.2.running_mean); the
  //     stepper's state (Adam moments, multistep history) under "solver.<name>".
  //   1 (older runs, no "format" key): parameters as "generator.*" / "discriminator.*" and
  //     again in one flat "state", buffers as "g.*" / "d.*", batch norm's affine
  //     parameters named gamma / beta, the stepper's state without a prefix.
  static constexpr int kFormat = 2;
  int format() const;
  // One player's ("generator" or "discriminator") parameters and buffers, by the names of
  // its module's state_dict(), from either format.
  std::map<std::string, Tensor> player(const std::string& which) const;

  static constexpr int64_t kMaxStep = int64_t(1) << 50;
};

// Writes <dir>/ckpt-<step>.safetensors and points <dir>/latest at it; keeps the newest
// `keep` checkpoints.
void save_checkpoint(const std::string& dir, int64_t step, const Checkpoint& ckpt, int keep = 3);
// Reads and validates a checkpoint file: a regular file, valid safetensors, metadata that
// is a JSON object with an integer "step" in [0, 2^50] and a known "format", and the
// generator's tensors (format 2) or the flat "state" (format 1). Throws
// odegan::Error (never anything else) naming the file.
Checkpoint read_checkpoint(const std::string& path);
// The file <dir>/latest points to ("" when there is no pointer).
std::string latest_checkpoint_path(const std::string& dir);
// The checkpoint <dir>/latest points to, if any.
std::optional<Checkpoint> load_latest_checkpoint(const std::string& dir);

// Runs an app body with stdout line-buffered; an exception prints "<prog>: error: <message>",
// removes the run directories the start created and left empty, and returns 1.
int run_main(const char* prog, const std::function<int()>& body);

// Wall-clock seconds since the epoch (for logs) and a monotonic stopwatch.
double now_seconds();

}  // namespace odegan::app
