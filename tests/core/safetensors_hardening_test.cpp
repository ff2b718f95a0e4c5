// safetensors files that lie in their headers (sizes that overflow, duplicate names,
// headers that are not objects or longer than the file), paths that are not regular
// files (a directory, a FIFO: refused without blocking), and checked shape arithmetic.
// Every error must name the file (and the tensor when there is one).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "core/safetensors.h"
#include "tests/common/test_util.h"

namespace odegan {
namespace {

std::string file_bytes(const std::string& header, const std::string& data, int64_t declared_len = -1) {
  const uint64_t n = declared_len >= 0 ? uint64_t(declared_len) : header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = testing::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Loads from the file and from memory; both must refuse, naming the file (and `also`).
std::string rejected(const std::string& name, const std::string& bytes, const std::string& also = "") {
  const std::string path = write_file(name, bytes);
  std::string message;
  try {
    load_safetensors(path);
    ADD_FAILURE() << "accepted " << name;
  } catch (const Error& e) {
    message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << "does not name the file: " << message;
    EXPECT_NE(message.find(also), std::string::npos) << "does not name " << also << ": " << message;
  }
  try {
    read_safetensors_memory(bytes.data(), bytes.size(), "mem:" + name);
    ADD_FAILURE() << "accepted " << name << " from memory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mem:" + name), std::string::npos) << e.what();
  }
  return message;
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(SafetensorsHardening, ByteSizesThatOverflowAreRefused) {
  // 2^62 F32 elements are 2^64 bytes: 0 after wrapping, matching an empty data section.
  EXPECT_HAS(rejected("wrap.safetensors",
                      file_bytes(R"({"big":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", "")),
             "overflows");
  // The element count itself overflows int64 (2^32 x 2^32).
  EXPECT_HAS(rejected("numel.safetensors",
                      file_bytes(R"({"big":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
                      "tensor 'big'"),
             "overflows");
  // A size above INT64_MAX.
  EXPECT_HAS(rejected("u64.safetensors",
                      file_bytes(R"({"big":{"dtype":"I32","shape":[18446744073709551615],"data_offsets":[0,0]}})", ""),
                      "tensor 'big'"),
             "overflows");
  // A zero dimension makes any product empty: that is a valid empty tensor.
  const std::string ok = file_bytes(R"({"e":{"dtype":"F32","shape":[0,4611686018427387904],"data_offsets":[0,0]}})", "");
  EXPECT_EQ(read_safetensors_memory(ok.data(), ok.size(), "ok").at("e").numel(), 0);
}

TEST(SafetensorsHardening, DuplicateNamesAndBadHeadersAreRefused) {
  const std::string a = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  EXPECT_HAS(rejected("dup.safetensors", file_bytes("{" + a + "," + a + "}", std::string(4, '\0'))),
             "duplicate name 'a'");
  EXPECT_HAS(rejected("dupfield.safetensors",
                      file_bytes(R"({"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}})",
                                 std::string(4, '\0'))),
             "duplicate name 'dtype'");
  EXPECT_HAS(rejected("array.safetensors", file_bytes("[1, 2]", "")), "not a JSON object");
  EXPECT_HAS(rejected("long.safetensors", file_bytes("{}", "", 1000)), "bad header length 1000");
  EXPECT_HAS(rejected("dtype.safetensors",
                      file_bytes(R"({"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
                      "tensor 'a'"),
             "unsupported dtype 'f32'");
  EXPECT_HAS(rejected("meta.safetensors", file_bytes(R"({"__metadata__":{"step":3}})", "")), "__metadata__");
}

TEST(SafetensorsHardening, OffsetsMayComeInAnyOrderButMustTileTheData) {
  // Listed out of order but contiguous: accepted (the format orders by offset, not by name).
  const std::string two = file_bytes(R"({"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8));
  TensorMap t = read_safetensors_memory(two.data(), two.size(), "two");
  EXPECT_EQ(t.at("z").to_vector<float>(), std::vector<float>{1.f});
  EXPECT_EQ(t.at("a").to_vector<float>(), std::vector<float>{2.f});
  // The same tensor twice over the same bytes is an overlap.
  EXPECT_HAS(rejected("same.safetensors",
                      file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                 std::string(4, '\0'))),
             "overlaps");
}

TEST(SafetensorsHardening, DirectoriesAndFifosAreRefusedWithoutBlocking) {
  const std::string dir = testing::temp_dir() + "/a_directory.safetensors";
  std::filesystem::create_directories(dir);
  try {
    load_safetensors(dir);
    FAIL() << "accepted a directory";
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), dir);
    EXPECT_HAS(std::string(e.what()), "is a directory");
  }
  const std::string fifo = testing::temp_dir() + "/fifo.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto result = std::async(std::launch::async, [&]() -> std::string {
    try {
      load_safetensors(fifo);
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
  });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    // Release the blocked open() so the test ends, then fail.
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
    FAIL() << "load_safetensors blocked on a FIFO";
  }
  const std::string m = result.get();
  EXPECT_HAS(m, fifo);
  EXPECT_HAS(m, "FIFO");
}

TEST(SafetensorsHardening, ShapeArithmeticIsChecked) {
  const Shape s({int64_t(1) << 32, int64_t(1) << 32});
  try {
    (void)s.numel();
    FAIL() << "numel overflowed silently";
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), "[4294967296, 4294967296]");
  }
  EXPECT_EQ(Shape({int64_t(1) << 31, int64_t(1) << 31}).numel(), int64_t(1) << 62);
  // 2^61 doubles are 2^64 bytes: refused instead of allocating a wrapped size.
  EXPECT_THROW(Tensor::empty({int64_t(1) << 61}, DType::f64), Error);
}

}  // namespace
}  // namespace odegan
