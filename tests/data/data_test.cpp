// Data loading on small files written here in the real formats (CIFAR-10 binary, IDX
// raw and gzip, an image folder with JPEG, grayscale JPEG, CMYK JPEG, PNG named .JPEG and
// an undecodable file), corrupt variants, image ops, PNG grids, the loader (determinism
// across thread counts, resumable position, error propagation), the MoG metrics, and the
// real Fashion-MNIST files when installed.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <stb_image.h>
#include <stb_image_write.h>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/mog.h"
#include "tests/common/device_test.h"
#include "tests/common/test_util.h"

namespace odegan::data {
namespace {

namespace fs = std::filesystem;

// A 4x4 CMYK JPEG made with PIL (left half green, right half red), embedded as bytes.
const unsigned char kCmykJpeg[] = {
    0xff, 0xd8, 0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01,
    0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03,
    0x04, 0x06, 0x05, 0x06, 0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09,
    0x07, 0x06, 0x06, 0x08, 0x0b, 0x08, 0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c,
    0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff, 0xc0, 0x00, 0x14, 0x08, 0x00, 0x04, 0x00, 0x04,
    0x04, 0x43, 0x11, 0x00, 0x4d, 0x11, 0x00, 0x59, 0x11, 0x00, 0x4b, 0x11, 0x00, 0xff, 0xc4, 0x00,
    0x1f, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4,
    0x00, 0xb5, 0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00,
    0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13,
    0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15,
    0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
    0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46,
    0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66,
    0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86,
    0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4,
    0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2,
    0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9,
    0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5,
    0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xda, 0x00, 0x0e, 0x04, 0x43, 0x00, 0x4d, 0x00, 0x59, 0x00,
    0x4b, 0x00, 0x00, 0x3f, 0x00, 0xfb, 0xf7, 0xfe, 0x0d, 0x71, 0xff, 0x00, 0x94, 0x14, 0x7c, 0x0c,
    0xff, 0x00, 0xb9, 0x9b, 0xff, 0x00, 0x52, 0x7d, 0x5a, 0xbf, 0x3f, 0xbf, 0xe0, 0xe8, 0xef, 0xf9,
    0x4e, 0xbf, 0xc7, 0x3f, 0xfb, 0x96, 0x7f, 0xf5, 0x18, 0xd2, 0x6b, 0xf9, 0xff, 0x00, 0xaf, 0xdf,
    0xca, 0xff, 0xd9,
};

void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// CIFAR-10 record r of a file: label r % 10, pixel k = (r * 7 + k) % 256.
std::vector<unsigned char> cifar_records(int n, int first = 0) {
  std::vector<unsigned char> b;
  for (int r = first; r < first + n; ++r) {
    b.push_back(static_cast<unsigned char>(r % 10));
    for (int k = 0; k < 3072; ++k) b.push_back(static_cast<unsigned char>((r * 7 + k) % 256));
  }
  return b;
}

std::string cifar_dir(int per_file = 3) {
  std::string dir = testing::temp_dir() + "/cifar";
  fs::create_directories(dir);
  for (int i = 1; i <= 5; ++i) write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin", cifar_records(per_file, (i - 1) * per_file));
  write_bytes(dir + "/test_batch.bin", cifar_records(2, 100));
  return dir;
}

TEST(Cifar10, ReadsRecordsLabelsAndScalesToMinusOneOne) {
  Cifar10Dataset train(cifar_dir(), "train"), test(cifar_dir(), "test");
  EXPECT_EQ(train.size(), 15);
  EXPECT_EQ(test.size(), 2);
  EXPECT_EQ(train.sample_shape(), Shape({3, 32, 32}));
  std::vector<float> x(3072);
  int32_t label = -1;
  ASSERT_TRUE(train.get(7, x.data(), &label, nullptr));
  EXPECT_EQ(label, 7);
  for (int k : {0, 1, 1024, 2047, 3071}) EXPECT_FLOAT_EQ(x[k], ((7 * 7 + k) % 256) / 127.5f - 1.f) << k;
  EXPECT_NE(train.where(7).find("data_batch_3.bin record 1"), std::string::npos) << train.where(7);
}

TEST(Cifar10, CorruptFilesAreRejectedNamingTheFile) {
  std::string dir = cifar_dir();
  auto expect_error = [&](const std::string& needle) {
    try {
      Cifar10Dataset d(dir, "train");
      FAIL() << "accepted corrupt data";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  std::vector<unsigned char> truncated = cifar_records(3, 6);
  truncated.resize(truncated.size() - 100);
  write_bytes(dir + "/data_batch_3.bin", truncated);
  expect_error("data_batch_3.bin");
  std::vector<unsigned char> bad_label = cifar_records(3, 6);
  bad_label[3073] = 12;
  write_bytes(dir + "/data_batch_3.bin", bad_label);
  expect_error("record 1 has label 12");
  fs::remove(dir + "/data_batch_3.bin");
  expect_error("cannot open");
  EXPECT_THROW(Cifar10Dataset(testing::temp_dir() + "/nowhere", "train"), Error);
  EXPECT_THROW(Cifar10Dataset(cifar_dir(), "valid"), Error);
}

// ---------------------------------------------------------------- IDX

std::vector<unsigned char> idx_bytes(const std::vector<int>& dims, int type = 0x08, int magic0 = 0) {
  std::vector<unsigned char> b = {static_cast<unsigned char>(magic0), 0, static_cast<unsigned char>(type),
                                  static_cast<unsigned char>(dims.size())};
  size_t total = 1;
  for (int d : dims) {
    for (int s : {24, 16, 8, 0}) b.push_back(static_cast<unsigned char>((d >> s) & 0xff));
    total *= static_cast<size_t>(d);
  }
  for (size_t i = 0; i < total; ++i) b.push_back(static_cast<unsigned char>((i * 13) % 256));
  return b;
}

void write_gz(const std::string& path, const std::vector<unsigned char>& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
}

TEST(Idx, RawAndGzipPaddedTo32) {
  const std::string dir = testing::temp_dir();
  std::vector<unsigned char> images = idx_bytes({3, 28, 28}), labels = idx_bytes({3});
  labels[8] = 3, labels[9] = 7, labels[10] = 9;  // below the 10 classes
  write_bytes(dir + "/img.idx", images);
  write_gz(dir + "/img.idx.gz", images);
  write_gz(dir + "/lab.idx.gz", labels);
  for (const char* f : {"/img.idx", "/img.idx.gz"}) {
    IdxDataset d(dir + f, dir + "/lab.idx.gz");
    ASSERT_EQ(d.size(), 3);
    EXPECT_EQ(d.sample_shape(), Shape({1, 32, 32}));
    std::vector<float> x(1024);
    int32_t label;
    ASSERT_TRUE(d.get(1, x.data(), &label, nullptr));
    EXPECT_EQ(label, labels[4 + 4 + 1]);
    EXPECT_EQ(x[0], -1.f);  // padding
    // Pixel (0, 0) of image 1 sits at (2, 2).
    EXPECT_FLOAT_EQ(x[2 * 32 + 2], ((784 * 1) * 13 % 256) / 127.5f - 1.f);
  }
}

TEST(Idx, LargerImagesAreResized) {
  const std::string dir = testing::temp_dir();
  write_bytes(dir + "/big.idx", idx_bytes({2, 64, 64}));
  IdxDataset d(dir + "/big.idx", "", 32);
  std::vector<float> x(1024);
  int32_t label;
  ASSERT_TRUE(d.get(0, x.data(), &label, nullptr));
  // Area averaging: output (0, 0) is the mean of the 2x2 input block.
  const double mean = (0 * 13 % 256 + 1 * 13 % 256 + 64 * 13 % 256 + 65 * 13 % 256) / 4.0;
  EXPECT_NEAR(x[0], mean / 127.5 - 1, 1e-5);
}

TEST(Idx, CorruptFilesAreRejected) {
  const std::string dir = testing::temp_dir();
  auto expect_error = [&](const std::string& file, const std::string& needle) {
    try {
      IdxDataset d(file, "");
      FAIL() << "accepted " << file;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(needle), std::string::npos) << m;
      EXPECT_NE(m.find(file), std::string::npos) << m;
    }
  };
  write_bytes(dir + "/magic.idx", idx_bytes({2, 28, 28}, 0x08, 7));
  expect_error(dir + "/magic.idx", "bad magic number");
  write_bytes(dir + "/type.idx", idx_bytes({2, 28, 28}, 0x0D));
  expect_error(dir + "/type.idx", "only unsigned bytes");
  std::vector<unsigned char> t = idx_bytes({2, 28, 28});
  t.resize(t.size() - 10);
  write_gz(dir + "/trunc.idx.gz", t);
  expect_error(dir + "/trunc.idx.gz", "truncated");
  write_bytes(dir + "/labels.idx", idx_bytes({2}));
  expect_error(dir + "/labels.idx", "not an image file");
  expect_error(dir + "/missing.idx", "cannot open");
  write_bytes(dir + "/img2.idx", idx_bytes({2, 28, 28}));
  write_bytes(dir + "/lab3.idx", idx_bytes({3}));
  EXPECT_THROW(IdxDataset(dir + "/img2.idx", dir + "/lab3.idx"), Error);
}

TEST(Idx, RealFashionMnistWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto train = IdxDataset::from_directory(dir, "train", 32);
  auto test = IdxDataset::from_directory(dir, "test", 32);
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(test->size(), 10000);
  std::vector<int> counts(10, 0);
  std::vector<float> x(1024);
  int32_t label;
  double lo = 1, hi = -1;
  for (int64_t i = 0; i < train->size(); i += 97) {
    ASSERT_TRUE(train->get(i, x.data(), &label, nullptr));
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++counts[label];
    for (float v : x) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
  }
  for (int c : counts) EXPECT_GT(c, 40);  // all ten classes present
  EXPECT_EQ(lo, -1.0);
  EXPECT_EQ(hi, 1.0);
}

// ---------------------------------------------------------------- images

Image pattern(int h, int w, int c) {
  Image img;
  img.height = h;
  img.width = w;
  img.channels = c;
  img.px.resize(static_cast<size_t>(h) * w * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) img.at(y, x, ch) = static_cast<float>((x * 30 + y * 50 + ch * 70) % 256);
  return img;
}

TEST(Images, ResizeCropFlip) {
  // Area averaging of 2x2 blocks.
  Image checker;
  checker.height = checker.width = 4;
  checker.channels = 1;
  checker.px = {0, 0, 255, 255, 0, 0, 255, 255, 100, 100, 50, 50, 100, 100, 50, 50};
  Image half = resize(checker, 2, 2);
  EXPECT_EQ(half.px, (std::vector<float>{0, 255, 100, 50}));
  // Non-integer ratio: 3 -> 2 averages 1.5 pixels each.
  Image row;
  row.height = 1, row.width = 3, row.channels = 1;
  row.px = {0, 90, 180};
  Image r2 = resize(row, 1, 2);
  EXPECT_NEAR(r2.px[0], (0 + 0.5 * 90) / 1.5, 1e-4);
  EXPECT_NEAR(r2.px[1], (0.5 * 90 + 180) / 1.5, 1e-4);
  // Bilinear enlargement keeps constant images constant and interpolates ramps.
  Image up = resize(row, 1, 6);
  EXPECT_NEAR(up.px[0], 0, 1e-4);
  EXPECT_NEAR(up.px[5], 180, 1e-4);
  EXPECT_LT(up.px[2], up.px[3]);
  Image p = pattern(6, 10, 3);
  Image sq = center_crop_square(p);
  EXPECT_EQ(sq.height, 6);
  EXPECT_EQ(sq.width, 6);
  EXPECT_EQ(sq.at(0, 0, 1), p.at(0, 2, 1));
  Image f = flip_horizontal(p);
  EXPECT_EQ(f.at(3, 0, 2), p.at(3, 9, 2));
  Generator g(1);
  Image rc = random_crop_square(p, g);
  EXPECT_EQ(rc.height, 6);
}

TEST(Images, DecodeJpegGrayCmykAndPngNamedJpeg) {
  const std::string dir = testing::temp_dir();
  Image p = pattern(16, 16, 3);
  std::vector<unsigned char> px(p.px.begin(), p.px.end());
  ASSERT_TRUE(stbi_write_jpg((dir + "/rgb.jpg").c_str(), 16, 16, 3, px.data(), 98));
  ASSERT_TRUE(stbi_write_png((dir + "/actually_png.JPEG").c_str(), 16, 16, 3, px.data(), 48));
  Image gray = pattern(16, 16, 1);
  std::vector<unsigned char> gp(gray.px.begin(), gray.px.end());
  ASSERT_TRUE(stbi_write_jpg((dir + "/gray.jpg").c_str(), 16, 16, 1, gp.data(), 98));
  write_bytes(dir + "/cmyk.jpg", std::vector<unsigned char>(kCmykJpeg, kCmykJpeg + sizeof(kCmykJpeg)));
  Image j = decode_image(dir + "/rgb.jpg");
  double err = 0;
  for (size_t i = 0; i < j.px.size(); ++i) err = std::max<double>(err, std::fabs(j.px[i] - p.px[i]));
  EXPECT_LT(err, 40);  // lossy
  Image png = decode_image(dir + "/actually_png.JPEG");
  EXPECT_EQ(png.px, p.px);  // lossless, whatever the name says
  Image g3 = decode_image(dir + "/gray.jpg", 3);
  EXPECT_EQ(g3.channels, 3);
  EXPECT_EQ(g3.at(5, 5, 0), g3.at(5, 5, 2));  // replicated
  Image cmyk = decode_image(dir + "/cmyk.jpg", 3);
  EXPECT_EQ(cmyk.width, 4);
  EXPECT_GT(cmyk.at(1, 0, 1), cmyk.at(1, 0, 0));  // left half green
  EXPECT_GT(cmyk.at(1, 3, 0), cmyk.at(1, 3, 1));  // right half red
  write_bytes(dir + "/broken.jpg", {0xff, 0xd8, 0xff, 0x00, 1, 2, 3});
  try {
    decode_image(dir + "/broken.jpg");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos);
  }
}

TEST(Images, GridPngIsWrittenAndReadable) {
  const std::string path = testing::temp_dir() + "/grid.png";
  Tensor imgs = testing::random_tensor({10, 3, 8, 8}, DType::f32, 3);
  write_image_grid(path, imgs, 4);
  int w, h, n;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, 3);
  ASSERT_NE(px, nullptr);
  EXPECT_EQ(w, 4 * 10 + 2);
  EXPECT_EQ(h, 3 * 10 + 2);
  // Pixel (0, 0) of image 0, channel 0 sits at (2, 2).
  const float v = imgs.to_vector<float>()[0];
  EXPECT_NEAR(px[(2 * w + 2) * 3], (v + 1) * 127.5, 1.0);
  EXPECT_EQ(px[0], 255);  // border
  stbi_image_free(px);
}

// ---------------------------------------------------------------- image folder

std::string make_folder() {
  const std::string root = testing::temp_dir() + "/imagenet";
  fs::create_directories(root + "/n02_dog");
  fs::create_directories(root + "/n01_cat");
  Image p = pattern(20, 30, 3);
  std::vector<unsigned char> px(p.px.begin(), p.px.end());
  stbi_write_jpg((root + "/n01_cat/a.JPEG").c_str(), 30, 20, 3, px.data(), 95);
  stbi_write_png((root + "/n01_cat/b.JPEG").c_str(), 30, 20, 3, px.data(), 90);  // PNG named .JPEG
  stbi_write_jpg((root + "/n02_dog/c.jpg").c_str(), 30, 20, 3, px.data(), 95);
  Image g = pattern(24, 24, 1);
  std::vector<unsigned char> gp(g.px.begin(), g.px.end());
  stbi_write_jpg((root + "/n02_dog/d.JPEG").c_str(), 24, 24, 1, gp.data(), 95);  // grayscale
  // Undecodable: a JPEG cut short (its header passes the probe at open, its data do not decode).
  std::ifstream jpg(root + "/n02_dog/c.jpg", std::ios::binary);
  std::vector<unsigned char> cut((std::istreambuf_iterator<char>(jpg)), std::istreambuf_iterator<char>());
  cut.resize(cut.size() * 2 / 3);
  write_bytes(root + "/n02_dog/e.JPEG", cut);
  write_bytes(root + "/n02_dog/notes.txt", {0x41});                               // not an image: ignored
  return root;
}

TEST(ImageFolder, ClassesFromSortedFoldersAndUndecodableSkipped) {
  const std::string root = make_folder();
  auto ds = std::make_shared<ImageFolderDataset>(root, 16);
  EXPECT_EQ(ds->classes(), (std::vector<std::string>{"n01_cat", "n02_dog"}));
  EXPECT_EQ(ds->size(), 5);
  EXPECT_EQ(ds->sample_shape(), Shape({3, 16, 16}));
  std::vector<float> x(3 * 16 * 16);
  int32_t label;
  EXPECT_TRUE(ds->get(0, x.data(), &label, nullptr));
  EXPECT_EQ(label, 0);
  EXPECT_TRUE(ds->get(3, x.data(), &label, nullptr));
  EXPECT_EQ(label, 1);
  EXPECT_FALSE(ds->get(4, x.data(), &label, nullptr));
  EXPECT_EQ(ds->skipped(), 1);
  // The loader replaces the undecodable image (here from within the same tiny epoch,
  // where it may meet it again) and counts every encounter.
  Loader loader(ds, {5, 3, 0, 1});
  ImageBatch b = loader.next();
  EXPECT_EQ(b.images.shape(), Shape({5, 3, 16, 16}));
  EXPECT_GE(loader.skipped(), 1);
  for (float v : b.images.to_vector<float>()) ASSERT_TRUE(v >= -1 && v <= 1);
}

TEST(ImageFolder, EmptyClassOrDatasetIsAnError) {
  const std::string root = testing::temp_dir() + "/empty";
  fs::create_directories(root);
  EXPECT_THROW(ImageFolderDataset(root, 16), Error);
  fs::create_directories(root + "/class0");
  try {
    ImageFolderDataset d(root, 16);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("class0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ImageFolderDataset(testing::temp_dir() + "/missing", 16), Error);
}

// ---------------------------------------------------------------- loader

// A dataset whose sample i is filled with i (and can be told to fail).
class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(int64_t n, int64_t fail_at = -1) : n_(n), fail_at_(fail_at) {}
  int64_t size() const override { return n_; }
  Shape sample_shape() const override { return {1, 2, 2}; }
  int64_t num_classes() const override { return 3; }
  bool get(int64_t i, float* out, int32_t* label, Generator* aug) const override {
    ODEGAN_CHECK(i != fail_at_, "counting dataset: sample ", i, " is broken");
    for (int k = 0; k < 4; ++k) out[k] = static_cast<float>(i);
    *label = static_cast<int32_t>(i % 3);
    return true;
  }
  std::string where(int64_t i) const override { return "sample " + std::to_string(i); }
  std::string name() const override { return "counting"; }

 private:
  int64_t n_, fail_at_;
};

std::vector<float> take(Loader& l, int batches) {
  std::vector<float> out;
  for (int b = 0; b < batches; ++b) {
    std::vector<float> v = l.next().images.to_vector<float>();
    for (size_t k = 0; k < v.size(); k += 4) out.push_back(v[k]);
  }
  return out;
}

TEST(Loader, DeterministicAcrossThreadCountsAndEpochs) {
  auto ds = std::make_shared<CountingDataset>(23);
  std::vector<float> ref;
  for (int threads : {0, 1, 3}) {
    Loader l(ds, {4, 42, threads, 3});
    EXPECT_EQ(l.batches_per_epoch(), 5);
    std::vector<float> got = take(l, 12);  // crosses two epoch boundaries
    if (ref.empty())
      ref = got;
    else
      EXPECT_EQ(got, ref) << threads << " threads";
  }
  // Each epoch is a permutation: 20 distinct samples out of 23, and epochs differ.
  std::vector<float> e0(ref.begin(), ref.begin() + 20), e1(ref.begin() + 20, ref.begin() + 40);
  std::set<float> s0(e0.begin(), e0.end());
  EXPECT_EQ(s0.size(), 20u);
  EXPECT_NE(e0, e1);
  Loader other(ds, {4, 43, 1, 2});
  EXPECT_NE(take(other, 5), std::vector<float>(ref.begin(), ref.begin() + 20));
}

// Data parallelism: a loader of rows [begin, end) of every global batch gives exactly those
// rows of the whole batch (images and labels), across epochs and resumptions, also when a
// sample cannot be decoded and is replaced.
TEST(Loader, ShardsAreExactlyTheirRowsOfTheGlobalBatch) {
  auto rows = [](Loader& l, int batches) {
    std::vector<std::vector<float>> out;
    for (int b = 0; b < batches; ++b) {
      ImageBatch x = l.next();
      const int64_t n = x.images.shape()[0], per = x.images.numel() / n;
      const std::vector<float> v = x.images.to_vector<float>();
      const std::vector<int32_t> y = x.labels.to_vector<int32_t>();
      for (int64_t i = 0; i < n; ++i) {
        std::vector<float> r(v.begin() + i * per, v.begin() + (i + 1) * per);
        r.push_back(static_cast<float>(y[static_cast<size_t>(i)]));
        out.push_back(r);
      }
    }
    return out;
  };
  auto shard = [](int64_t batch, int64_t begin, int64_t end, int threads) {
    LoaderOptions o;
    o.batch = batch, o.seed = 42, o.threads = threads, o.shard_begin = begin, o.shard_end = end;
    return o;
  };
  // A counting dataset: 12 batches of 4 cross two epochs.
  auto ds = std::make_shared<CountingDataset>(23);
  Loader whole(ds, shard(4, 0, 4, 1));
  const auto all = rows(whole, 12);
  Loader a(ds, shard(4, 0, 1, 0)), b(ds, shard(4, 1, 4, 2));
  const auto ra = rows(a, 12), rb = rows(b, 12);
  ASSERT_EQ(ra.size(), 12u);
  ASSERT_EQ(rb.size(), 36u);
  for (int k = 0; k < 12; ++k) {
    EXPECT_EQ(ra[static_cast<size_t>(k)], all[static_cast<size_t>(4 * k)]) << "batch " << k;
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(rb[static_cast<size_t>(3 * k + j)], all[static_cast<size_t>(4 * k + 1 + j)]) << "batch " << k;
  }
  // An image folder with an undecodable file: every shard replaces it by the same sample.
  auto folder = std::make_shared<ImageFolderDataset>(make_folder(), 16);
  Loader fw(folder, shard(4, 0, 4, 0)), f0(folder, shard(4, 0, 2, 0)), f1(folder, shard(4, 2, 4, 1));
  const auto fall = rows(fw, 3), r0 = rows(f0, 3), r1 = rows(f1, 3);
  EXPECT_GE(fw.skipped(), 1);
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 2; ++j) {
      EXPECT_EQ(r0[static_cast<size_t>(2 * k + j)], fall[static_cast<size_t>(4 * k + j)]) << "batch " << k;
      EXPECT_EQ(r1[static_cast<size_t>(2 * k + j)], fall[static_cast<size_t>(4 * k + 2 + j)]) << "batch " << k;
    }
  EXPECT_THROW(Loader(ds, shard(4, 3, 3, 0)), Error);
  EXPECT_THROW(Loader(ds, shard(4, 0, 5, 0)), Error);
}

TEST(Loader, ResumesFromItsPosition) {
  auto ds = std::make_shared<CountingDataset>(30);
  Loader a(ds, {4, 7, 2, 2});
  take(a, 9);
  LoaderPosition pos = a.position();
  EXPECT_EQ(pos.epoch, 1);
  EXPECT_EQ(pos.batch, 2);
  std::vector<float> rest = take(a, 6);
  Loader b(ds, {4, 7, 2, 2}, pos);
  EXPECT_EQ(take(b, 6), rest);
}

TEST(Loader, WorkerErrorsReachTheConsumerAndBadSetupsAreErrors) {
  auto ds = std::make_shared<CountingDataset>(8, 5);
  Loader l(ds, {8, 0, 2, 2, Device::cpu(), false});
  try {
    l.next();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample 5 is broken"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Loader(std::make_shared<CountingDataset>(3), {4}), Error);
}

// The loader delivers on its device: the same batches (bitwise) as a single-threaded CPU
// loader, images and labels on the device, and resumption from a position there too.
class LoaderOnDevice : public testing::DeviceTest {};
INSTANTIATE_TEST_SUITE_P(Devices, LoaderOnDevice, ::testing::ValuesIn(testing::device_cases({DType::f32})),
                         [](const auto& p) { return testing::device_case_name(p.param); });

TEST_P(LoaderOnDevice, DeliversTheSameBatchesOnTheDevice) {
  auto ds = std::make_shared<CountingDataset>(23);
  Loader ref(ds, {4, 42, 0, 1});
  Loader dev(ds, {4, 42, 2, 3, device()});
  for (int b = 0; b < 12; ++b) {  // crosses two epoch boundaries
    ImageBatch r = ref.next(), d = dev.next();
    ASSERT_EQ(d.images.device(), device());
    ASSERT_EQ(d.labels.device(), device());
    EXPECT_EQ(d.images.shape(), Shape({4, 1, 2, 2}));
    EXPECT_EQ(d.images.to_vector<float>(), r.images.to_vector<float>()) << "batch " << b;
    EXPECT_EQ(d.labels.to_vector<int32_t>(), r.labels.to_vector<int32_t>()) << "batch " << b;
  }
  // Resumed from its position, a device loader continues with the same batches.
  Loader again(ds, {4, 42, 1, 2, device()}, dev.position());
  for (int b = 0; b < 3; ++b) EXPECT_EQ(again.next().images.to_vector<float>(), dev.next().images.to_vector<float>());
}

// ---------------------------------------------------------------- mixture of Gaussians

TEST(Mog, StratifiedSamplesAroundTheModes) {
  MixtureOfGaussians mog;
  Generator g(1);
  Tensor x = mog.sample(512, g, DType::f64);
  std::vector<double> v = x.to_vector<double>();
  const auto& modes = MixtureOfGaussians::modes();
  double var = 0;
  for (int i = 0; i < 512; ++i) {
    const double dx = v[2 * i] - modes[i % 16][0], dy = v[2 * i + 1] - modes[i % 16][1];
    var += dx * dx + dy * dy;
  }
  EXPECT_NEAR(std::sqrt(var / 1024), 0.02, 0.002);
  MogQuality q = mog_quality(x);
  EXPECT_EQ(q.modes_covered, 16);
  EXPECT_GT(q.hq_fraction, 0.97);  // 3 std in 2-D holds 98.9%
}

TEST(Mog, QualityMetricsOnConstructedPoints) {
  // 10 points at mode 0, 5 at mode 3 but 0.1 away (not high quality), 5 far from every mode.
  std::vector<double> p;
  for (int i = 0; i < 10; ++i) p.insert(p.end(), {1.5, 1.5});
  for (int i = 0; i < 5; ++i) p.insert(p.end(), {1.6, -1.5});
  for (int i = 0; i < 5; ++i) p.insert(p.end(), {0.0, 0.0});
  MogQuality q = mog_quality(Tensor::from_doubles(p, {20, 2}, DType::f64));
  EXPECT_EQ(q.modes_covered, 1);
  EXPECT_DOUBLE_EQ(q.hq_fraction, 0.5);
  EXPECT_EQ(q.per_mode[0], 10);
}

}  // namespace
}  // namespace odegan::data
