// PNG text chunks (what --from-png and the gallery read from a picture): any bytes give a keyword map or
// InputError; the request chunk, when present, goes through the request reader as --from-png sends it.
#include <cstdint>
#include <string_view>

#include "ips/errors.h"
#include "ips/png_file.h"
#include "ips/request_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto text = ips::parse_png_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.png");
        if (auto it = text.find("ipstudio_request"); it != text.end()) ips::parse_request_json(it->second, "/base", "fuzz.png");
    } catch (const ips::InputError&) {
    }
    return 0;
}
