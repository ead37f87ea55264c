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
    } catch (const nlohmann::json::exception& e) {  // also out_of_range: a number beyond a double
        throw ModelLoadError(display_path(path) + ": invalid JSON (" + e.what() + ")");
    }
}

nlohmann::json read_python_json_file(const std::filesystem::path& path) {
    const std::string text = read_text_file(path);
    std::string out;
    out.reserve(text.size());
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out.push_back(c);
            if (c == '\\' && i + 1 < text.size()) out.push_back(text[++i]);
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        bool replaced = false;
        for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
            const std::size_t n = std::char_traits<char>::length(token);
            if (text.compare(i, n, token) == 0) {
                out += "null";
                i += n - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out.push_back(c);
    }
    try {
        return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception& e) {  // also out_of_range: a number beyond a double
        throw ModelLoadError(display_path(path) + ": not valid JSON (" + e.what() + ")");
    }
}

}  // namespace ips::io
