// TensorBoard event files, written by every training app into its run directory, so that
// `tensorboard --logdir runs/` shows scalars (losses and their Nash gaps, gradient norms,
// the regulariser, h, the error estimate, speed, FD/FID/IS) and images (sample grids, the
// MoG figures) next to today's CSV/JSONL/PNG files.
//
// The format (docs/architecture.md, "TensorBoard"): a file named
// events.out.tfevents.<seconds>.<microseconds>.<host>.<pid>.odegan holding TFRecord records -- uint64 length
// (little endian), uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of
// the data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 -- whose data are serialised
// tensorflow.Event protocol buffers. We write the few fields needed by hand (no protobuf
// dependency): Event{wall_time=1 double, step=2 int64, file_version=3 string,
// summary=5 Summary, session_log=7 SessionLog}, Summary{value=1 repeated Value},
// Value{tag=1 string, simple_value=2 float, image=4 Image},
// Image{height=1, width=2, colorspace=3 int32, encoded_image_string=4 bytes},
// SessionLog{status=1 enum, START=1}.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "solvers/gan_game.h"

namespace odegan::app {

namespace tensorboard {
// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as TFRecord uses it.
uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);
// One TFRecord record around `data`.
std::string frame_record(const std::string& data);
// Serialised Event messages.
std::string event_file_version(double wall_time);
std::string event_scalar(double wall_time, int64_t step, const std::string& tag, float value);
std::string event_image(double wall_time, int64_t step, const std::string& tag, const std::string& png, int height,
                        int width, int channels);
// SessionLog START at `step`: TensorBoard drops the events of earlier files with step >= it
// (how a resumed run replaces what its first start logged after the checkpoint).
std::string event_session_start(double wall_time, int64_t step);
}  // namespace tensorboard

class TensorBoardWriter {
 public:
  // Opens a new event file in `dir` (which must exist). resume_step >= 0: the run resumes
  // from that checkpoint step, and a SessionLog START at resume_step + 1 is written so the
  // events an earlier start logged after the checkpoint are dropped by TensorBoard.
  explicit TensorBoardWriter(const std::string& dir, int64_t resume_step = -1);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // A NaN or Inf value is skipped (TensorBoard cannot draw it; the CSV keeps it).
  void scalar(const std::string& tag, int64_t step, double value);
  // A PNG image given as its file bytes; width, height and channels are read from its header.
  void image_png(const std::string& tag, int64_t step, const std::string& png);
  // The PNG file at `path` (e.g. a sample grid the app has just written).
  void image_file(const std::string& tag, int64_t step, const std::string& path);
  // Writes buffered records to the file and fsyncs it (the apps call it with every
  // checkpoint, as they sync their logs). Write errors throw, naming the file.
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The per-step scalars every training app logs: loss/d, loss/g, their gaps to the Nash
// values of `loss` (loss/d_nash_gap = l_D - l_D*, ...), grad_norm/d, grad_norm/g, reg_norm,
// h, error (when estimated), speed/ms_per_step and, when > 0, speed/images_per_s.
void write_step_scalars(TensorBoardWriter& tb, int64_t step, const solvers::StepStats& s, solvers::GanLoss loss,
                        double ms_per_step, double images_per_s = 0);

}  // namespace odegan::app
