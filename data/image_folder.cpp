#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "data/image.h"

namespace odegan::data {

namespace fs = std::filesystem;

bool is_image_file(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpeg" || ext == ".jpg" || ext == ".png" || ext == ".bmp";
}

ImageFolderDataset::ImageFolderDataset(const std::string& root, int64_t side, int channels, bool random_crop,
                                       bool random_flip)
    : side_(side), channels_(channels), random_crop_(random_crop), random_flip_(random_flip) {
  ODEGAN_CHECK(fs::is_directory(root), "image folder: '", root, "' is not a directory");
  ODEGAN_CHECK(channels == 1 || channels == 3, "image folder: channels must be 1 or 3");
  ODEGAN_CHECK(side > 0, "image folder: image size must be positive");
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes_.push_back(e.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  ODEGAN_CHECK(!classes_.empty(), "image folder: '", root, "' has no class folders (expected root/<class>/<images>)");
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(root + "/" + classes_[c]))
      if (e.is_regular_file() && is_image_file(e.path().string())) files.push_back(e.path().string());
    ODEGAN_CHECK(!files.empty(), "image folder: class '", classes_[c], "' (", root, "/", classes_[c],
                 ") has no images");
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      files_.push_back(std::move(f));
      labels_.push_back(static_cast<int32_t>(c));
    }
  }
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
