#include "data/image.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>

namespace odegan::data {

namespace {
Image from_stb(unsigned char* pixels, int w, int h, int channels, const std::string& name) {
  ODEGAN_CHECK(pixels != nullptr, "cannot decode image '", name, "': ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  Image img;
  img.height = h;
  img.width = w;
  img.channels = channels;
  img.px.assign(pixels, pixels + static_cast<size_t>(w) * h * channels);
  stbi_image_free(pixels);
  return img;
}
}  // namespace

Image decode_image(const std::string& path, int channels) {
  ODEGAN_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  int w = 0, h = 0, n = 0;
  unsigned char* p = stbi_load(path.c_str(), &w, &h, &n, channels);
  return from_stb(p, w, h, channels, path);
}

Image decode_image_memory(const unsigned char* data, size_t size, int channels, const std::string& name) {
  ODEGAN_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  int w = 0, h = 0, n = 0;
  unsigned char* p = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &n, channels);
  return from_stb(p, w, h, channels, name);
}

namespace {
Image crop(const Image& img, int y0, int x0, int h, int w) {
  Image out;
  out.height = h;
  out.width = w;
  out.channels = img.channels;
  out.px.resize(static_cast<size_t>(h) * w * img.channels);
  for (int y = 0; y < h; ++y)
    std::copy_n(&img.px[(static_cast<size_t>(y0 + y) * img.width + x0) * img.channels], static_cast<size_t>(w) * img.channels,
                &out.px[static_cast<size_t>(y) * w * img.channels]);
  return out;
}
}  // namespace

Image center_crop_square(const Image& img) {
  const int s = std::min(img.height, img.width);
  return crop(img, (img.height - s) / 2, (img.width - s) / 2, s, s);
}

Image random_crop_square(const Image& img, Generator& gen) {
  const int s = std::min(img.height, img.width);
  const int y0 = static_cast<int>(gen.next_below(static_cast<uint64_t>(img.height - s + 1)));
  const int x0 = static_cast<int>(gen.next_below(static_cast<uint64_t>(img.width - s + 1)));
  return crop(img, y0, x0, s, s);
}

Image flip_horizontal(const Image& img) {
  Image out = img;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      for (int c = 0; c < img.channels; ++c) out.at(y, x, c) = img.at(y, img.width - 1 - x, c);
  return out;
}

namespace {
// 1-D resampling weights: for each output index, the input indices and weights.
struct Taps {
  std::vector<int> first, count;
  std::vector<float> w;  // concatenated
  std::vector<size_t> at;
};

Taps make_taps(int in, int out) {
  Taps t;
  if (out <= in) {
    // Area averaging: output pixel o covers input [o * s, (o + 1) * s), s = in / out.
    const double s = static_cast<double>(in) / out;
    for (int o = 0; o < out; ++o) {
      const double a = o * s, b = (o + 1) * s;
      const int i0 = static_cast<int>(std::floor(a)), i1 = std::min(in, static_cast<int>(std::ceil(b)));
      t.first.push_back(i0);
      t.count.push_back(i1 - i0);
      t.at.push_back(t.w.size());
      for (int i = i0; i < i1; ++i) {
        const double cover = std::min<double>(b, i + 1) - std::max<double>(a, i);
        t.w.push_back(static_cast<float>(cover / s));
      }
    }
  } else {
    // Bilinear, pixel centres aligned (as most image libraries).
    for (int o = 0; o < out; ++o) {
      double x = (o + 0.5) * in / out - 0.5;
      x = std::clamp(x, 0.0, static_cast<double>(in - 1));
      const int i0 = static_cast<int>(std::floor(x)), i1 = std::min(in - 1, i0 + 1);
      const float f = static_cast<float>(x - i0);
      t.first.push_back(i0);
      t.at.push_back(t.w.size());
      if (i1 == i0) {
        t.count.push_back(1);
        t.w.push_back(1.f);
      } else {
        t.count.push_back(2);
        t.w.push_back(1.f - f);
        t.w.push_back(f);
      }
    }
  }
  return t;
}
}  // namespace

Image resize(const Image& img, int height, int width) {
  ODEGAN_CHECK(height > 0 && width > 0 && img.height > 0 && img.width > 0, "resize: bad sizes ", img.height, "x",
               img.width, " -> ", height, "x", width);
  if (height == img.height && width == img.width) return img;
  const Taps th = make_taps(img.height, height), tw = make_taps(img.width, width);
  const int c = img.channels;
  // Rows first, then columns (separable).
  std::vector<float> tmp(static_cast<size_t>(img.height) * width * c, 0.f);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int k = 0; k < tw.count[x]; ++k) {
        const float w = tw.w[tw.at[x] + k];
        const float* src = &img.px[(static_cast<size_t>(y) * img.width + tw.first[x] + k) * c];
        float* dst = &tmp[(static_cast<size_t>(y) * width + x) * c];
        for (int ch = 0; ch < c; ++ch) dst[ch] += w * src[ch];
      }
  Image out;
  out.height = height;
  out.width = width;
  out.channels = c;
  out.px.assign(static_cast<size_t>(height) * width * c, 0.f);
  for (int y = 0; y < height; ++y)
    for (int k = 0; k < th.count[y]; ++k) {
      const float w = th.w[th.at[y] + k];
      const float* src = &tmp[static_cast<size_t>(th.first[y] + k) * width * c];
      float* dst = &out.px[static_cast<size_t>(y) * width * c];
      for (int i = 0; i < width * c; ++i) dst[i] += w * src[i];
    }
  return out;
}

void image_to_chw(const Image& img, float* out) {
  const size_t plane = static_cast<size_t>(img.height) * img.width;
  for (int c = 0; c < img.channels; ++c)
    for (size_t i = 0; i < plane; ++i) out[c * plane + i] = img.px[i * img.channels + c] / 127.5f - 1.f;
}

void write_png(const std::string& path, const Image& img) {
  ODEGAN_CHECK(img.channels == 1 || img.channels == 3, "write_png: 1 or 3 channels, got ", img.channels);
  std::vector<unsigned char> px(img.px.size());
  for (size_t i = 0; i < px.size(); ++i)
    px[i] = static_cast<unsigned char>(std::lround(std::clamp(img.px[i], 0.f, 255.f)));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ODEGAN_CHECK(stbi_write_png(tmp.c_str(), img.width, img.height, img.channels, px.data(), img.width * img.channels) != 0,
               "cannot write PNG '", path, "'");
  ODEGAN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path, "'");
}

void write_jpeg(const std::string& path, const Image& img, int quality) {
  ODEGAN_CHECK(img.channels == 1 || img.channels == 3, "write_jpeg: 1 or 3 channels, got ", img.channels);
  std::vector<unsigned char> px(img.px.size());
  for (size_t i = 0; i < px.size(); ++i)
    px[i] = static_cast<unsigned char>(std::lround(std::clamp(img.px[i], 0.f, 255.f)));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ODEGAN_CHECK(stbi_write_jpg(tmp.c_str(), img.width, img.height, img.channels, px.data(), quality) != 0,
               "cannot write JPEG '", path, "'");
  ODEGAN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path, "'");
}

std::vector<Image> images_from_tensor(const Tensor& images) {
  ODEGAN_CHECK(images.ndim() == 4 && (images.shape()[1] == 1 || images.shape()[1] == 3),
               "images_from_tensor: images must be (N, 1 or 3, H, W), got ", images.shape().str());
  const int n = static_cast<int>(images.shape()[0]), c = static_cast<int>(images.shape()[1]);
  const int h = static_cast<int>(images.shape()[2]), w = static_cast<int>(images.shape()[3]);
  std::vector<float> v = images.to_vector<float>();
  std::vector<Image> out(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    Image& img = out[static_cast<size_t>(k)];
    img.height = h, img.width = w, img.channels = c;
    img.px.resize(static_cast<size_t>(h) * w * c);
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const float val = v[((static_cast<size_t>(k) * c + ch) * h + y) * w + x];
          img.at(y, x, ch) = std::isfinite(val) ? (std::clamp(val, -1.f, 1.f) + 1.f) * 127.5f : 0.f;
        }
  }
  return out;
}

void write_image_grid(const std::string& path, const Tensor& images, int cols) {
  ODEGAN_CHECK(images.ndim() == 4 && (images.shape()[1] == 1 || images.shape()[1] == 3),
               "write_image_grid: images must be (N, 1 or 3, H, W), got ", images.shape().str());
  ODEGAN_CHECK(cols > 0, "write_image_grid: cols must be positive");
  const int n = static_cast<int>(images.shape()[0]), c = static_cast<int>(images.shape()[1]);
  const int h = static_cast<int>(images.shape()[2]), w = static_cast<int>(images.shape()[3]);
  const int rows = (n + cols - 1) / cols, border = 2;
  Image grid;
  grid.channels = c;
  grid.height = rows * (h + border) + border;
  grid.width = cols * (w + border) + border;
  grid.px.assign(static_cast<size_t>(grid.height) * grid.width * c, 255.f);
  const std::vector<Image> cells = images_from_tensor(images);
  for (int k = 0; k < n; ++k) {
    const int y0 = border + (k / cols) * (h + border), x0 = border + (k % cols) * (w + border);
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) grid.at(y0 + y, x0 + x, ch) = cells[static_cast<size_t>(k)].at(y, x, ch);
  }
  write_png(path, grid);
}

}  // namespace odegan::data
