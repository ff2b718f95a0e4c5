// A single updating progress line: step/total, rate, ETA and caller-supplied text.
// On a terminal it redraws in place (at most 5 times a second); when output is a file
// or pipe it prints a plain line every `log_every_s` seconds instead.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace odegan::app {

class Progress {
 public:
  Progress(int64_t total, std::string unit = "steps", double log_every_s = 10.0, std::FILE* out = stderr);
  // Call after finishing `done` steps in total; `text` is appended (e.g. losses).
  void update(int64_t done, const std::string& text = "");
  // Prints a line of its own (on a terminal, the progress line is cleared first).
  void note(const std::string& text);
  // Prints the last state and a newline.
  void finish(const std::string& text = "");
  double rate() const;  // steps per second since start
  double elapsed_s() const;

 private:
  void draw(int64_t done, const std::string& text, bool final);
  int64_t total_;
  std::string unit_;
  double log_every_s_;
  std::FILE* out_;
  bool tty_;
  int64_t first_done_ = -1, last_done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  size_t last_width_ = 0;
};

std::string format_duration(double seconds);  // "54d03h", "1h02m", "3m05s", "12s"

}  // namespace odegan::app
