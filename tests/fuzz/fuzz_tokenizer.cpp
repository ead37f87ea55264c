// Any byte string tokenizes to exactly max_length ids from the vocabulary, starting with BOS.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ips/clip_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto tokenizer = ips::ClipTokenizer::from_folder(IPS_TEST_DATA "/tiny-sd15/tokenizer");
    const auto result = tokenizer.tokenize(std::string_view(reinterpret_cast<const char*>(data), size));
    if (result.input_ids.size() != static_cast<std::size_t>(tokenizer.max_length())) std::abort();
    if (result.input_ids.front() != tokenizer.bos_token_id()) std::abort();
    for (auto id : result.input_ids)
        if (id < 0 || static_cast<std::size_t>(id) >= tokenizer.vocab_size()) std::abort();
    return 0;
}
