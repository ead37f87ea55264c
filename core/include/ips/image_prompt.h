#pragma once
// Options of an image prompt (IP-Adapter reference) that the UI and presets name.
#include <optional>
#include <string>
#include <string_view>

namespace ips {

// How a non-square reference becomes the encoder's square input.
enum class CropMode {
    Center,  // shortest side to the encoder size, centre crop (diffusers/transformers)
    Pad,     // letterbox to a square with the neutral CLIP mean colour: nothing is cut off
    Squash,  // resize to a square ignoring the aspect ratio
};

std::string_view crop_mode_name(CropMode mode);
std::optional<CropMode> parse_crop_mode(std::string_view name);

}  // namespace ips

#include <filesystem>

namespace ips {

// Encodes `image` with the CLIP image encoder in `image_encoder_folder` and writes the embedding file
// (safetensors) that a generation can use instead of the picture, without the encoder. Refuses to
// replace an existing `output` unless `overwrite`; writes atomically. Throws InputError/ModelLoadError.
void save_reference_embedding(const std::filesystem::path& image, const std::filesystem::path& image_encoder_folder,
                              CropMode crop, const std::filesystem::path& output, bool overwrite);

}  // namespace ips
