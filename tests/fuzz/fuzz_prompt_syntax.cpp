// The A1111 prompt reader (emphasis, BREAK, 75-token chunks): any text gives whole 77-token windows of
// vocabulary ids framed BOS ... EOS, finite weights, a token count that adds up, and the same number of
// windows for a prompt and its negative once padded. Plain reading gives one window.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ips/clip_tokenizer.h"
#include "text/prompt_syntax_chunks.h"

namespace {

void check(const ips::ClipTokenizer& tokenizer, const ips::text::ChunkedPrompt& p) {
    const auto window = static_cast<std::size_t>(tokenizer.max_length());
    int counted = 0;
    if (p.chunks.empty()) std::abort();
    for (const auto& c : p.chunks) {
        if (c.input_ids.size() != window || c.weights.size() != window) std::abort();
        if (c.input_ids.front() != tokenizer.bos_token_id()) std::abort();
        for (auto id : c.input_ids)
            if (id < 0 || static_cast<std::size_t>(id) >= tokenizer.vocab_size()) std::abort();
        for (float w : c.weights)
            if (!std::isfinite(w)) std::abort();
        counted += c.prompt_tokens;
    }
    if (counted + p.dropped_tokens != p.total_tokens) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto tokenizer = ips::ClipTokenizer::from_folder(IPS_TEST_DATA "/tiny-sd15/tokenizer");
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto a1111 = ips::text::chunk_prompt(tokenizer, text, ips::PromptSyntax::A1111);
    check(tokenizer, a1111);
    const auto plain = ips::text::chunk_prompt(tokenizer, text, ips::PromptSyntax::Plain);
    check(tokenizer, plain);
    if (plain.chunks.size() != 1) std::abort();
    auto negative = ips::text::chunk_prompt(tokenizer, text.substr(0, size / 3), ips::PromptSyntax::A1111);
    ips::text::pad_to_same_chunk_count(tokenizer, a1111, negative);
    if (a1111.chunks.size() != negative.chunks.size()) std::abort();
    return 0;
}
