#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>
#include <thread>

#include "data/image.h"

namespace odegan::data {

namespace fs = std::filesystem;

bool is_image_file(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpeg" || ext == ".jpg" || ext == ".png" || ext == ".bmp";
}

ImageFolderDataset::ImageFolderDataset(const std::string& root, int64_t side, int channels, bool random_crop,
                                       bool random_flip, double max_skipped_fraction)
    : root_(root), side_(side), channels_(channels), random_crop_(random_crop), random_flip_(random_flip) {
  ODEGAN_CHECK(fs::is_directory(root), "image folder: '", root, "' is not a directory");
  ODEGAN_CHECK(channels == 1 || channels == 3, "image folder: channels must be 1 or 3");
  ODEGAN_CHECK(side > 0, "image folder: image size must be positive");
  ODEGAN_CHECK(max_skipped_fraction >= 0 && max_skipped_fraction <= 1,
               "image folder: the tolerated fraction of skipped files must be in [0, 1], got ", max_skipped_fraction);
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes_.push_back(e.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  ODEGAN_CHECK(!classes_.empty(), "image folder: '", root, "' has no class folders (expected root/<class>/<images>)");
  std::vector<std::string> all;
  std::vector<int32_t> all_labels;
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(root + "/" + classes_[c]))
      if (e.is_regular_file() && is_image_file(e.path().string())) files.push_back(e.path().string());
    ODEGAN_CHECK(!files.empty(), "image folder: class '", classes_[c], "' (", root, "/", classes_[c],
                 ") has no images");
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      all.push_back(std::move(f));
      all_labels.push_back(static_cast<int32_t>(c));
    }
  }
  // Probe every header in parallel: a folder of garbage must fail now, not train.
  std::vector<std::string> why(all.size());
  const size_t nthreads = std::max<size_t>(1, std::min<size_t>(8, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  auto probe = [&] {
    for (size_t i; (i = next++) < all.size();) {
      try {
        probe_image(all[i]);
      } catch (const std::exception& e) {
        why[i] = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  try {
    for (size_t t = 1; t < nthreads; ++t) pool.emplace_back(probe);
  } catch (const std::system_error&) {
    // Fewer threads than hoped: the ones started (and this one) do the work.
  }
  probe();
  for (auto& t : pool) t.join();
  std::vector<int64_t> per_class(classes_.size(), 0);
  for (size_t i = 0; i < all.size(); ++i) {
    if (!why[i].empty()) {
      skipped_files_.push_back({all[i], why[i]});
      continue;
    }
    files_.push_back(all[i]);
    labels_.push_back(all_labels[i]);
    ++per_class[static_cast<size_t>(all_labels[i])];
  }
  for (size_t c = 0; c < classes_.size(); ++c)
    ODEGAN_CHECK(per_class[c] > 0, "image folder: class '", classes_[c], "' (", root, "/", classes_[c],
                 ") has no readable images. ", report());
  const double fraction = static_cast<double>(skipped_files_.size()) / static_cast<double>(all.size());
  ODEGAN_CHECK(fraction <= max_skipped_fraction, "image folder: ", report(), " That is more than the tolerated fraction ",
               max_skipped_fraction, " (--max-skipped-fraction).");
}

std::string ImageFolderDataset::report() const {
  if (skipped_files_.empty()) return {};
  const size_t total = files_.size() + skipped_files_.size();
  std::string s = "image folder '" + root_ + "': skipped " + std::to_string(skipped_files_.size()) + " of " +
                  std::to_string(total) + " image files that cannot be read";
  for (size_t k = 0; k < std::min<size_t>(3, skipped_files_.size()); ++k)
    s += (k ? "; " : ": ") + skipped_files_[k].second;
  if (skipped_files_.size() > 3) s += "; ...";
  return s + ".";
}

bool ImageFolderDataset::get(int64_t i, float* out, int32_t* label, Generator* aug) const {
  *label = labels_[static_cast<size_t>(i)];
  Image img;
  try {
    img = decode_image(files_[static_cast<size_t>(i)], channels_);
  } catch (const Error&) {
    ++skipped_;
    return false;
  }
  img = (random_crop_ && aug) ? random_crop_square(img, *aug) : center_crop_square(img);
  if (random_flip_ && aug && aug->next_below(2) == 1) img = flip_horizontal(img);
  image_to_chw(resize(img, static_cast<int>(side_), static_cast<int>(side_)), out);
  return true;
}

}  // namespace odegan::data
