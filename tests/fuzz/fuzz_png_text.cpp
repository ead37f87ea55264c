// PNG text chunks (what --from-png and the library's index rebuild read from a picture): any bytes give a
// keyword map or InputError; the request chunk goes through the request reader as --from-png sends it, the
// A1111 "parameters" chunk through the A1111 reader as the rebuild does (and the raw bytes too).
#include <cstdint>
#include <string_view>

#include "ips/a1111_text.h"
#include "ips/errors.h"
#include "ips/png_file.h"
#include "ips/request_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    (void)ips::parse_a1111_parameters(bytes);
    try {
        const auto text = ips::parse_png_text(bytes, "fuzz.png");
        if (auto it = text.find("parameters"); it != text.end()) (void)ips::parse_a1111_parameters(it->second);
        if (auto it = text.find("ipstudio_request"); it != text.end()) ips::parse_request_json(it->second, "/base", "fuzz.png");
    } catch (const ips::InputError&) {
    }
    return 0;
}
