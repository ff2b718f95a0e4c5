// Images on the host: decoding (stb_image: JPEG incl. grayscale and CMYK-free baseline
// and progressive files, PNG, BMP, ...; the content decides, not the file name), square
// centre and random crops, horizontal flips, resizing (area averaging for shrinking,
// bilinear otherwise), conversion to CHW tensors in [-1, 1], and PNG output including
// sample grids.
#pragma once
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace odegan::data {

// Pixels in [0, 255] as floats, height x width x channels (row-major, interleaved).
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<float> px;
  float& at(int y, int x, int c) { return px[(static_cast<size_t>(y) * width + x) * channels + c]; }
  float at(int y, int x, int c) const { return px[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

// Decodes a file into `channels` channels (1 or 3; grayscale images are replicated).
// Throws odegan::Error naming the file and stb's reason when it cannot be decoded.
Image decode_image(const std::string& path, int channels = 3);
Image decode_image_memory(const unsigned char* data, size_t size, int channels, const std::string& name);

Image center_crop_square(const Image& img);
// A square crop of side min(h, w) at a random position.
Image random_crop_square(const Image& img, Generator& gen);
Image flip_horizontal(const Image& img);
// Area averaging when shrinking (each output pixel averages the input area it covers),
// bilinear interpolation when enlarging.
Image resize(const Image& img, int height, int width);

// Writes img (C, H, W) scaled from [-1, 1] to out[0 .. C*H*W).
void image_to_chw(const Image& img, float* out);

// Writes an RGB or gray image (pixels in [0, 255]) as PNG, atomically.
void write_png(const std::string& path, const Image& img);
// Writes a JPEG (for test data and benchmarks), atomically.
void write_jpeg(const std::string& path, const Image& img, int quality = 90);
// Images (N, C, H, W) with values in [-1, 1] as N images with pixels in [0, 255] (the
// mapping the grids use: clamp, then (v + 1) * 127.5; non-finite values become 0). Any device.
std::vector<Image> images_from_tensor(const Tensor& images);
// Writes images (N, C, H, W) with values in [-1, 1] as one PNG grid of `cols` columns
// (8 x 8 for 64 images) with a 2-pixel border. Any device; C = 1 or 3.
void write_image_grid(const std::string& path, const Tensor& images, int cols = 8);

}  // namespace odegan::data
