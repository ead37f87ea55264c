#pragma once
// Reading pictures from disk into ips::Image (OpenCV decoders). Unicode paths work: the bytes are read
// with std::filesystem and decoded from memory.
#include <filesystem>

#include "ips/image.h"

namespace ips::image {

// 8-bit RGB as PIL's convert("RGB") gives it: alpha dropped (not composited), gray replicated, EXIF
// orientation applied (as diffusers' load_image). Throws InputError naming the file when it is missing,
// not an image, or larger than kMaxImageSide on a side.
Image read_image_rgb(const std::filesystem::path& path);

// Decodes an in-memory file; `name` is used in messages.
Image decode_image_rgb(const std::string& bytes, const std::string& name);

// PIL's convert("RGB") of a picture in memory: gray replicated, alpha dropped (not composited). Throws
// InputError naming `what` unless it is a well-formed 8-bit gray, RGB or RGBA image.
Image to_rgb(const Image& image, const std::string& what);

// The "L" conversion of PIL (ITU-R 601-2 luma, same rounding), for masks.
Image to_gray(const Image& rgb);

}  // namespace ips::image
