// Request JSON (presets, --from-png's ipstudio_request, the CLI's REQUEST.json): any text either parses or
// raises InputError; a parsed request written back and read again gives the same text (the writer and the
// reader agree on every field the reader accepts).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ips/errors.h"
#include "ips/request_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    ips::GenerationRequest request;
    try {
        request = ips::parse_request_json(text, "/base", "fuzz.json");
    } catch (const ips::InputError&) {
        return 0;
    }
    const std::string once = ips::request_to_json(request, "/base");
    const std::string twice = ips::request_to_json(ips::parse_request_json(once, "/base", "again.json"), "/base");
    if (once != twice) std::abort();
    (void)ips::a1111_parameters(request, 1);
    return 0;
}
