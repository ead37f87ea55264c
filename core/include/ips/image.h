#pragma once
// An 8-bit image in memory, row-major, channels interleaved (1 = gray, 3 = RGB, 4 = RGBA). The
// engine's public API passes pictures this way so its callers need neither OpenCV nor Qt.
#include <cstdint>
#include <vector>

namespace ips {

struct Image {
    int width = 0;
    int height = 0;
    int channels = 3;
    std::vector<std::uint8_t> pixels;  // width * height * channels bytes

    bool empty() const { return width <= 0 || height <= 0; }
    std::uint8_t* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * width * channels; }
    const std::uint8_t* row(int y) const { return pixels.data() + static_cast<std::size_t>(y) * width * channels; }
};

// The largest side the engine decodes; bigger pictures are refused before decoding (memory).
inline constexpr int kMaxImageSide = 8192;

}  // namespace ips
