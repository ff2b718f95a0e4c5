// An image folder in the ImageNet layout: root/<class>/<image files>, class index = rank
// of the folder name in sorted order. Images are decoded on demand (in the loader's
// worker threads), cropped to a square (centre, or random as augmentation), optionally
// flipped, and resized to side x side. Undecodable images are skipped and counted.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace odegan::data {

class ImageFolderDataset : public Dataset {
 public:
  // Throws when root is missing, has no class folders, or a class has no images.
  ImageFolderDataset(const std::string& root, int64_t side = 128, int channels = 3, bool random_crop = false,
                     bool random_flip = false);
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape sample_shape() const override { return {channels_, side_, side_}; }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  bool get(int64_t i, float* out, int32_t* label, Generator* aug) const override;
  std::string where(int64_t i) const override { return files_[static_cast<size_t>(i)]; }
  std::string name() const override { return "folder"; }
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t skipped() const { return skipped_.load(); }

 private:
  std::vector<std::string> classes_, files_;
  std::vector<int32_t> labels_;
  int64_t side_;
  int channels_;
  bool random_crop_, random_flip_;
  mutable std::atomic<int64_t> skipped_{0};
};

// File extensions read as images (case-insensitive): jpeg, jpg, png, bmp.
bool is_image_file(const std::string& name);

}  // namespace odegan::data
