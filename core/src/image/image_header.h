#pragma once
// The pixel size of an image file read from its header alone, so a huge picture is refused before
// anything is decoded. Torch- and OpenCV-free.
#include <optional>
#include <string_view>

namespace ips::image {

struct ImageSize {
    long long width = 0;
    long long height = 0;
};

// PNG, JPEG, GIF, BMP and WebP headers; nullopt for other formats or truncated headers.
std::optional<ImageSize> read_image_size(std::string_view bytes);

}  // namespace ips::image
