#pragma once
// PNG files with text chunks (generation parameters), written atomically.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "ips/image.h"

namespace ips {

// Encodes `image` as PNG with one iTXt chunk (UTF-8) per entry of `text`. Refuses to replace an existing
// file unless `overwrite`. Throws InputError naming the file.
void write_png(const std::filesystem::path& file, const Image& image, const std::map<std::string, std::string>& text,
               bool overwrite);

// The tEXt/iTXt chunks of a PNG file (keyword -> text); InputError when it is not a PNG.
std::map<std::string, std::string> read_png_text(const std::filesystem::path& file);
// The same from the file's bytes (`name` for messages); torch- and OpenCV-free, what the fuzzer calls.
std::map<std::string, std::string> parse_png_text(std::string_view bytes, const std::string& name);

}  // namespace ips
