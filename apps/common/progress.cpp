#include "apps/common/progress.h"

#include <unistd.h>

#include <cmath>

namespace odegan::app {

using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  long t = std::lround(s);
  if (t >= 86400)
    std::snprintf(buf, sizeof buf, "%ldd%02ldh", t / 86400, (t % 86400) / 3600);
  else if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(int64_t total, std::string unit, double log_every_s, std::FILE* out)
    : total_(total), unit_(std::move(unit)), log_every_s_(log_every_s), out_(out), tty_(isatty(fileno(out))) {
  start_ = last_draw_ = Clock::now();
}

double Progress::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

double Progress::rate() const {
  double t = elapsed_s();
  int64_t n = last_done_ - (first_done_ < 0 ? 0 : first_done_);
  return t > 0 ? n / t : 0.0;
}

void Progress::update(int64_t done, const std::string& text) {
  if (first_done_ < 0) {
    // The rate counts from the first update, so resumed runs report their own speed.
    first_done_ = done > 0 ? done - 1 : 0;
    start_ = Clock::now();
  }
  last_done_ = done;
  double since = std::chrono::duration<double>(Clock::now() - last_draw_).count();
  if (since < (tty_ ? 0.2 : log_every_s_) && done < total_) return;
  draw(done, text, false);
}

void Progress::note(const std::string& text) {
  std::fflush(stdout);
  if (tty_ && last_width_ > 0) {  // clear the progress line; the next update redraws it
    std::fprintf(out_, "\r%s\r", std::string(last_width_, ' ').c_str());
    last_width_ = 0;
  }
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

void Progress::finish(const std::string& text) {
  draw(last_done_, text, true);
}

void Progress::draw(int64_t done, const std::string& text, bool final) {
  last_draw_ = Clock::now();
  double r = rate();
  double eta = r > 0 ? (total_ - done) / r : NAN;
  char head[160];
  std::snprintf(head, sizeof head, "%lld/%lld %s (%.0f%%) %.1f %s/s ETA %s", static_cast<long long>(done),
                static_cast<long long>(total_), unit_.c_str(), total_ ? 100.0 * done / total_ : 100.0, r,
                unit_.c_str(), final ? "done" : format_duration(eta).c_str());
  std::string line = std::string(head) + (text.empty() ? "" : "  " + text);
  if (tty_) {
    std::string pad = line.size() < last_width_ ? std::string(last_width_ - line.size(), ' ') : "";
    std::fprintf(out_, "\r%s%s%s", line.c_str(), pad.c_str(), final ? "\n" : "");
    last_width_ = line.size();
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace odegan::app
