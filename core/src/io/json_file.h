#pragma once
// Reading JSON files with errors that name the file (nlohmann_json's own messages do not).
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace ips::io {

// Parses a JSON file; throws ModelLoadError naming the file when it is missing or not valid JSON.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses JSON as Python's json module writes it: NaN, Infinity and -Infinity outside strings (diffusers
// writes "lambda_min_clipped": -Infinity) become null. Throws ModelLoadError naming the file.
nlohmann::json read_python_json_file(const std::filesystem::path& path);

// Reads a whole file into memory; throws ModelLoadError naming the file when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// A path as UTF-8 for messages (std::filesystem::path::string() is locale dependent).
std::string display_path(const std::filesystem::path& path);

}  // namespace ips::io
