// Any bytes given to the safetensors parser either parse into entries that stay inside the buffer or
// raise ModelLoadError; nothing else (crash, overflow, other exception) is acceptable.
#include <cstdint>
#include <cstdlib>

#include "io/safetensors.h"
#include "ips/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto header = ips::io::parse_safetensors_header(data, size, "fuzz.safetensors");
        for (const auto& t : header.tensors)
            if (header.data_offset + t.end > size || t.begin > t.end) std::abort();
    } catch (const ips::ModelLoadError&) {
    }
    return 0;
}
