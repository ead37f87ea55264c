#pragma once
// Mirrors AUTOMATIC1111 stable-diffusion-webui modules/sd_hijack_clip.py
// FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line (and empty_chunk): a prompt as token windows
// with per-token weights. The plain syntax gives the one window ClipTokenizer::tokenize gives.
#include <cstdint>
#include <string_view>
#include <vector>

#include "ips/clip_tokenizer.h"
#include "ips/prompt_syntax.h"

namespace ips::text {

// A1111's opts.comma_padding_backtrack default: a chunk that fills up within this many tokens after
// a comma ends at the comma instead, and the tokens after it start the next chunk.
constexpr int kCommaPaddingBacktrack = 20;

struct TokenChunk {
    // [max_length]: BOS, tokens, EOS, pad... (as ClipTokenizer::tokenize)
    std::vector<std::int64_t> input_ids;
    std::vector<float> weights;  // [max_length]: each token's weight; BOS, EOS and padding 1
    int prompt_tokens = 0;       // the prompt's tokens in this window

    bool unweighted() const;  // every weight 1: the emphasis leaves the encoding as it is
};

struct ChunkedPrompt {
    std::vector<TokenChunk> chunks;  // at least one
    int total_tokens = 0;            // the prompt's tokens (without BOS/EOS)
    int dropped_tokens = 0;          // plain: tokens past the window
};

ChunkedPrompt chunk_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                           PromptSyntax syntax,
                           int comma_padding_backtrack = kCommaPaddingBacktrack);

// The window of an empty prompt: BOS, EOS, padding, weights 1 (A1111's empty_chunk).
TokenChunk empty_chunk(const ClipTokenizer& tokenizer);

// Appends empty chunks to the shorter of the two so both have the same number of windows (the UNet
// takes the prompt and the negative prompt in one batch, so their token counts must match).
void pad_to_same_chunk_count(const ClipTokenizer& tokenizer, ChunkedPrompt& a, ChunkedPrompt& b);

}  // namespace ips::text
