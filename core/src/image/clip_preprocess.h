#pragma once
// transformers' CLIPImageProcessor: the reference image becomes the image encoder's pixel_values.
#include <array>
#include <filesystem>

#include <ATen/core/Tensor.h>

#include "ips/image.h"
#include "ips/image_prompt.h"

namespace ips::image {

// The preprocessor_config.json fields CLIPImageProcessor uses, with its defaults.
struct ClipImageProcessorConfig {
    int shortest_edge = 224;
    int crop_height = 224;
    int crop_width = 224;
    double rescale_factor = 1.0 / 255.0;
    std::array<double, 3> image_mean{0.48145466, 0.4578275, 0.40821073};
    std::array<double, 3> image_std{0.26862954, 0.26130258, 0.27577711};
};

// Reads `file` (a preprocessor_config.json); throws ModelLoadError naming it on bad values.
ClipImageProcessorConfig load_clip_image_processor_config(const std::filesystem::path& file);

// The square picture the encoder sees, as 8-bit RGB (also what the UI previews for a crop mode).
Image clip_input_image(const Image& rgb, const ClipImageProcessorConfig& config, CropMode mode);

// [1, 3, crop_height, crop_width] float32: rescaled and normalised like transformers (float32 math).
at::Tensor clip_pixel_values(const Image& rgb, const ClipImageProcessorConfig& config, CropMode mode);

}  // namespace ips::image
