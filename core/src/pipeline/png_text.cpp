#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "ips/errors.h"
#include "ips/png_file.h"

namespace ips {
namespace {

const char kSignature[] = "\x89PNG\r\n\x1a\n";

std::uint32_t get32(std::string_view b, std::size_t at) {
    return std::uint32_t(std::uint8_t(b[at])) << 24 | std::uint32_t(std::uint8_t(b[at + 1])) << 16 |
           std::uint32_t(std::uint8_t(b[at + 2])) << 8 | std::uint32_t(std::uint8_t(b[at + 3]));
}

}  // namespace

std::map<std::string, std::string> parse_png_text(std::string_view b, const std::string& name) {
    if (b.size() < 8 || b.compare(0, 8, kSignature, 8) != 0) throw InputError(name + ": not a PNG file");
    std::map<std::string, std::string> out;
    std::size_t at = 8;
    while (at + 12 <= b.size()) {
        const std::uint32_t length = get32(b, at);
        if (length > b.size() - at - 12) throw InputError(name + ": truncated PNG chunk");
        const std::string type(b.substr(at + 4, 4));
        const std::string data(b.substr(at + 8, length));
        if (type == "tEXt" || type == "iTXt") {
            const auto zero = data.find('\0');
            if (zero != std::string::npos) {
                const std::string key = data.substr(0, zero);
                if (type == "tEXt") {
                    out[key] = data.substr(zero + 1);
                } else if (zero + 2 < data.size() && data[zero + 1] == 0) {  // uncompressed iTXt only
                    std::size_t p = zero + 3;
                    p = data.find('\0', p);  // language tag
                    if (p != std::string::npos) p = data.find('\0', p + 1);  // translated keyword
                    if (p != std::string::npos) out[key] = data.substr(p + 1);
                }
            }
        }
        if (type == "IEND") break;
        at += 12 + length;
    }
    return out;
}

}  // namespace ips
