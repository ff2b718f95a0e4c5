#include "data/dataset.h"

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image_folder.h"

namespace odegan::data {

std::unique_ptr<Dataset> open_dataset(const std::string& path, const DatasetOptions& o) {
  if (o.format == "cifar10") {
    ODEGAN_CHECK(o.image_size == 32, "CIFAR-10 images are 32x32; got --image-size ", o.image_size);
    return std::make_unique<Cifar10Dataset>(path, o.split);
  }
  if (o.format == "idx") return IdxDataset::from_directory(path, o.split, o.image_size);
  if (o.format == "folder")
    return std::make_unique<ImageFolderDataset>(path, o.image_size, o.channels, o.random_crop, o.random_flip,
                                                o.max_skipped_fraction);
  ODEGAN_FAIL("unknown dataset format '", o.format, "': expected cifar10, idx or folder");
}

}  // namespace odegan::data
