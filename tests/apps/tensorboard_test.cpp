// TensorBoard event files: the writer (apps/common/tensorboard.h) checked by a reader written
// here independently -- a bitwise CRC-32C, TFRecord framing, a generic protocol-buffer
// decoder -- and, when the `tensorboard` Python package is installed, by TensorBoard's own
// EventAccumulator (tests/apps/read_tensorboard.py). The apps' event files must hold the
// numbers of their CSV/JSONL logs, the sample images, and a resumed run's purge marker.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/tensorboard.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using odegan::testing::bin;
using odegan::testing::run;

// CRC-32C bit by bit (not table-driven, unlike the writer).
uint32_t crc32c_bitwise(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
  }
  return ~c;
}
uint32_t masked(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

uint64_t le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
  return v;
}

// Splits a TFRecord file into record payloads; any framing or CRC error is a test failure
// message returned in `error`.
std::vector<std::string> read_records(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string f = ss.str();
  std::vector<std::string> out;
  size_t at = 0;
  while (at < f.size()) {
    if (f.size() - at < 12) return *error = "truncated header at byte " + std::to_string(at), out;
    const uint64_t n = le(f, at, 8);
    if (le(f, at + 8, 4) != masked(crc32c_bitwise(f.substr(at, 8))))
      return *error = "bad length CRC at byte " + std::to_string(at), out;
    if (f.size() - at - 12 < n + 4) return *error = "truncated record at byte " + std::to_string(at), out;
    std::string data = f.substr(at + 12, n);
    if (le(f, at + 12 + n, 4) != masked(crc32c_bitwise(data)))
      return *error = "bad data CRC at byte " + std::to_string(at), out;
    out.push_back(std::move(data));
    at += 16 + n;
  }
  return out;
}

// A protocol-buffer message as field number -> values (varints as integers, fixed32/64 as
// raw bits, length-delimited as bytes).
struct Message {
  std::multimap<int, uint64_t> ints;
  std::multimap<int, std::string> bytes;
  bool has(int f) const { return ints.count(f) || bytes.count(f); }
  std::string str(int f) const { return bytes.count(f) ? bytes.find(f)->second : std::string(); }
  uint64_t num(int f) const { return ints.count(f) ? ints.find(f)->second : 0; }
};

Message decode(const std::string& s) {
  Message m;
  size_t at = 0;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (at >= s.size() || shift > 63) throw std::runtime_error("bad varint");
      const auto b = static_cast<unsigned char>(s[at++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (at < s.size()) {
    const uint64_t key = varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (wire == 0) {
      m.ints.emplace(field, varint());
    } else if (wire == 1 || wire == 5) {
      const int n = wire == 1 ? 8 : 4;
      if (at + static_cast<size_t>(n) > s.size()) throw std::runtime_error("truncated fixed field");
      m.ints.emplace(field, le(s, at, n));
      at += static_cast<size_t>(n);
    } else if (wire == 2) {
      const uint64_t n = varint();
      if (n > s.size() - at) throw std::runtime_error("truncated bytes field");
      m.bytes.emplace(field, s.substr(at, n));
      at += n;
    } else {
      throw std::runtime_error("wire type " + std::to_string(wire));
    }
  }
  return m;
}

float as_float(uint64_t bits) {
  const auto b = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

struct Events {
  std::string file_version;
  std::map<std::string, std::map<int64_t, float>> scalars;  // tag -> step -> value
  std::map<std::string, std::map<int64_t, std::vector<int64_t>>> images;  // tag -> step -> {h, w, c, png bytes}
  std::vector<int64_t> session_starts;
};

Events read_events(const std::string& path) {
  std::string error;
  Events ev;
  const std::vector<std::string> records = read_records(path, &error);
  EXPECT_EQ(error, "") << path;
  for (const std::string& r : records) {
    const Message e = decode(r);
    EXPECT_TRUE(e.ints.count(1)) << "an event without wall_time";
    const auto step = static_cast<int64_t>(e.num(2));
    if (e.has(3)) ev.file_version = e.str(3);
    if (e.has(7)) {  // session_log (6 is the deprecated log_message)
      EXPECT_EQ(decode(e.str(7)).num(1), 1u) << "SessionLog status START";
      ev.session_starts.push_back(step);
    }
    if (!e.has(5)) continue;
    const Message summary = decode(e.str(5));
    for (auto [it, end] = summary.bytes.equal_range(1); it != end; ++it) {
      const Message v = decode(it->second);
      if (v.ints.count(2)) ev.scalars[v.str(1)][step] = as_float(v.num(2));
      if (v.has(4)) {
        const Message img = decode(v.str(4));
        const std::string png = img.str(4);
        EXPECT_EQ(png.substr(1, 3), "PNG");
        ev.images[v.str(1)][step] = {static_cast<int64_t>(img.num(1)), static_cast<int64_t>(img.num(2)),
                                     static_cast<int64_t>(img.num(3)), static_cast<int64_t>(png.size())};
      }
    }
  }
  return ev;
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// TensorBoard's EventAccumulator over `dir` (tests/apps/read_tensorboard.py) into `out`;
// false when the tensorboard package is not installed.
bool tensorboard_reads(const std::string& dir, json* out) {
  if (run("python3 -c 'import tensorboard' 2>/dev/null") != 0) return false;
  std::string log;
  const std::string file = dir + "/../tensorboard-read.json";
  EXPECT_EQ(run("python3 " + std::string(ODEGAN_SOURCE_DIR) + "/tests/apps/read_tensorboard.py " + dir + " " + file,
                &log),
            0)
      << log;
  std::ifstream in(file);
  *out = json::parse(in);
  return true;
}

TEST(TensorBoard, Crc32cKnownValues) {
  using odegan::app::tensorboard::crc32c;
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);  // the standard check value of CRC-32C
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), crc32c_bitwise(bytes));
  // TFRecord's mask of the CRC of an empty payload, as TensorFlow computes it.
  EXPECT_EQ(odegan::app::tensorboard::masked_crc32c("", 0), 0xa282ead8u);
}

TEST(TensorBoard, WriterRecordsReadBackAndCorruptionIsSeen) {
  const std::string dir = odegan::testing::temp_dir();
  std::string path;
  {
    odegan::app::TensorBoardWriter tb(dir);
    path = tb.path();
    tb.scalar("loss/d", 0, 1.25);
    tb.scalar("loss/d", 7, -3.5e-4);
    tb.scalar("loss/d", 8, NAN);  // skipped
    tb.scalar("h", 123456789012LL, 0.04);
    // A 3x2 RGB PNG (written by hand: signature + IHDR is all the writer reads).
    std::string png("\x89PNG\r\n\x1a\n", 8);
    png += std::string("\0\0\0\x0dIHDR\0\0\0\x03\0\0\0\x02\x08\x02\0\0\0", 21);
    png += std::string("\0\0\0\0", 4);
    tb.image_png("samples", 5, png);
    EXPECT_THROW(tb.image_png("bad", 5, "not a png at all, not at all, no, no"), odegan::Error);
    tb.flush();
  }
  EXPECT_NE(path.find(".odegan"), std::string::npos);
  Events ev = read_events(path);
  EXPECT_EQ(ev.file_version, "brain.Event:2");
  EXPECT_EQ(ev.scalars["loss/d"], (std::map<int64_t, float>{{0, 1.25f}, {7, -3.5e-4f}}));
  EXPECT_EQ(ev.scalars["h"][123456789012LL], 0.04f);
  ASSERT_EQ(ev.images["samples"].count(5), 1u);
  EXPECT_EQ(ev.images["samples"][5], (std::vector<int64_t>{2, 3, 3, 33}));  // h, w, RGB, bytes
  EXPECT_TRUE(ev.session_starts.empty());
  // One flipped byte in the middle of the file: the reader must see a CRC error.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
    char c;
    f.seekg(static_cast<std::streamoff>(fs::file_size(path) / 2));
    f.get(c);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
    f.put(static_cast<char>(c ^ 0x20));
  }
  std::string error;
  read_records(path, &error);
  EXPECT_NE(error.find("CRC"), std::string::npos) << error;
  // A resumed writer marks the purge point.
  odegan::app::TensorBoardWriter resumed(dir, 40);
  resumed.flush();
  EXPECT_EQ(read_events(resumed.path()).session_starts, std::vector<int64_t>{41});
}

// Reads metrics.jsonl rows with a given key: step -> value.
std::map<int64_t, double> jsonl_column(const std::string& path, const std::string& key) {
  std::map<int64_t, double> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    if (j.contains(key) && j[key].is_number()) out[j["step"].get<int64_t>()] = j[key].get<double>();
  }
  return out;
}

// A run that logged steps 1..4, crashed, and resumed from its step-2 checkpoint: TensorBoard
// must show steps 1-2 of the first start and 3-4 of the second (the purge marker at work).
TEST(TensorBoard, TensorBoardReadsOurFilesAndDropsStepsAfterTheResumePoint) {
  const std::string dir = odegan::testing::temp_dir() + "/run";
  fs::create_directories(dir);
  {
    odegan::app::TensorBoardWriter first(dir);
    for (int s = 1; s <= 4; ++s) first.scalar("loss/d", s, 10 + s);
    first.flush();
  }
  odegan::app::TensorBoardWriter second(dir, 2);
  for (int s = 3; s <= 4; ++s) second.scalar("loss/d", s, 20 + s);
  second.flush();
  EXPECT_EQ(event_files(dir).size(), 2u);
  EXPECT_LT(event_files(dir)[0], event_files(dir)[1]);
  json tb;
  if (!tensorboard_reads(dir, &tb)) GTEST_SKIP() << "the tensorboard Python package is not installed";
  EXPECT_EQ(tb["scalars"]["loss/d"], json::parse("[[1, 11.0], [2, 12.0], [3, 23.0], [4, 24.0]]")) << tb.dump();
}

TEST(TensorBoard, ImageAppWritesItsLogsSamplesAndAResumeMarker) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = odegan::testing::write_tiny_cifar10(base + "/cifar");
  const std::string common = bin("odegan_cifar10") + " --data " + data + " --device cpu --width-mult 0.03125 --batch 4"
                             " --latent 8 --threads 0 --log-every 1 --sample-every 2 --checkpoint-every 2";
  std::string log;
  ASSERT_EQ(run(common + " --steps 2 --out " + base + "/run", &log), 0) << log;
  ASSERT_EQ(run(common + " --steps 4 --resume --out " + base + "/run", &log), 0) << log;
  const std::vector<std::string> files = event_files(base + "/run");
  ASSERT_EQ(files.size(), 2u) << "one event file per start";
  Events first = read_events(files[0]), second = read_events(files[1]);
  if (!first.session_starts.empty()) std::swap(first, second);  // in the order of the starts
  EXPECT_TRUE(first.session_starts.empty());
  EXPECT_EQ(second.session_starts, std::vector<int64_t>{3});
  // Every logged number, as the JSONL log has it (float32 in the event file).
  std::map<int64_t, float> all;
  for (const Events* e : {&first, &second})
    for (auto [step, v] : e->scalars.at("loss/d")) all[step] = v;
  const auto ld = jsonl_column(base + "/run/metrics.jsonl", "loss_d");
  ASSERT_EQ(ld.size(), 4u);
  for (auto [step, v] : ld) EXPECT_EQ(all[step], static_cast<float>(v)) << "step " << step;
  const auto lg = jsonl_column(base + "/run/metrics.jsonl", "loss_g");
  EXPECT_FLOAT_EQ(second.scalars["loss/g_nash_gap"][4], static_cast<float>(lg.at(4) - std::log(2.0)));
  for (const char* tag : {"loss/g", "loss/d_nash_gap", "grad_norm/d", "grad_norm/g", "reg_norm", "h",
                          "speed/ms_per_step", "speed/images_per_s"})
    EXPECT_EQ(second.scalars[tag].count(4), 1u) << tag;
  // Sample grids at 0 and 2 (first start), 4 (second): 8x8 grids of 32x32 RGB images.
  EXPECT_EQ(first.images["samples"].count(0) + first.images["samples"].count(2), 2u);
  ASSERT_EQ(second.images["samples"].count(4), 1u);
  EXPECT_EQ(second.images["samples"][4][2], 3);
  EXPECT_GT(second.images["samples"][4][0], 8 * 32);
  EXPECT_EQ(second.images["losses"].count(4), 1u);

  // TensorBoard's own reader, when installed.
  json tb;
  if (!tensorboard_reads(base + "/run", &tb))
    GTEST_SKIP() << "the tensorboard Python package is not installed: only our reader checked the files";
  const json& series = tb["scalars"]["loss/d"];
  ASSERT_EQ(series.size(), 4u) << tb.dump();
  for (const json& p : series)
    EXPECT_EQ(p[1].get<float>(), static_cast<float>(ld.at(p[0].get<int64_t>()))) << p.dump();
  EXPECT_EQ(tb["images"]["samples"].size(), 3u) << tb.dump();
}

TEST(TensorBoard, MogAppWritesScalarsAndItsFigure) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  ASSERT_EQ(run(bin("odegan_mog") + " --device cpu --steps 10 --eval-every 5 --eval-samples 200 --batch 64 "
                "--figure-steps 0,10 --out " + base + "/mog", &log), 0) << log;
  const std::vector<std::string> files = event_files(base + "/mog");
  ASSERT_EQ(files.size(), 1u);
  Events ev = read_events(files[0]);
  EXPECT_EQ(ev.scalars["loss/d"].size(), 10u);
  EXPECT_EQ(ev.scalars["quality/modes"].size(), 2u);  // steps 5 and 10
  EXPECT_EQ(ev.scalars["quality/hq_fraction"].count(10), 1u);
  EXPECT_EQ(ev.images["mog"].count(10), 1u);
}

}  // namespace
