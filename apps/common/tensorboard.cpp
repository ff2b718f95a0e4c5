#include "apps/common/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <cstdio>
#include <sstream>

#include "apps/common/run.h"
#include "core/error.h"

namespace odegan::app {

namespace tensorboard {

namespace {

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}

// Protocol-buffer wire format: a key is (field << 3 | wire type); 0 varint, 1 fixed64,
// 2 length-delimited, 5 fixed32.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire) { varint(out, static_cast<uint64_t>(field) << 3 | wire); }
void field_varint(std::string& out, int field, uint64_t v) { key(out, field, 0), varint(out, v); }
void field_bytes(std::string& out, int field, const std::string& bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}
template <class T>
void field_fixed(std::string& out, int field, T v) {  // little-endian, as protobuf
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "fixed32 or fixed64");
  key(out, field, sizeof(T) == 8 ? 1 : 5);
  char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  out.append(raw, sizeof(T));
}

std::string event_head(double wall_time, int64_t step) {
  std::string e;
  field_fixed(e, 1, wall_time);
  if (step != 0) field_varint(e, 2, static_cast<uint64_t>(step));
  return e;
}

std::string summary_event(double wall_time, int64_t step, const std::string& value) {
  std::string summary, e = event_head(wall_time, step);
  field_bytes(summary, 1, value);
  field_bytes(e, 5, summary);
  return e;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = make_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string frame_record(const std::string& data) {
  std::string r;
  auto le = [&r](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) r.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  le(data.size(), 8);
  le(masked_crc32c(r.data(), 8), 4);
  r += data;
  le(masked_crc32c(data.data(), data.size()), 4);
  return r;
}

std::string event_file_version(double wall_time) {
  std::string e = event_head(wall_time, 0);
  field_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string event_scalar(double wall_time, int64_t step, const std::string& tag, float value) {
  std::string v;
  field_bytes(v, 1, tag);
  field_fixed(v, 2, value);
  return summary_event(wall_time, step, v);
}

std::string event_image(double wall_time, int64_t step, const std::string& tag, const std::string& png, int height,
                        int width, int channels) {
  std::string img, v;
  field_varint(img, 1, static_cast<uint64_t>(height));
  field_varint(img, 2, static_cast<uint64_t>(width));
  field_varint(img, 3, static_cast<uint64_t>(channels));  // colorspace: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  field_bytes(img, 4, png);
  field_bytes(v, 1, tag);
  field_bytes(v, 4, img);
  return summary_event(wall_time, step, v);
}

std::string event_session_start(double wall_time, int64_t step) {
  std::string log, e = event_head(wall_time, step);
  field_varint(log, 1, 1);  // SessionLog.START
  field_bytes(e, 7, log);
  return e;
}

}  // namespace tensorboard

TensorBoardWriter::TensorBoardWriter(const std::string& dir, int64_t resume_step) {
  char host[256] = "localhost";
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  host[sizeof host - 1] = '\0';
  // TensorBoard reads a directory's event files in the order of their names, and a resumed
  // run's purge marker only acts on files read before it: the name starts with the time to
  // the microsecond, so names sort as the starts happened. "x" (exclusive) never
  // overwrites another writer's file.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  for (int attempt = 0; !file_; ++attempt) {
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%010lld.%06lld", static_cast<long long>(us / 1000000),
                  static_cast<long long>(us % 1000000 + attempt));
    path_ = dir + "/events.out.tfevents." + stamp + "." + host + "." + std::to_string(getpid()) + ".odegan";
    file_ = std::fopen(path_.c_str(), "wbx");
    if (!file_ && (errno != EEXIST || attempt >= 100)) break;
  }
  ODEGAN_CHECK(file_ != nullptr, "cannot create the TensorBoard event file ", path_, ": ", std::strerror(errno));
  write(tensorboard::event_file_version(now_seconds()));
  if (resume_step >= 0) write(tensorboard::event_session_start(now_seconds(), resume_step + 1));
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::write(const std::string& event) {
  const std::string r = tensorboard::frame_record(event);
  ODEGAN_CHECK(std::fwrite(r.data(), 1, r.size(), file_) == r.size(), "cannot write the TensorBoard event file ",
               path_, ": ", std::strerror(errno));
}

void TensorBoardWriter::scalar(const std::string& tag, int64_t step, double value) {
  if (!std::isfinite(value)) return;
  write(tensorboard::event_scalar(now_seconds(), step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::image_png(const std::string& tag, int64_t step, const std::string& png) {
  // PNG: 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big endian),
  // bit depth, colour type (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA).
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  ODEGAN_CHECK(png.size() >= 33 && png.compare(0, 8, kSignature, 8) == 0 && png.compare(12, 4, "IHDR") == 0,
               "TensorBoard image '", tag, "': not a PNG");
  auto be32 = [&png](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(png[at + i]);
    return static_cast<int>(v);
  };
  const int type = static_cast<unsigned char>(png[25]);
  const int channels = type == 0 ? 1 : type == 4 ? 2 : type == 6 ? 4 : 3;
  write(tensorboard::event_image(now_seconds(), step, tag, png, be32(20), be32(16), channels));
}

void TensorBoardWriter::image_file(const std::string& tag, int64_t step, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ODEGAN_CHECK(in.good(), "TensorBoard image '", tag, "': cannot read ", path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  image_png(tag, step, bytes.str());
}

void TensorBoardWriter::flush() {
  ODEGAN_CHECK(std::fflush(file_) == 0 && fsync(fileno(file_)) == 0, "cannot write the TensorBoard event file ",
               path_, ": ", std::strerror(errno));
}

void write_step_scalars(TensorBoardWriter& tb, int64_t step, const solvers::StepStats& s, solvers::GanLoss loss,
                        double ms_per_step, double images_per_s) {
  tb.scalar("loss/d", step, s.loss_d);
  tb.scalar("loss/g", step, s.loss_g);
  tb.scalar("loss/d_nash_gap", step, s.loss_d - solvers::nash_loss_d(loss));
  tb.scalar("loss/g_nash_gap", step, s.loss_g - solvers::nash_loss_g(loss));
  tb.scalar("grad_norm/d", step, s.grad_norm_d);
  tb.scalar("grad_norm/g", step, s.grad_norm_g);
  tb.scalar("reg_norm", step, s.reg_norm);
  tb.scalar("h", step, s.h);
  if (s.error >= 0) tb.scalar("error", step, s.error);
  if (s.iterations >= 0) tb.scalar("solver/iterations", step, s.iterations);
  if (s.rejected > 0) tb.scalar("solver/rejected", step, s.rejected);
  tb.scalar("speed/ms_per_step", step, ms_per_step);
  if (images_per_s > 0) tb.scalar("speed/images_per_s", step, images_per_s);
}

}  // namespace odegan::app
