#pragma once
// How a prompt's text becomes CLIP tokens. "plain" reads it as diffusers does: one 77-token window,
// the tokens past it ignored. "a1111" reads it as AUTOMATIC1111's stable-diffusion-webui does:
// (emphasis), [less], (word:1.3), BREAK, and any length in chunks of 75 tokens.
// docs/prompt-syntax.md has the rules. Torch-free: the UI counts tokens with it as the user types.
#include <optional>
#include <string_view>
#include <vector>

#include "ips/clip_tokenizer.h"

namespace ips {

enum class PromptSyntax {
    Plain,  // diffusers: BOS + tokens + EOS truncated to 77, no weights
    A1111,  // stable-diffusion-webui: weights, BREAK, 75-token chunks each framed as its own
            // 77-token window
};

std::string_view prompt_syntax_name(PromptSyntax syntax);  // "plain", "a1111"
std::optional<PromptSyntax> parse_prompt_syntax(std::string_view name);
// As parse_prompt_syntax, but an unknown name throws InputError naming `field` and the accepted
// names.
PromptSyntax prompt_syntax_or_throw(std::string_view name,
                                    std::string_view field = "prompt_syntax");

struct PromptTokenCount {
    // Tokens of the prompt in each 77-token window (BOS, EOS and padding not counted). Plain: one
    // entry, at most 75 (what the window keeps). A1111: one entry per chunk, at most 75 each.
    std::vector<int> chunk_tokens;
    int total_tokens = 0;  // tokens of the whole prompt, BOS and EOS not counted
    // Plain only: the tokens past the window, which the text encoder never sees.
    int dropped_tokens = 0;
    int window = 77;  // tokens per window, BOS and EOS included (the tokenizer's max_length)
};

// How `prompt` fills the text encoder's windows under `syntax` (the same chunking the generation
// does).
PromptTokenCount count_prompt_tokens(const ClipTokenizer& tokenizer, std::string_view prompt,
                                     PromptSyntax syntax);

}  // namespace ips
