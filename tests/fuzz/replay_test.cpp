// Replays every committed seed (tests/fuzz/corpus/<target>/) and every past crash file
// (tests/fuzz/crashes/<target>/) through the fuzz targets' entry points, without
// libFuzzer: each must be accepted or refused with an odegan::Error naming the input,
// and each target's seeds must include accepted and refused inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/fuzz_targets.h"

namespace odegan::fuzz {
namespace {

namespace fs = std::filesystem;

struct Replayed {
  int files = 0, good = 0, weak = 0;
};

Replayed replay(const Target& t, const std::string& dir) {
  Replayed r;
  if (!fs::is_directory(dir)) return r;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++r.files;
    try {
      (t.run(bytes.data(), bytes.size()) == Outcome::good ? r.good : r.weak)++;
    } catch (const std::exception& e) {
      ADD_FAILURE() << f << ": " << e.what();
    }
  }
  return r;
}

class FuzzReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzReplay, SeedsAndPastCrashesAreAcceptedOrCleanlyRefused) {
  std::vector<Target> all = parser_targets();
  all.insert(all.end(), app_targets().begin(), app_targets().end());
  const Target& t = find_target(all, GetParam());
  const std::string root = std::string(ODEGAN_SOURCE_DIR) + "/tests/fuzz/";
  const Replayed seeds = replay(t, root + "corpus/" + t.name);
  const Replayed crashes = replay(t, root + "crashes/" + t.name);
  EXPECT_GT(seeds.good, 0) << t.name << ": no seed is accepted (" << seeds.files << " seeds)";
  EXPECT_GT(seeds.weak, 0) << t.name << ": no seed is refused (" << seeds.files << " seeds)";
  std::printf("%s: %d seeds (%d good, %d weak), %d past crash files\n", t.name, seeds.files, seeds.good, seeds.weak,
              crashes.files);
}

std::vector<std::string> names() {
  std::vector<std::string> n;
  for (const Target& t : parser_targets()) n.push_back(t.name);
  for (const Target& t : app_targets()) n.push_back(t.name);
  return n;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(names()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace odegan::fuzz
