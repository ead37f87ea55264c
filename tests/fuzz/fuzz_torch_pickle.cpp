// Any bytes given to the torch.save pickle reader give a document or ModelLoadError, never a crash.
#include <cstdint>

#include "io/pickle_reader.h"
#include "ips/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto document = ips::io::read_torch_pickle(data, size, "fuzz/data.pkl");
        (void)document.root;
    } catch (const ips::ModelLoadError&) {
    }
    return 0;
}
