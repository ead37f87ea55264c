#include "image/clip_preprocess.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "image/pil_resize.h"
#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::image {
namespace {

Image crop(const Image& in, int left, int top, int width, int height) {
    Image out;
    out.width = width;
    out.height = height;
    out.channels = in.channels;
    out.pixels.resize(static_cast<std::size_t>(width) * height * in.channels);
    for (int y = 0; y < height; ++y)
        std::copy_n(in.row(top + y) + static_cast<std::size_t>(left) * in.channels, static_cast<std::size_t>(width) * in.channels,
                    out.row(y));
    return out;
}

// Letterboxes to a square with the normalisation mean, which the encoder sees as zero (no content).
Image pad_to_square(const Image& in, const ClipImageProcessorConfig& config) {
    const int side = std::max(in.width, in.height);
    Image out;
    out.width = out.height = side;
    out.channels = 3;
    out.pixels.resize(static_cast<std::size_t>(side) * side * 3);
    for (std::size_t i = 0; i < out.pixels.size(); ++i)
        out.pixels[i] = static_cast<std::uint8_t>(std::lround(config.image_mean[i % 3] * 255.0));
    const int left = (side - in.width) / 2, top = (side - in.height) / 2;
    for (int y = 0; y < in.height; ++y)
        std::copy_n(in.row(y), static_cast<std::size_t>(in.width) * 3, out.row(top + y) + static_cast<std::size_t>(left) * 3);
    return out;
}

// transformers' get_resize_output_image_size(default_to_square=False): the short side becomes `edge`,
// the long side int(edge * long / short).
std::pair<int, int> shortest_edge_size(int width, int height, int edge) {
    const bool portrait = width <= height;
    const int short_side = portrait ? width : height, long_side = portrait ? height : width;
    const int new_long = static_cast<int>(static_cast<double>(edge) * long_side / short_side);
    return portrait ? std::pair{edge, new_long} : std::pair{new_long, edge};
}

}  // namespace

ClipImageProcessorConfig load_clip_image_processor_config(const std::filesystem::path& file) {
    const auto j = io::read_json_file(file);
    const std::string name = io::display_path(file);
    ClipImageProcessorConfig c;
    try {
        if (j.contains("size")) {
            const auto& s = j.at("size");
            c.shortest_edge = s.is_number() ? s.get<int>() : s.at("shortest_edge").get<int>();
        }
        if (j.contains("crop_size")) {
            const auto& s = j.at("crop_size");
            if (s.is_number()) c.crop_height = c.crop_width = s.get<int>();
            else c.crop_height = s.at("height").get<int>(), c.crop_width = s.at("width").get<int>();
        }
        if (j.contains("rescale_factor")) c.rescale_factor = j.at("rescale_factor").get<double>();
        if (j.contains("image_mean")) c.image_mean = j.at("image_mean").get<std::array<double, 3>>();
        if (j.contains("image_std")) c.image_std = j.at("image_std").get<std::array<double, 3>>();
        if (j.value("do_center_crop", true) == false || j.value("do_resize", true) == false)
            throw ModelLoadError(name + ": do_resize and do_center_crop must be true (CLIP image encoders need them)");
        if (j.contains("resample") && j.at("resample").get<int>() != 3)
            throw ModelLoadError(name + ": resample " + j.at("resample").dump() + " is not supported (expected 3, bicubic)");
    } catch (const nlohmann::json::exception& e) {
        throw ModelLoadError(name + ": unexpected value in the image processor config (" + e.what() + ")");
    }
    if (c.shortest_edge <= 0 || c.crop_height <= 0 || c.crop_width <= 0 || c.crop_height > c.shortest_edge ||
        c.crop_width > c.shortest_edge)
        throw ModelLoadError(name + ": size and crop_size must be positive, crop no larger than size");
    for (double s : c.image_std)
        if (!(s > 0)) throw ModelLoadError(name + ": image_std must be positive");
    return c;
}

Image clip_input_image(const Image& rgb, const ClipImageProcessorConfig& c, CropMode mode) {
    if (rgb.empty() || rgb.channels != 3) throw InputError("reference image: expected a non-empty RGB image");
    if (mode == CropMode::Squash) return resize_bicubic_pil(rgb, c.crop_width, c.crop_height);
    const Image source = mode == CropMode::Pad ? pad_to_square(rgb, c) : rgb;
    const auto [w, h] = shortest_edge_size(source.width, source.height, c.shortest_edge);
    const Image resized = resize_bicubic_pil(source, w, h);
    return crop(resized, (w - c.crop_width) / 2, (h - c.crop_height) / 2, c.crop_width, c.crop_height);
}

at::Tensor clip_pixel_values(const Image& rgb, const ClipImageProcessorConfig& c, CropMode mode) {
    const Image square = clip_input_image(rgb, c, mode);
    at::Tensor out = at::empty({1, 3, square.height, square.width}, at::kFloat);
    float* dst = out.data_ptr<float>();
    const std::size_t plane = static_cast<std::size_t>(square.width) * square.height;
    for (int ch = 0; ch < 3; ++ch) {
        // transformers: uint8 * factor in float64, cast to float32, then (x - mean) / std in float32.
        const float mean = static_cast<float>(c.image_mean[ch]), std = static_cast<float>(c.image_std[ch]);
        for (std::size_t i = 0; i < plane; ++i) {
            const float v = static_cast<float>(square.pixels[i * 3 + ch] * c.rescale_factor);
            dst[ch * plane + i] = (v - mean) / std;
        }
    }
    return out;
}

}  // namespace ips::image
