// Data files that lie (IDX headers declaring more than the file holds or sizes that
// overflow, labels above the class count, gzip streams cut before their trailer or with
// a bad CRC, trailing bytes; CIFAR-10 folders with directories, FIFOs or missing files;
// images whose headers declare gigabytes or that are not images at all), and the loader
// when its threads cannot start. Every refusal must name the file and the reason, must
// not block, and must not allocate what the header claims before checking it.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <tuple>

#include <stb_image.h>
#include <stb_image_write.h>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "tests/common/test_util.h"

namespace odegan::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes gzip(const Bytes& b) {
  const std::string p = testing::temp_dir() + "/gzip.tmp";
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
  return read_bytes(p);
}

// An IDX header with the given dimensions, then `data` bytes (pattern i * 13).
Bytes idx(const std::vector<uint32_t>& dims, size_t data) {
  Bytes b = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims)
    for (int s : {24, 16, 8, 0}) b.push_back(static_cast<unsigned char>((d >> s) & 0xff));
  for (size_t i = 0; i < data; ++i) b.push_back(static_cast<unsigned char>(i * 13));
  return b;
}

// Peak resident memory of this process, in MB.
double peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

// The error of `f`, which must throw odegan::Error; "" (and a failure) when it does not.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

// Like error_of, but fails instead of hanging when `f` blocks (e.g. on a FIFO).
std::string error_without_blocking(const std::string& fifo, const std::function<void()>& f) {
  auto result = std::async(std::launch::async, [&] { return error_of(f); });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // releases a blocked open()
    if (fd >= 0) ::close(fd);
    result.wait();
    ADD_FAILURE() << "blocked on the FIFO " << fifo;
    return "";
  }
  return result.get();
}

// ---------------------------------------------------------------- IDX

// Refused from the file and from memory, naming the file both times.
std::string idx_refused(const std::string& name, const Bytes& bytes) {
  const std::string path = testing::temp_dir() + "/" + name;
  write_bytes(path, bytes);
  const std::string m = error_of([&] { read_idx(path); });
  EXPECT_HAS(m, path);
  EXPECT_HAS(error_of([&] { parse_idx(bytes.data(), bytes.size(), "mem:" + name); }), "mem:" + name);
  return m;
}

TEST(IdxHardening, DeclaredSizesAreCheckedBeforeAllocating) {
  // 16 bytes declaring 1 x 21000 x 21000 = 441 MB of pixels, raw and gzip.
  const Bytes liar = idx({1, 21000, 21000}, 0);
  ASSERT_EQ(liar.size(), 16u);
  const double before = peak_rss_mb();
  EXPECT_HAS(idx_refused("liar.idx", liar), "declare 441000000 data bytes, the file has 0");
  EXPECT_HAS(idx_refused("liar.idx.gz", gzip(liar)), "the gzip stream holds 0");
  EXPECT_LT(peak_rss_mb() - before, 100) << "the declared size was allocated";
  // A product that wraps to 0 in 64 bits (16 x 2^30 x 2^30) was accepted with no data.
  EXPECT_HAS(idx_refused("wrap.idx", idx({16, 1u << 30, 1u << 30}, 0)), "16 x 1073741824 x 1073741824");
  EXPECT_HAS(idx_refused("huge.idx", idx({0x7fffffff, 0x7fffffff}, 0)), "GiB this reader accepts");
  EXPECT_HAS(idx_refused("zero.idx", idx({3, 0, 5}, 0)), "dimension 1 = 0");
  EXPECT_HAS(idx_refused("neg.idx", idx({0x80000000u}, 0)), "dimension 0 = 2147483648");
}

TEST(IdxHardening, GzipStreamsMustBeCompleteAndIntact) {
  const Bytes good = idx({2, 3, 3}, 18);
  const Bytes gz = gzip(good);
  // A .gz cut before its 8-byte trailer (CRC and length): all pixels are there, the check is not.
  const Bytes no_trailer(gz.begin(), gz.end() - 8);
  EXPECT_HAS(idx_refused("no_trailer.idx.gz", no_trailer), "truncated gzip stream");
  // A wrong CRC: said as such, not as "truncated: 0 of N".
  Bytes bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0x55;
  const std::string crc = idx_refused("bad_crc.idx.gz", bad_crc);
  EXPECT_HAS(crc, "CRC");
  EXPECT_EQ(crc.find("truncated"), std::string::npos) << crc;
  // Bytes after the declared data, inside the stream, after it, and in a raw file.
  Bytes longer = good;
  longer.push_back(7);
  EXPECT_HAS(idx_refused("longer.idx.gz", gzip(longer)), "trailing bytes");
  Bytes garbage = gz;
  garbage.insert(garbage.end(), {'j', 'u', 'n', 'k'});
  EXPECT_HAS(idx_refused("garbage.idx.gz", garbage), "trailing garbage");
  EXPECT_HAS(idx_refused("longer.idx", longer), "1 trailing bytes");
  // Two gzip members (as `cat a.gz b.gz`) are one valid stream.
  const Bytes head(good.begin(), good.begin() + 10), tail(good.begin() + 10, good.end());
  Bytes two = gzip(head);
  const Bytes second = gzip(tail);
  two.insert(two.end(), second.begin(), second.end());
  EXPECT_EQ(parse_idx(two.data(), two.size(), "two").data, parse_idx(good.data(), good.size(), "one").data);
  const std::string p = testing::temp_dir() + "/two.idx.gz";
  write_bytes(p, two);
  EXPECT_EQ(read_idx(p).data, Bytes(good.begin() + 16, good.end()));
}

TEST(IdxHardening, LabelsAboveTheClassCountAreRefused) {
  const std::string dir = testing::temp_dir();
  write_bytes(dir + "/img.idx", idx({3, 2, 2}, 12));
  write_bytes(dir + "/lab.idx", {0, 0, 8, 1, 0, 0, 0, 3, 4, 12, 9});
  const std::string m = error_of([&] { IdxDataset d(dir + "/img.idx", dir + "/lab.idx"); });
  EXPECT_HAS(m, dir + "/lab.idx");
  EXPECT_HAS(m, "label 12 of image 1");
  write_bytes(dir + "/lab2.idx", {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 1, 4, 5, 9});
  EXPECT_HAS(error_of([&] { IdxDataset d(dir + "/img.idx", dir + "/lab2.idx"); }), "expected 1");
}

TEST(IdxHardening, DirectoriesAndFifosAreRefusedWithoutBlocking) {
  const std::string dir = testing::temp_dir() + "/idxdir";
  fs::create_directories(dir + "/train-images-idx3-ubyte");
  const std::string m = error_of([&] { IdxDataset::from_directory(dir, "train", 32); });
  EXPECT_HAS(m, dir + "/train-images-idx3-ubyte");
  EXPECT_HAS(m, "is a directory");
  const std::string fifo = testing::temp_dir() + "/fifo.idx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string f = error_without_blocking(fifo, [&] { read_idx(fifo); });
  EXPECT_HAS(f, fifo);
  EXPECT_HAS(f, "FIFO");
}

// ---------------------------------------------------------------- CIFAR-10

Bytes cifar(int n) { return Bytes(static_cast<size_t>(n) * Cifar10Dataset::kRecord, 3); }

TEST(Cifar10Hardening, MissingFilesDirectoriesAndFifosAreNamed) {
  const std::string dir = testing::temp_dir() + "/cifar";
  fs::create_directories(dir);
  for (int i : {1, 3, 5}) write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin", cifar(2));
  // Every missing file at once.
  std::string m = error_of([&] { Cifar10Dataset d(dir, "train"); });
  EXPECT_HAS(m, "data_batch_2.bin, data_batch_4.bin");
  EXPECT_HAS(m, dir);
  fs::create_directories(dir + "/data_batch_2.bin");
  write_bytes(dir + "/data_batch_4.bin", cifar(1));
  m = error_of([&] { Cifar10Dataset d(dir, "train"); });
  EXPECT_HAS(m, dir + "/data_batch_2.bin");
  EXPECT_HAS(m, "is a directory");
  EXPECT_EQ(m.find("truncated"), std::string::npos) << m;
  fs::remove(dir + "/data_batch_2.bin");
  ASSERT_EQ(::mkfifo((dir + "/data_batch_2.bin").c_str(), 0600), 0);
  m = error_without_blocking(dir + "/data_batch_2.bin", [&] { Cifar10Dataset d(dir, "train"); });
  EXPECT_HAS(m, "FIFO");
  fs::remove(dir + "/data_batch_2.bin");
  write_bytes(dir + "/data_batch_2.bin", {});
  m = error_of([&] { Cifar10Dataset d(dir, "train"); });
  EXPECT_HAS(m, dir + "/data_batch_2.bin");
  EXPECT_HAS(m, "has 0 bytes");
  write_bytes(dir + "/data_batch_2.bin", cifar(2));
  EXPECT_EQ(Cifar10Dataset(dir, "train").size(), 9);
  EXPECT_HAS(error_of([&] { Cifar10Dataset d(dir + "/data_batch_1.bin", "train"); }), "is not a directory");
  EXPECT_HAS(error_of([&] { Cifar10Dataset d(dir + "/none", "train"); }), "does not exist");
}

// ---------------------------------------------------------------- images

// A small JPEG written by stb (4:4:4 at quality > 90, 4:2:0 otherwise).
std::string jpeg_file(const std::string& name, int w, int h, int c, int quality) {
  std::vector<unsigned char> px(static_cast<size_t>(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) px[(static_cast<size_t>(y) * w + x) * c + k] = static_cast<unsigned char>((x * 9 + y * 5 + k * 80) % 256);
  const std::string path = testing::temp_dir() + "/" + name;
  EXPECT_TRUE(stbi_write_jpg(path.c_str(), w, h, c, px.data(), quality));
  return path;
}

TEST(ImageHardening, TurboJpegAgreesWithStbImage) {
  // Two independent decoders of the same files: libjpeg-turbo (ours) and stb_image.
  for (auto [c, q, channels] : {std::tuple{3, 98, 3}, {3, 75, 3}, {1, 90, 1}, {1, 90, 3}}) {
    const std::string path = jpeg_file("cmp" + std::to_string(c) + std::to_string(q) + ".jpg", 37, 23, c, q);
    const Image ours = decode_image(path, channels);
    int w, h, n;
    unsigned char* ref = stbi_load(path.c_str(), &w, &h, &n, channels);
    ASSERT_NE(ref, nullptr);
    ASSERT_EQ(ours.width, w);
    ASSERT_EQ(ours.height, h);
    double max_err = 0, mean_err = 0;
    for (size_t i = 0; i < ours.px.size(); ++i) {
      const double e = std::fabs(ours.px[i] - ref[i]);
      max_err = std::max(max_err, e);
      mean_err += e / static_cast<double>(ours.px.size());
    }
    stbi_image_free(ref);
    // Same IDCT family; the chroma upsampling filters differ slightly for 4:2:0.
    EXPECT_LE(max_err, q == 75 ? 24 : 3) << c << " channels, quality " << q;
    EXPECT_LT(mean_err, 1.5) << c << " channels, quality " << q;
  }
}

TEST(ImageHardening, HeadersDeclaringHugeImagesAreRefusedBeforeDecoding) {
  const double before = peak_rss_mb();
  // A 21-byte GIF named .jpg declaring 9000 x 9000 (stb would allocate ~700 MB for it).
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 0x28, 0x23, 0x28, 0x23, 0x80, 0, 0,
                     0, 0, 0, 0xff, 0xff, 0xff, 0x3b, 0};
  ASSERT_EQ(gif.size(), 21u);
  const std::string g = testing::temp_dir() + "/gif.jpg";
  write_bytes(g, gif);
  std::string m = error_of([&] { decode_image(g); });
  EXPECT_HAS(m, g);
  EXPECT_HAS(m, "not a JPEG, PNG or BMP");
  // A PNG whose header says 12000 x 12000 (stb_image would accept up to 2^30 bytes).
  const std::string small = testing::temp_dir() + "/small.png";
  std::vector<unsigned char> px(4 * 4 * 3, 100);
  ASSERT_TRUE(stbi_write_png(small.c_str(), 4, 4, 3, px.data(), 12));
  Bytes png = read_bytes(small);
  for (int k : {16, 20}) png[k] = 0, png[k + 1] = 0, png[k + 2] = 0x2E, png[k + 3] = 0xE0;  // 12000
  write_bytes(small, png);
  m = error_of([&] { decode_image(small); });
  EXPECT_HAS(m, "12000x12000");
  EXPECT_HAS(m, "more than the 33554432");
  // A JPEG whose frame header says 60000 x 60000.
  const std::string jpg = jpeg_file("big.jpg", 16, 16, 3, 90);
  Bytes j = read_bytes(jpg);
  for (size_t i = 2; i + 8 < j.size(); ++i)
    if (j[i] == 0xFF && j[i + 1] == 0xC0) {
      j[i + 5] = 0xEA, j[i + 6] = 0x60, j[i + 7] = 0xEA, j[i + 8] = 0x60;  // height, width = 60000
      break;
    }
  write_bytes(jpg, j);
  EXPECT_HAS(error_of([&] { decode_image(jpg); }), "60000x60000");
  EXPECT_HAS(error_of([&] { probe_image(jpg); }), "60000x60000");
  EXPECT_LT(peak_rss_mb() - before, 100) << "a declared size was allocated";
  // Not regular files.
  EXPECT_HAS(error_of([&] { decode_image(testing::temp_dir()); }), "is a directory");
}

// root/<class>/ with `good` decodable PNGs and `bad` garbage files per class.
std::string folder(const std::string& name, const std::vector<std::pair<int, int>>& per_class) {
  const std::string root = testing::temp_dir() + "/" + name;
  std::vector<unsigned char> px(6 * 5 * 3, 77);
  for (size_t c = 0; c < per_class.size(); ++c) {
    const std::string dir = root + "/class" + std::to_string(c);
    fs::create_directories(dir);
    for (int i = 0; i < per_class[c].first; ++i)
      EXPECT_TRUE(stbi_write_png((dir + "/good" + std::to_string(i) + ".png").c_str(), 6, 5, 3, px.data(), 18));
    for (int i = 0; i < per_class[c].second; ++i) write_bytes(dir + "/bad" + std::to_string(i) + ".jpg", {'n', 'o', 'p', 'e'});
  }
  return root;
}

TEST(ImageFolderHardening, UnreadableFilesAreReportedAndLimited) {
  // 1 of 10 unreadable: reported, and tolerated only when the limit allows it.
  const std::string root = folder("some_bad", {{5, 1}, {4, 0}});
  std::string m = error_of([&] { ImageFolderDataset d(root, 8); });
  EXPECT_HAS(m, "skipped 1 of 10");
  EXPECT_HAS(m, root + "/class0/bad0.jpg");
  EXPECT_HAS(m, "--max-skipped-fraction");
  ImageFolderDataset ok(root, 8, 3, false, false, 0.1);
  EXPECT_EQ(ok.size(), 9);
  EXPECT_EQ(ok.skipped_at_open().size(), 1u);
  EXPECT_HAS(ok.report(), "skipped 1 of 10 image files");
  EXPECT_HAS(ok.report(), root + "/class0/bad0.jpg");
  // A class of garbage only is an error whatever the limit.
  const std::string garbage = folder("bad_class", {{3, 0}, {0, 3}});
  m = error_of([&] { ImageFolderDataset d(garbage, 8, 3, false, false, 1.0); });
  EXPECT_HAS(m, "class 'class1'");
  EXPECT_HAS(m, "no readable images");
  EXPECT_HAS(m, "skipped 3 of 6");
  // A clean folder reports nothing.
  EXPECT_EQ(ImageFolderDataset(folder("clean", {{2, 0}, {2, 0}}), 8).report(), "");
  EXPECT_THROW(ImageFolderDataset(root, 8, 3, false, false, 1.5), Error);
}

// ---------------------------------------------------------------- loader

// 64 samples of zeros.
class Constant : public Dataset {
 public:
  int64_t size() const override { return 64; }
  Shape sample_shape() const override { return {1, 1, 1}; }
  int64_t num_classes() const override { return 1; }
  bool get(int64_t i, float* out, int32_t* label, Generator*) const override {
    *out = 0.f, *label = 0;
    return true;
  }
  std::string where(int64_t i) const override { return std::to_string(i); }
  std::string name() const override { return "constant"; }
};

// In a forked child with little address space left, thread stacks cannot be mapped and
// std::thread throws; that must become an error, not std::terminate. Exits 3 with the
// error on stderr.
void start_too_many_threads() {
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (rlim_t(256) << 20);
  const struct rlimit rl = {limit, limit};
  setrlimit(RLIMIT_AS, &rl);
  LoaderOptions o;
  o.batch = 4;
  o.threads = 100000;
  try {
    Loader l(std::make_shared<Constant>(), o);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(3);
  }
  std::exit(0);
}

TEST(LoaderHardening, ThreadsThatCannotStartAreAClearError) {
  EXPECT_EXIT(start_too_many_threads(), ::testing::ExitedWithCode(3), "cannot start worker thread [0-9]+ of 100000");
}

}  // namespace
}  // namespace odegan::data
