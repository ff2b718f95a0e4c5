#include "data/image.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>
#include <turbojpeg.h>

#include "core/input_file.h"

namespace odegan::data {

namespace {

bool is_jpeg(const unsigned char* d, size_t n) { return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF; }
bool is_png(const unsigned char* d, size_t n) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return n >= 8 && std::memcmp(d, sig, 8) == 0;
}
bool is_bmp(const unsigned char* d, size_t n) { return n >= 2 && d[0] == 'B' && d[1] == 'M'; }

[[noreturn]] void cannot_decode(const std::string& name, const std::string& why) {
  ODEGAN_FAIL("cannot decode image '", name, "': ", why);
}

void check_pixels(int w, int h, const std::string& name) {
  if (w <= 0 || h <= 0) cannot_decode(name, "bad size " + std::to_string(w) + "x" + std::to_string(h));
  if (int64_t(w) * h > kMaxImagePixels)
    cannot_decode(name, "its header declares " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the " +
                            std::to_string(kMaxImagePixels) + " accepted");
}

// One TurboJPEG decompressor per thread (the loader's workers decode concurrently).
tjhandle jpeg_decoder() {
  struct Handle {
    tjhandle h = tjInitDecompress();
    ~Handle() {
      if (h) tjDestroy(h);
    }
  };
  thread_local Handle handle;
  ODEGAN_CHECK(handle.h != nullptr, "cannot initialise TurboJPEG: ", tjGetErrorStr2(nullptr));
  return handle.h;
}

struct JpegHeader {
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
};

JpegHeader jpeg_header(tjhandle tj, const unsigned char* data, size_t size, const std::string& name) {
  JpegHeader j;
  if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &j.width, &j.height, &j.subsamp,
                          &j.colorspace) != 0)
    cannot_decode(name, std::string("bad JPEG header (") + tjGetErrorStr2(tj) + ")");
  check_pixels(j.width, j.height, name);
  return j;
}

Image decode_jpeg(const unsigned char* data, size_t size, int channels, const std::string& name) {
  tjhandle tj = jpeg_decoder();
  const JpegHeader j = jpeg_header(tj, data, size, name);
  const bool cmyk = j.colorspace == TJCS_CMYK || j.colorspace == TJCS_YCCK;
  const int pf = cmyk ? TJPF_CMYK : channels == 1 ? TJPF_GRAY : TJPF_RGB;
  const int ps = tjPixelSize[pf];
  std::vector<unsigned char> px(static_cast<size_t>(j.width) * j.height * ps);
  // LIMITSCANS: a progressive JPEG with thousands of scans would take minutes to decode.
  if (tjDecompress2(tj, data, static_cast<unsigned long>(size), px.data(), j.width, 0, j.height, pf,
                    TJFLAG_LIMITSCANS) != 0) {
    // Warnings (e.g. extraneous bytes before a marker) still give the whole image, as in
    // PIL and torchvision; a file cut short does not.
    const std::string why = tjGetErrorStr2(tj);
    if (tjGetErrorCode(tj) != TJERR_WARNING || why.find("Premature end") != std::string::npos)
      cannot_decode(name, "corrupt JPEG data (" + why + ")");
  }
  Image img;
  img.height = j.height;
  img.width = j.width;
  img.channels = channels;
  const size_t n = static_cast<size_t>(j.width) * j.height;
  if (!cmyk) {
    img.px.assign(px.begin(), px.end());
    return img;
  }
  // Adobe CMYK/YCCK JPEGs store inverted ink: R = C * K / 255 (as stb_image and PIL).
  img.px.resize(n * static_cast<size_t>(channels));
  for (size_t i = 0; i < n; ++i) {
    const float k = px[4 * i + 3] / 255.f;
    const float r = px[4 * i] * k, g = px[4 * i + 1] * k, b = px[4 * i + 2] * k;
    if (channels == 3) {
      img.px[3 * i] = std::round(r), img.px[3 * i + 1] = std::round(g), img.px[3 * i + 2] = std::round(b);
    } else {
      img.px[i] = std::round(0.299f * r + 0.587f * g + 0.114f * b);
    }
  }
  return img;
}

Image decode_stb(const unsigned char* data, size_t size, int channels, const std::string& name) {
  if (size > static_cast<size_t>(INT32_MAX)) cannot_decode(name, "file too large");
  int w = 0, h = 0, n = 0;
  // Check the declared size before stb allocates it.
  if (!stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &n))
    cannot_decode(name, stbi_failure_reason() ? stbi_failure_reason() : "bad header");
  check_pixels(w, h, name);
  unsigned char* pixels = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &n, channels);
  if (!pixels) cannot_decode(name, stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
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
  InputFile f(path, "image");
  const std::vector<unsigned char> bytes = f.read_all(kMaxImageFileBytes);
  return decode_image_memory(bytes.data(), bytes.size(), channels, path);
}

Image decode_image_memory(const unsigned char* data, size_t size, int channels, const std::string& name) {
  ODEGAN_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  if (is_jpeg(data, size)) return decode_jpeg(data, size, channels, name);
  if (is_png(data, size) || is_bmp(data, size)) return decode_stb(data, size, channels, name);
  cannot_decode(name, "not a JPEG, PNG or BMP file");
}

ImageInfo probe_image_memory(const unsigned char* data, size_t size, const std::string& name) {
  ImageInfo info;
  if (is_jpeg(data, size)) {
    const JpegHeader j = jpeg_header(jpeg_decoder(), data, size, name);
    info.format = "JPEG";
    info.width = j.width;
    info.height = j.height;
    info.channels = j.colorspace == TJCS_GRAY ? 1 : 3;
    return info;
  }
  if (!is_png(data, size) && !is_bmp(data, size)) cannot_decode(name, "not a JPEG, PNG or BMP file");
  if (size > static_cast<size_t>(INT32_MAX)) cannot_decode(name, "file too large");
  if (!stbi_info_from_memory(data, static_cast<int>(size), &info.width, &info.height, &info.channels))
    cannot_decode(name, stbi_failure_reason() ? stbi_failure_reason() : "bad header");
  check_pixels(info.width, info.height, name);
  info.format = is_png(data, size) ? "PNG" : "BMP";
  return info;
}

ImageInfo probe_image(const std::string& path) {
  InputFile f(path, "image");
  // The header is near the start; a JPEG's may follow a large EXIF block, so read more
  // (up to the whole file) when the first bytes do not suffice.
  const uint64_t first = std::min<uint64_t>(f.size(), 1 << 16);
  std::vector<unsigned char> head(static_cast<size_t>(first));
  f.read_at(0, head.data(), head.size());
  try {
    return probe_image_memory(head.data(), head.size(), path);
  } catch (const Error&) {
    if (f.size() == first || !is_jpeg(head.data(), head.size())) throw;
  }
  const std::vector<unsigned char> all = f.read_all(kMaxImageFileBytes);
  return probe_image_memory(all.data(), all.size(), path);
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
