// An image folder in the ImageNet layout: root/<class>/<image files>, class index = rank
// of the folder name in sorted order. Images are decoded on demand (in the loader's
// worker threads), cropped to a square (centre, or random as augmentation), optionally
// flipped, and resized to side x side. Every file's header is probed at open (in
// parallel, reading only the first bytes): files that cannot be images (wrong format,
// corrupt header, too large) are left out and reported, a class left without images is
// an error, and so is a skipped fraction above max_skipped_fraction. Images whose data
// turn out corrupt when decoded later are skipped by the loader and counted.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace odegan::data {

class ImageFolderDataset : public Dataset {
 public:
  // Throws when root is missing, has no class folders, a class has no readable images,
  // or more than max_skipped_fraction of the image files cannot be read.
  ImageFolderDataset(const std::string& root, int64_t side = 128, int channels = 3, bool random_crop = false,
                     bool random_flip = false, double max_skipped_fraction = 0.01);
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape sample_shape() const override { return {channels_, side_, side_}; }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  bool get(int64_t i, float* out, int32_t* label, Generator* aug) const override;
  std::string where(int64_t i) const override { return files_[static_cast<size_t>(i)]; }
  std::string name() const override { return "folder"; }
  const std::vector<std::string>& classes() const { return classes_; }
  // Decode failures in get() so far.
  int64_t skipped() const { return skipped_.load(); }
  // Files left out at open (path and reason), and a one-paragraph summary of them.
  const std::vector<std::pair<std::string, std::string>>& skipped_at_open() const { return skipped_files_; }
  std::string report() const override;

 private:
  std::vector<std::string> classes_, files_;
  std::vector<int32_t> labels_;
  std::vector<std::pair<std::string, std::string>> skipped_files_;
  std::string root_;
  int64_t side_;
  int channels_;
  bool random_crop_, random_flip_;
  mutable std::atomic<int64_t> skipped_{0};
};

// File extensions read as images (case-insensitive): jpeg, jpg, png, bmp.
bool is_image_file(const std::string& name);

}  // namespace odegan::data
