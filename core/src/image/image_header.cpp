#include "image/image_header.h"

#include <cstdint>
#include <cstdlib>

namespace ips::image {
namespace {

std::uint32_t be16(std::string_view b, std::size_t at) {
    return (std::uint32_t(std::uint8_t(b[at])) << 8) | std::uint8_t(b[at + 1]);
}
std::uint32_t be32(std::string_view b, std::size_t at) { return (be16(b, at) << 16) | be16(b, at + 2); }
std::uint32_t le16(std::string_view b, std::size_t at) {
    return std::uint32_t(std::uint8_t(b[at])) | (std::uint32_t(std::uint8_t(b[at + 1])) << 8);
}
std::uint32_t le24(std::string_view b, std::size_t at) { return le16(b, at) | (std::uint32_t(std::uint8_t(b[at + 2])) << 16); }
std::uint32_t le32(std::string_view b, std::size_t at) { return le16(b, at) | (le16(b, at + 2) << 16); }

std::optional<ImageSize> jpeg_size(std::string_view b) {
    std::size_t i = 2;
    while (i + 4 <= b.size()) {
        if (std::uint8_t(b[i]) != 0xFF) return std::nullopt;
        const std::uint8_t marker = std::uint8_t(b[i + 1]);
        if (marker == 0xFF) { ++i; continue; }  // fill byte
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { i += 2; continue; }
        const std::uint32_t length = be16(b, i + 2);
        const bool start_of_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (start_of_frame) {
            if (i + 9 > b.size()) return std::nullopt;
            return ImageSize{be16(b, i + 7), be16(b, i + 5)};
        }
        if (length < 2) return std::nullopt;
        i += 2 + length;
    }
    return std::nullopt;
}

std::optional<ImageSize> webp_size(std::string_view b) {
    if (b.size() < 30) return std::nullopt;
    const std::string_view chunk = b.substr(12, 4);
    if (chunk == "VP8X") return ImageSize{le24(b, 24) + 1LL, le24(b, 27) + 1LL};
    if (chunk == "VP8L") {
        const std::uint32_t bits = le32(b, 21);
        return ImageSize{(bits & 0x3FFF) + 1LL, ((bits >> 14) & 0x3FFF) + 1LL};
    }
    if (chunk == "VP8 ") return ImageSize{le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF};
    return std::nullopt;
}

}  // namespace

std::optional<ImageSize> read_image_size(std::string_view b) {
    if (b.size() >= 24 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n" && b.substr(12, 4) == "IHDR")
        return ImageSize{be32(b, 16), be32(b, 20)};
    if (b.size() >= 4 && std::uint8_t(b[0]) == 0xFF && std::uint8_t(b[1]) == 0xD8) return jpeg_size(b);
    if (b.size() >= 10 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) return ImageSize{le16(b, 6), le16(b, 8)};
    if (b.size() >= 26 && b.substr(0, 2) == "BM") {
        // Signed: a negative height is a top-down picture. A negative width is malformed, but its size
        // still counts as its magnitude, so that the size limit is never passed by a sign.
        const auto width = static_cast<std::int32_t>(le32(b, 18));
        const auto height = static_cast<std::int32_t>(le32(b, 22));
        return ImageSize{std::llabs(width), std::llabs(height)};
    }
    if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return webp_size(b);
    return std::nullopt;
}

}  // namespace ips::image
