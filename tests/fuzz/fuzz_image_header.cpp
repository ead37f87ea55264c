// The picture header sniffer (a 20000x20000 picture is refused before decoding): any bytes give no size or a
// positive one, never a crash or a read past the buffer.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "image/image_header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto found = ips::image::read_image_size(std::string_view(reinterpret_cast<const char*>(data), size));
    if (found && (found->width < 0 || found->height < 0)) std::abort();
    return 0;
}
