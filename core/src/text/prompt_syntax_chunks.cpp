#include "text/prompt_syntax_chunks.h"

#include <algorithm>

#include "text/prompt_syntax_parser.h"

namespace ips::text {
namespace {

// Tokens of a chunk before it is framed (A1111's PromptChunk before next_chunk pads it).
struct OpenChunk {
    std::vector<std::int64_t> tokens;
    std::vector<float> weights;
};

// BOS + tokens + EOS + padding to max_length, as ClipTokenizer::tokenize lays a window out. A1111
// pads with EOS and then, where the pad token differs (SD2), turns everything after the first EOS
// into pad tokens: the same layout.
TokenChunk frame(const ClipTokenizer& tokenizer, const OpenChunk& open) {
    const auto window = static_cast<std::size_t>(tokenizer.max_length());
    TokenChunk c;
    c.input_ids.reserve(window);
    c.input_ids.push_back(tokenizer.bos_token_id());
    c.input_ids.insert(c.input_ids.end(), open.tokens.begin(), open.tokens.end());
    c.input_ids.push_back(tokenizer.eos_token_id());
    c.input_ids.resize(window, tokenizer.pad_token_id());
    c.weights.assign(window, 1.0f);
    std::copy(open.weights.begin(), open.weights.end(), c.weights.begin() + 1);
    c.prompt_tokens = static_cast<int>(open.tokens.size());
    return c;
}

ChunkedPrompt chunk_plain(const ClipTokenizer& tokenizer, std::string_view prompt) {
    ChunkedPrompt out;
    TokenChunk c;
    c.input_ids = tokenizer.tokenize(prompt).input_ids;
    c.weights.assign(c.input_ids.size(), 1.0f);
    const int room = tokenizer.max_length() - 2;
    out.total_tokens = static_cast<int>(tokenizer.encode(prompt).size());
    out.dropped_tokens = std::max(0, out.total_tokens - room);
    c.prompt_tokens = out.total_tokens - out.dropped_tokens;
    out.chunks.push_back(std::move(c));
    return out;
}

ChunkedPrompt chunk_a1111(const ClipTokenizer& tokenizer, std::string_view prompt,
                          int comma_padding_backtrack) {
    const std::size_t chunk_length = static_cast<std::size_t>(tokenizer.max_length() - 2);  // 75
    const auto comma_ids = tokenizer.encode(",");
    const std::int64_t comma = comma_ids.size() == 1 ? comma_ids.front() : -1;

    ChunkedPrompt out;
    OpenChunk chunk;
    std::ptrdiff_t last_comma = -1;  // where in `chunk` the last comma is
    auto next_chunk = [&] {
        out.chunks.push_back(frame(tokenizer, chunk));
        chunk = {};
        last_comma = -1;
    };

    for (const PromptFragment& fragment : parse_prompt_attention(prompt)) {
        if (fragment.is_break()) {
            next_chunk();
            continue;
        }
        const auto tokens = tokenizer.encode(fragment.text);
        // A1111's multipliers tensor is float32.
        const auto weight = static_cast<float>(fragment.weight);
        out.total_tokens += static_cast<int>(tokens.size());
        for (const std::int64_t token : tokens) {
            if (token == comma) {
                last_comma = static_cast<std::ptrdiff_t>(chunk.tokens.size());
            } else if (comma_padding_backtrack != 0 && chunk.tokens.size() == chunk_length &&
                       last_comma != -1 &&
                       static_cast<std::ptrdiff_t>(chunk_length) - last_comma <=
                           comma_padding_backtrack) {
                // The chunk is full and a comma is near its end: it ends at the comma, the words
                // after the comma move to the next chunk.
                const auto cut = static_cast<std::size_t>(last_comma + 1);
                OpenChunk moved{{chunk.tokens.begin() + cut, chunk.tokens.end()},
                                {chunk.weights.begin() + cut, chunk.weights.end()}};
                chunk.tokens.resize(cut);
                chunk.weights.resize(cut);
                next_chunk();
                chunk = std::move(moved);
            }
            // A comma arriving at a full chunk was recorded above and is forgotten here (A1111).
            if (chunk.tokens.size() == chunk_length) next_chunk();
            chunk.tokens.push_back(token);
            chunk.weights.push_back(weight);
        }
    }
    if (!chunk.tokens.empty() || out.chunks.empty()) next_chunk();
    return out;
}

}  // namespace

bool TokenChunk::unweighted() const {
    return std::all_of(weights.begin(), weights.end(), [](float w) { return w == 1.0f; });
}

ChunkedPrompt chunk_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                           PromptSyntax syntax, int comma_padding_backtrack) {
    return syntax == PromptSyntax::A1111 ? chunk_a1111(tokenizer, prompt, comma_padding_backtrack)
                                         : chunk_plain(tokenizer, prompt);
}

TokenChunk empty_chunk(const ClipTokenizer& tokenizer) {
    return frame(tokenizer, {});
}

void pad_to_same_chunk_count(const ClipTokenizer& tokenizer, ChunkedPrompt& a, ChunkedPrompt& b) {
    while (a.chunks.size() < b.chunks.size()) a.chunks.push_back(empty_chunk(tokenizer));
    while (b.chunks.size() < a.chunks.size()) b.chunks.push_back(empty_chunk(tokenizer));
}

}  // namespace ips::text
