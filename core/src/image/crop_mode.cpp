#include "ips/image_prompt.h"

namespace ips {

std::string_view crop_mode_name(CropMode mode) {
    switch (mode) {
        case CropMode::Center: return "center";
        case CropMode::Pad: return "pad";
        case CropMode::Squash: return "squash";
    }
    return "center";
}

std::optional<CropMode> parse_crop_mode(std::string_view name) {
    for (CropMode m : {CropMode::Center, CropMode::Pad, CropMode::Squash})
        if (crop_mode_name(m) == name) return m;
    return std::nullopt;
}

}  // namespace ips
