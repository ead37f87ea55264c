#include "image/pil_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace ips::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
    constexpr double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return std::sin(x) / x;
}

double lanczos(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

struct Filter {
    double (*weight)(double);
    double support;
};

// For each output pixel: the first input index, the number of taps and their fixed-point weights.
struct Taps {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<std::int32_t> weights;  // out_size * ksize
};

Taps precompute(int in_size, int out_size, const Filter& filter) {
    const double kSupport = filter.support;
    const double scale = static_cast<double>(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = kSupport * filter_scale;
    Taps t;
    t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    t.first.resize(out_size);
    t.count.resize(out_size);
    t.weights.assign(static_cast<std::size_t>(out_size) * t.ksize, 0);
    std::vector<double> k(t.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filter_scale;
        const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
        const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
        double total = 0.0;
        for (int x = 0; x < xmax; ++x) total += k[x] = filter.weight((x + xmin - center + 0.5) * ss);
        for (int x = 0; x < xmax; ++x) {
            const double w = total != 0.0 ? k[x] / total : k[x];
            t.weights[static_cast<std::size_t>(xx) * t.ksize + x] =
                static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
        }
        t.first[xx] = xmin;
        t.count[xx] = xmax;
    }
    return t;
}

std::uint8_t clip8(std::int64_t v) {
    if (v >= (std::int64_t(1) << kPrecisionBits << 8)) return 255;
    if (v <= 0) return 0;
    return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

// Rows [row0, row0 + rows) of `in`, resampled along x.
Image horizontal(const Image& in, int width, int row0, int rows, const Taps& t) {
    Image out;
    out.width = width;
    out.height = rows;
    out.channels = in.channels;
    out.pixels.resize(static_cast<std::size_t>(width) * rows * in.channels);
    const int c = in.channels;
    for (int y = 0; y < rows; ++y) {
        const std::uint8_t* src = in.row(row0 + y);
        std::uint8_t* dst = out.row(y);
        for (int xx = 0; xx < width; ++xx) {
            const std::int32_t* k = &t.weights[static_cast<std::size_t>(xx) * t.ksize];
            for (int ch = 0; ch < c; ++ch) {
                std::int64_t acc = std::int64_t(1) << (kPrecisionBits - 1);
                for (int x = 0; x < t.count[xx]; ++x) acc += std::int64_t(src[(t.first[xx] + x) * c + ch]) * k[x];
                dst[xx * c + ch] = clip8(acc);
            }
        }
    }
    return out;
}

// `first` indexes rows of `in` (already shifted when `in` holds only the rows used).
Image vertical(const Image& in, int height, const Taps& t, int row_shift) {
    Image out;
    out.width = in.width;
    out.height = height;
    out.channels = in.channels;
    out.pixels.resize(static_cast<std::size_t>(in.width) * height * in.channels);
    const std::size_t stride = static_cast<std::size_t>(in.width) * in.channels;
    for (int yy = 0; yy < height; ++yy) {
        const std::int32_t* k = &t.weights[static_cast<std::size_t>(yy) * t.ksize];
        const std::uint8_t* base = in.row(t.first[yy] - row_shift);
        std::uint8_t* dst = out.row(yy);
        for (std::size_t i = 0; i < stride; ++i) {
            std::int64_t acc = std::int64_t(1) << (kPrecisionBits - 1);
            for (int y = 0; y < t.count[yy]; ++y) acc += std::int64_t(base[y * stride + i]) * k[y];
            dst[i] = clip8(acc);
        }
    }
    return out;
}

Image resize_pil(const Image& in, int width, int height, const Filter& filter) {
    if (in.empty() || width <= 0 || height <= 0) throw std::invalid_argument("resize_pil: empty size");
    const bool need_horizontal = width != in.width;
    const bool need_vertical = height != in.height;
    if (!need_horizontal && !need_vertical) return in;
    const Taps tx = precompute(in.width, width, filter);
    const Taps ty = precompute(in.height, height, filter);
    if (!need_horizontal) return vertical(in, height, ty, 0);
    // Only the rows the vertical pass reads are resampled horizontally (as Pillow does).
    const int first_row = ty.first[0];
    const int last_row = ty.first[height - 1] + ty.count[height - 1];
    Image wide = horizontal(in, width, first_row, last_row - first_row, tx);
    if (!need_vertical) return wide;
    return vertical(wide, height, ty, first_row);
}

}  // namespace

Image resize_bicubic_pil(const Image& in, int width, int height) { return resize_pil(in, width, height, {bicubic, 2.0}); }
Image resize_lanczos_pil(const Image& in, int width, int height) { return resize_pil(in, width, height, {lanczos, 3.0}); }

}  // namespace ips::image
