#include "apps/common/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/safetensors.h"

namespace odegan::app {

namespace fs = std::filesystem;

std::string prepare_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ODEGAN_CHECK(!ec, "cannot create directory '", dir, "': ", ec.message());
  ODEGAN_CHECK(::access(dir.c_str(), W_OK) == 0, "directory '", dir, "' is not writable");
  return dir;
}

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    ODEGAN_CHECK(out.good(), "cannot write '", tmp, "'");
    out << text;
    out.flush();
    ODEGAN_CHECK(out.good(), "writing '", tmp, "' failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  ODEGAN_CHECK(!ec, "cannot rename '", tmp, "' to '", path, "': ", ec.message());
}

void write_json(const std::string& path, const json& j) { write_text(path, j.dump(2) + "\n"); }

json read_json(const std::string& path) {
  std::ifstream in(path);
  ODEGAN_CHECK(in.good(), "cannot read '", path, "'");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    ODEGAN_FAIL("'", path, "' is not valid JSON: ", e.what());
  }
}

// ---------------------------------------------------------------- metrics log

MetricsLog::MetricsLog(std::string path, std::vector<std::string> columns, int64_t resume_step)
    : path_(std::move(path)), columns_(std::move(columns)) {
  if (resume_step >= 0 && fs::exists(path_)) {
    std::ifstream in(path_);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<double> row;
      std::stringstream ss(line);
      std::string cell;
      while (std::getline(ss, cell, ',')) row.push_back(cell.empty() ? NAN : std::strtod(cell.c_str(), nullptr));
      if (row.size() != columns_.size() || row[0] > static_cast<double>(resume_step)) continue;
      rows_.push_back(row);
    }
  }
  // Rewrite the kept rows, then append.
  file_ = std::fopen(path_.c_str(), "w");
  ODEGAN_CHECK(file_ != nullptr, "cannot write metrics log '", path_, "'");
  for (size_t i = 0; i < columns_.size(); ++i) std::fprintf(file_, "%s%s", i ? "," : "", columns_[i].c_str());
  std::fprintf(file_, "\n");
  for (const auto& r : rows_) {
    for (size_t i = 0; i < r.size(); ++i) std::fprintf(file_, "%s%.17g", i ? "," : "", r[i]);
    std::fprintf(file_, "\n");
  }
  std::fflush(file_);
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::append(const std::vector<double>& v) {
  ODEGAN_CHECK(v.size() == columns_.size(), "MetricsLog: ", v.size(), " values for ", columns_.size(), " columns");
  rows_.push_back(v);
  for (size_t i = 0; i < v.size(); ++i) std::fprintf(file_, "%s%.17g", i ? "," : "", v[i]);
  std::fprintf(file_, "\n");
  // Flushed at most every few hundred rows by stdio; checkpoints flush explicitly.
}

std::vector<double> MetricsLog::column(const std::string& name) const {
  auto it = std::find(columns_.begin(), columns_.end(), name);
  ODEGAN_CHECK(it != columns_.end(), "MetricsLog: no column '", name, "'");
  const size_t k = static_cast<size_t>(it - columns_.begin());
  std::vector<double> out;
  for (const auto& r : rows_) out.push_back(r[k]);
  return out;
}

// ---------------------------------------------------------------- checkpoints

void save_checkpoint(const std::string& dir, int64_t step, const Checkpoint& ckpt, int keep) {
  prepare_dir(dir);
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%09lld.safetensors", static_cast<long long>(step));
  json info = ckpt.info;
  info["step"] = step;
  save_safetensors(dir + "/" + name, ckpt.tensors, {{"odegan", info.dump()}});
  write_text(dir + "/latest", std::string(name) + "\n");
  // Remove older checkpoints beyond `keep` (never the one just written).
  std::vector<std::string> all;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("ckpt-", 0) == 0 && f.size() > 12 && f.substr(f.size() - 12) == ".safetensors") all.push_back(f);
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i)
    if (all[i] != name) fs::remove(dir + "/" + all[i]);
}

std::optional<Checkpoint> load_latest_checkpoint(const std::string& dir) {
  const std::string pointer = dir + "/latest";
  if (!fs::exists(pointer)) return std::nullopt;
  std::ifstream in(pointer);
  std::string name;
  std::getline(in, name);
  ODEGAN_CHECK(!name.empty(), "checkpoint pointer '", pointer, "' is empty");
  const std::string path = dir + "/" + name;
  std::map<std::string, std::string> meta;
  Checkpoint c;
  c.tensors = load_safetensors(path, &meta);
  ODEGAN_CHECK(meta.count("odegan"), "checkpoint '", path, "' has no odegan metadata");
  try {
    c.info = json::parse(meta["odegan"]);
  } catch (const json::exception& e) {
    ODEGAN_FAIL("checkpoint '", path, "': bad metadata: ", e.what());
  }
  return c;
}

int run_main(const char* prog, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "\n%s: error: %s\n", prog, e.what());
    return 1;
  }
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace odegan::app
