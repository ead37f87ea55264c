#include "io/json_file.h"

#include <fstream>
#include <sstream>

#include "ips/errors.h"

namespace ips::io {

std::string display_path(const std::filesystem::path& path) {
    const auto u8 = path.u8string();
    return std::string(u8.begin(), u8.end());
}

std::string read_text_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ModelLoadError(display_path(path) + ": is a directory, expected a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelLoadError(display_path(path) + ": cannot open file");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw ModelLoadError(display_path(path) + ": read error");
    return buffer.str();
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
    const std::string text = read_text_file(path);
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw ModelLoadError(display_path(path) + ": invalid JSON (" + e.what() + ")");
    }
}

}  // namespace ips::io
