#include "apps/common/run.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/comm.h"
#include "core/safetensors.h"
#include "layers/module.h"

namespace odegan::app {

namespace fs = std::filesystem;

namespace {

std::string parent_of(const std::string& path) {
  const size_t k = path.find_last_of('/');
  return k == std::string::npos ? "." : k == 0 ? "/" : path.substr(0, k);
}

// The file name a fault hook matches: the base name without a ".tmp.<pid>" suffix.
std::string target_name(const std::string& path) {
  const size_t k = path.find_last_of('/');
  std::string name = k == std::string::npos ? path : path.substr(k + 1);
  const size_t t = name.rfind(".tmp.");
  if (t != std::string::npos) name.resize(t);
  return name;
}

// A fault hook "<substring>[@N]" from the environment, counting the names that match.
class FaultHook {
 public:
  explicit FaultHook(const char* var) {
    const char* env = std::getenv(var);
    if (!env || !*env) return;
    pattern_ = env;
    if (const size_t at = pattern_.rfind('@'); at != std::string::npos) {
      nth_ = std::max(1L, std::strtol(pattern_.c_str() + at + 1, nullptr, 10));
      pattern_.resize(at);
    }
  }
  // How many times a matching name has been seen (this one included); 0: no match.
  long hit(const std::string& name) {
    if (pattern_.empty() || name.find(pattern_) == std::string::npos) return 0;
    return ++count_;
  }
  long nth() const { return nth_; }

 private:
  std::string pattern_;
  long nth_ = 1;
  std::atomic<long> count_{0};
};

// From the N-th matching write on, every write fails (like a disk that stays full).
void injected_write_fault(const std::string& path) {
  static FaultHook hook("ODEGAN_FAULT_WRITE");
  const long k = hook.hit(target_name(path));
  if (k > 0 && k >= hook.nth())
    ODEGAN_FAIL("cannot write '", path, "': ", std::strerror(ENOSPC), " (injected by ODEGAN_FAULT_WRITE)");
}

bool kill_point_reached(const std::string& name) {
  static FaultHook hook("ODEGAN_FAULT_KILL");
  return hook.hit(name) == hook.nth();
}

[[noreturn]] void die_now() {
  std::fflush(stdout);
  ::raise(SIGKILL);
  std::abort();
}

// Writes all bytes or throws naming `path` (the file the user knows, not its temp name).
void write_all(int fd, const char* p, size_t n, const std::string& path) {
  injected_write_fault(path);
  if (kill_point_reached(target_name(path))) {
    ssize_t half = ::write(fd, p, n / 2);
    (void)half;
    die_now();
  }
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) ODEGAN_FAIL("cannot write '", path, "': ", std::strerror(w < 0 ? errno : EIO));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void fsync_fd(int fd, const std::string& path) {
  ODEGAN_CHECK(::fsync(fd) == 0, "cannot write '", path, "': fsync failed: ", std::strerror(errno));
}

// Makes a rename in `dir` durable. Some file systems cannot fsync a directory (EINVAL).
void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ODEGAN_CHECK(fd >= 0, "cannot open directory '", dir, "': ", std::strerror(errno));
  const int rc = ::fsync(fd), e = errno;
  ::close(fd);
  ODEGAN_CHECK(rc == 0 || e == EINVAL, "cannot fsync directory '", dir, "': ", std::strerror(e));
}

void check_regular(const struct stat& st, const std::string& path, const std::string& what) {
  ODEGAN_CHECK(!S_ISDIR(st.st_mode), what, " '", path, "' is a directory, not a file");
  ODEGAN_CHECK(S_ISREG(st.st_mode), what, " '", path, "' is not a regular file (a FIFO, socket or device)");
}

// Reads a whole regular file without ever blocking on a FIFO.
std::string read_regular_file(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ODEGAN_CHECK(fd >= 0, "cannot read ", what, " '", path, "': ", std::strerror(errno));
  std::string out;
  try {
    struct stat st {};
    ODEGAN_CHECK(::fstat(fd, &st) == 0, "cannot read ", what, " '", path, "': ", std::strerror(errno));
    check_regular(st, path, what);
    char buf[1 << 16];
    for (;;) {
      const ssize_t r = ::read(fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      ODEGAN_CHECK(r >= 0, "cannot read ", what, " '", path, "': ", std::strerror(errno));
      if (r == 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return out;
}

}  // namespace

void fault_point(const std::string& name) {
  if (kill_point_reached(name)) die_now();
}

namespace {
// Directories prepare_dir created (the topmost new one of each call), so that run_main can
// remove those a failed start left empty.
std::vector<fs::path>& created_dirs() {
  static std::vector<fs::path> dirs;
  return dirs;
}

// True when `dir` holds nothing but (possibly nested) empty directories.
bool only_empty_dirs(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (!e.is_directory(ec) || e.is_symlink(ec)) return false;
  return !ec;
}
}  // namespace

void remove_empty_created_dirs() {
  auto& dirs = created_dirs();
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    std::error_code ec;
    if (fs::is_directory(*it, ec) && only_empty_dirs(*it)) fs::remove_all(*it, ec);
  }
  dirs.clear();
}

std::string prepare_dir(const std::string& dir) {
  std::error_code ec;
  // The topmost directory this call creates: the child of the deepest existing ancestor.
  fs::path top, p = fs::absolute(fs::path(dir), ec).lexically_normal();
  if (!p.empty() && !p.has_filename()) p = p.parent_path();  // "runs/x/" -> "runs/x"
  while (!p.empty() && !fs::exists(p, ec) && p != p.parent_path()) top = p, p = p.parent_path();
  fs::create_directories(dir, ec);
  if (!ec && !top.empty()) created_dirs().push_back(top);
  ODEGAN_CHECK(!ec, "cannot create directory '", dir, "': ", ec.message());
  ODEGAN_CHECK(::access(dir.c_str(), W_OK) == 0, "directory '", dir, "' is not writable");
  return dir;
}

int remove_stale_temp_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t t = name.rfind(".tmp.");
    if (t == std::string::npos) continue;
    const std::string digits = name.substr(t + 5);
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    // A live process (other than this one, which has not written yet) may be writing it.
    if (pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM)) continue;
    if (fs::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

void write_file_via(const std::string& path, const std::function<void(const std::string& tmp)>& write) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    injected_write_fault(path);
    write(tmp);
    if (kill_point_reached(target_name(path))) die_now();
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    ODEGAN_CHECK(fd >= 0, "cannot write '", path, "': ", std::strerror(errno));
    const int rc = ::fsync(fd), e = errno;
    ::close(fd);
    ODEGAN_CHECK(rc == 0, "cannot write '", path, "': fsync failed: ", std::strerror(e));
    ODEGAN_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path,
                 "': ", std::strerror(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(parent_of(path));
}

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ODEGAN_CHECK(fd >= 0, "cannot write '", path, "': ", std::strerror(errno));
  try {
    write_all(fd, text.data(), text.size(), path);
    fsync_fd(fd, path);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    ODEGAN_FAIL("cannot write '", path, "': ", std::strerror(e));
  }
  fsync_dir(parent_of(path));
}

void write_json(const std::string& path, const json& j) { write_text(path, j.dump(2) + "\n"); }

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  ODEGAN_CHECK(::stat(path.c_str(), &st) == 0, "cannot read ", what, " '", path, "': ", std::strerror(errno));
  check_regular(st, path, what);
}

json read_json(const std::string& path) {
  const std::string text = read_regular_file(path, "file");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    ODEGAN_FAIL("'", path, "' is not valid JSON: ", e.what());
  }
}

// ---------------------------------------------------------------- logs

AppendLog::AppendLog(std::string path, std::string header, int64_t resume_step,
                     const std::function<std::optional<double>(const std::string&)>& step_of)
    : path_(std::move(path)) {
  if (resume_step >= 0) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ODEGAN_CHECK(fd_ >= 0 || errno == ENOENT, "cannot open log '", path_, "': ", std::strerror(errno));
  }
  if (fd_ >= 0) {
    try {
      struct stat st {};
      ODEGAN_CHECK(::fstat(fd_, &st) == 0, "cannot read log '", path_, "': ", std::strerror(errno));
      check_regular(st, path_, "log");
      const std::string text = read_regular_file(path_, "log");
      // Keep the complete lines up to the resume step; cut the file after the last of them.
      size_t keep = 0;
      const size_t first = header.empty() ? 0 : text.find('\n');
      if (first != std::string::npos) {
        if (!header.empty()) {
          const std::string found = text.substr(0, first);
          ODEGAN_CHECK(found == header, "log '", path_, "' starts with '", found, "', expected '", header,
                       "': it is not this program's log (delete it or use another --out)");
          keep = first + 1;
        }
        for (size_t pos = keep, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
          std::string line = text.substr(pos, nl - pos);
          const std::optional<double> s = step_of(line);
          if (!s || !(*s <= static_cast<double>(resume_step))) break;
          kept_.push_back(std::move(line));
          keep = nl + 1;
        }
      }
      if (keep < text.size()) {
        ODEGAN_CHECK(::ftruncate(fd_, static_cast<off_t>(keep)) == 0, "cannot truncate log '", path_,
                     "': ", std::strerror(errno));
        fsync_fd(fd_, path_);
      }
      ODEGAN_CHECK(::lseek(fd_, static_cast<off_t>(keep), SEEK_SET) >= 0, "cannot seek in log '", path_, "'");
      if (keep == 0 && !header.empty()) buffer_ = header + "\n";  // an empty file (or a cut header)
    } catch (...) {
      ::close(fd_);
      throw;
    }
  } else {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0644);
    ODEGAN_CHECK(fd_ >= 0, "cannot write log '", path_, "': ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      ODEGAN_FAIL("log '", path_, "' is not a regular file");
    }
    buffer_ = header.empty() ? "" : header + "\n";
  }
  try {
    flush();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

AppendLog::~AppendLog() {
  try {
    if (fd_ >= 0) flush();
  } catch (...) {
    // Reported by the sync() that failed, or lost with the rows after the last checkpoint.
  }
  if (fd_ >= 0) ::close(fd_);
}

void AppendLog::append(const std::string& line) {
  buffer_ += line;
  buffer_ += '\n';
  if (buffer_.size() >= 4096) flush();  // like stdio's buffer: a running job's log can be read
}

void AppendLog::flush() {
  if (buffer_.empty()) return;
  std::string pending;
  pending.swap(buffer_);  // never written twice, even after a failure
  write_all(fd_, pending.data(), pending.size(), path_);
}

void AppendLog::sync() {
  flush();
  fsync_fd(fd_, path_);
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

std::string csv_row(const std::vector<double>& v) {
  std::string s;
  char cell[40];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(cell, sizeof cell, "%s%.17g", i ? "," : "", v[i]);
    s += cell;
  }
  return s;
}

std::vector<double> parse_csv_row(const std::string& line) {
  std::vector<double> row;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) row.push_back(cell.empty() ? NAN : std::strtod(cell.c_str(), nullptr));
  if (!line.empty() && line.back() == ',') row.push_back(NAN);
  return row;
}

}  // namespace

MetricsLog::MetricsLog(std::string path, std::vector<std::string> columns, int64_t resume_step)
    : columns_(std::move(columns)),
      log_(std::move(path), join(columns_), resume_step, [n = columns_.size()](const std::string& line) {
        std::optional<double> step;
        if (static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1 != n) return step;
        char* end = nullptr;
        const double s = std::strtod(line.c_str(), &end);
        if (end != line.c_str() && *end == ',' && std::isfinite(s)) step = s;
        return step;
      }) {
  for (const std::string& line : log_.kept()) rows_.push_back(parse_csv_row(line));
}

void MetricsLog::append(const std::vector<double>& v) {
  ODEGAN_CHECK(v.size() == columns_.size(), "MetricsLog: ", v.size(), " values for ", columns_.size(), " columns");
  rows_.push_back(v);
  log_.append(csv_row(v));
}

std::vector<double> MetricsLog::column(const std::string& name) const {
  auto it = std::find(columns_.begin(), columns_.end(), name);
  ODEGAN_CHECK(it != columns_.end(), "MetricsLog: no column '", name, "'");
  const size_t k = static_cast<size_t>(it - columns_.begin());
  std::vector<double> out;
  for (const auto& r : rows_) out.push_back(r[k]);
  return out;
}

JsonlLog::JsonlLog(std::string path, int64_t resume_step)
    : log_(std::move(path), "", resume_step, [](const std::string& line) {
        std::optional<double> step;
        const json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("step") && j["step"].is_number()) step = j["step"].get<double>();
        return step;
      }) {}

// ---------------------------------------------------------------- checkpoints

namespace {

[[noreturn]] void bad_key(const Checkpoint& c, const std::string& key, const std::string& expected) {
  if (!c.info.is_object() || !c.info.contains(key))
    ODEGAN_FAIL("checkpoint '", c.path, "': metadata key '", key, "' is missing (expected ", expected, ")");
  ODEGAN_FAIL("checkpoint '", c.path, "': metadata key '", key, "' must be ", expected, ", got ",
              c.info.at(key).dump());
}

const json* find_key(const Checkpoint& c, const std::string& key) {
  if (!c.info.is_object()) return nullptr;
  auto it = c.info.find(key);
  return it == c.info.end() ? nullptr : &*it;
}

}  // namespace

int64_t Checkpoint::get_int(const std::string& key, int64_t lo, int64_t hi) const {
  const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  const json* v = find_key(*this, key);
  if (!v || !v->is_number_integer()) bad_key(*this, key, expected);
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) bad_key(*this, key, expected);
    return static_cast<int64_t>(u);
  }
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) bad_key(*this, key, expected);
  return x;
}

uint64_t Checkpoint::get_uint(const std::string& key) const {
  const json* v = find_key(*this, key);
  if (!v || !v->is_number_integer() || (!v->is_number_unsigned() && v->get<int64_t>() < 0))
    bad_key(*this, key, "a non-negative integer");
  return v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
}

double Checkpoint::get_positive(const std::string& key) const {
  const json* v = find_key(*this, key);
  if (!v || !v->is_number() || !std::isfinite(v->get<double>()) || !(v->get<double>() > 0))
    bad_key(*this, key, "a finite number > 0");
  return v->get<double>();
}

std::string Checkpoint::get_string(const std::string& key) const {
  const json* v = find_key(*this, key);
  if (!v || !v->is_string()) bad_key(*this, key, "a string");
  return v->get<std::string>();
}

const Tensor& Checkpoint::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  ODEGAN_CHECK(it != tensors.end(), "checkpoint '", path, "' has no tensor '", name, "'");
  return it->second;
}

void Checkpoint::copy_into(Tensor& dst, const std::string& name) const {
  const Tensor& t = tensor(name);
  ODEGAN_CHECK(t.numel() == dst.numel(), "checkpoint '", path, "' has ", name, " of ", t.numel(),
               " values, this config needs ", dst.numel(), " (was it written with other --width-mult/--arch?)");
  ODEGAN_CHECK(t.shape() == dst.shape(), "checkpoint '", path, "' has ", name, " of shape ", t.shape().str(),
               ", this config needs ", dst.shape().str(), " (was it written with other --width-mult/--arch?)");
  ODEGAN_CHECK(t.dtype() == dst.dtype(), "checkpoint '", path, "' has ", name, " in ", dtype_name(t.dtype()),
               ", this run uses ", dtype_name(dst.dtype()), " (--dtype)");
  dst.copy_(t.to(dst.device()));
}

int Checkpoint::format() const { return info.contains("format") ? static_cast<int>(get_int("format", 1, kFormat)) : 1; }

std::map<std::string, Tensor> Checkpoint::player(const std::string& which) const {
  ODEGAN_CHECK(which == "generator" || which == "discriminator", "Checkpoint::player: no player '", which, "'");
  std::map<std::string, Tensor> out;
  auto take = [&](const std::string& prefix) {
    for (const auto& [k, t] : tensors)
      if (k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0) out[k.substr(prefix.size())] = t;
  };
  take(which + ".");
  if (format() == 1) {
    out = nn::legacy_names(std::move(out));  // gamma, beta -> weight, bias
    take(which == "generator" ? "g." : "d.");  // the buffers
  }
  return out;
}

void save_checkpoint(const std::string& dir, int64_t step, const Checkpoint& ckpt, int keep) {
  prepare_dir(dir);
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%09lld.safetensors", static_cast<long long>(step));
  json info = ckpt.info;
  info["step"] = step;
  const std::string path = dir + "/" + name;
  injected_write_fault(path);
  save_safetensors(path, ckpt.tensors, {{"odegan", info.dump()}});
  fsync_dir(dir);
  fault_point("checkpoint-written");  // the file is there, "latest" still names the previous one
  write_text(dir + "/latest", std::string(name) + "\n");
  fault_point("checkpoint-linked");
  // Remove older checkpoints beyond `keep` (never the one just written).
  std::vector<std::string> all;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("ckpt-", 0) == 0 && f.size() > 12 && f.substr(f.size() - 12) == ".safetensors") all.push_back(f);
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i)
    if (all[i] != name) fs::remove(dir + "/" + all[i], ec);
}

Checkpoint read_checkpoint(const std::string& path) {
  require_regular_file(path, "checkpoint");
  Checkpoint c;
  c.path = path;
  std::map<std::string, std::string> meta;
  try {
    c.tensors = load_safetensors(path, &meta);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    ODEGAN_FAIL("checkpoint '", path, "' cannot be read: ", e.what());
  }
  ODEGAN_CHECK(meta.count("odegan"), "checkpoint '", path, "' has no odegan metadata");
  c.info = json::parse(meta["odegan"], nullptr, /*allow_exceptions=*/false);
  ODEGAN_CHECK(!c.info.is_discarded(), "checkpoint '", path, "': the odegan metadata is not valid JSON");
  ODEGAN_CHECK(c.info.is_object(), "checkpoint '", path, "': the odegan metadata must be a JSON object, got ",
               c.info.dump());
  c.step();
  if (c.format() == 1) {
    c.tensor("state");
  } else {
    ODEGAN_CHECK(!c.player("generator").empty(), "checkpoint '", path, "' has no generator tensors (generator.*)");
  }
  return c;
}

std::string latest_checkpoint_path(const std::string& dir) {
  const std::string pointer = dir + "/latest";
  struct stat st {};
  if (::stat(pointer.c_str(), &st) != 0 && errno == ENOENT) return "";
  const std::string text = read_regular_file(pointer, "checkpoint pointer");
  const std::string name = text.substr(0, text.find('\n'));
  ODEGAN_CHECK(!name.empty(), "checkpoint pointer '", pointer, "' is empty");
  ODEGAN_CHECK(name.size() < 256 && name.find('/') == std::string::npos && name != "." && name != "..",
               "checkpoint pointer '", pointer, "' does not hold a file name in ", dir);
  return dir + "/" + name;
}

std::optional<Checkpoint> load_latest_checkpoint(const std::string& dir) {
  const std::string path = latest_checkpoint_path(dir);
  if (path.empty()) return std::nullopt;
  return read_checkpoint(path);
}

void fault_rank(int rank, int64_t step, Tensor& shard) {
  static const char* spec = std::getenv("ODEGAN_FAULT_RANK");
  if (!spec || !*spec) return;
  int r = -1;
  long long s = -1;
  char kind[16] = {0};
  ODEGAN_CHECK(std::sscanf(spec, "%d:%lld:%15s", &r, &s, kind) == 3, "ODEGAN_FAULT_RANK='", spec,
               "': expected <rank>:<step>:<throw|kill|nan>");
  if (r != rank || s != step) return;
  const std::string k = kind;
  if (k == "throw") ODEGAN_FAIL("injected failure (ODEGAN_FAULT_RANK) at step ", step);
  if (k == "kill") ::raise(SIGKILL);
  if (k == "nan") shard.fill_(NAN);
}

int run_main(const char* prog, const std::function<int()>& body) {
  // Line-buffered stdout: the header and result lines and the progress lines (stderr) reach a
  // log file in the order they were printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return body();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    const int ranks = launched_world_size();
    if (ranks > 1) {
      // One rank's error ends the whole job at once (the others may be waiting for it in a
      // collective): this rank says why, then MPI aborts every rank. Files are written
      // atomically, so no checkpoint is left half-written.
      int rank = -1;
      std::shared_ptr<Communicator> comm;
      try {
        comm = Communicator::from_environment();
        rank = comm->rank();
      } catch (const std::exception&) {
      }
      std::fprintf(stderr, "\n%s: error on rank %d of %d: %s\n", prog, rank, ranks, e.what());
      if (rank == 0) remove_empty_created_dirs();
      if (comm && comm->size() > 1) comm->abort(1);
      return 1;
    }
    std::fprintf(stderr, "\n%s: error: %s\n", prog, e.what());
    remove_empty_created_dirs();
    return 1;
  }
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace odegan::app
