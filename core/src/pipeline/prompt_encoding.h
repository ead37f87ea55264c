#pragma once
// The text encoder stage: the prompt and the negative prompt as the UNet's encoder_hidden_states,
// under a prompt syntax. Plain is diffusers' encode_prompt; A1111 mirrors stable-diffusion-webui's
// FrozenCLIPEmbedderWithCustomWordsBase.forward / process_tokens with emphasis "Original".
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ips/clip_tokenizer.h"
#include "ips/prompt_syntax.h"
#include "nn/clip_models.h"
#include "text/prompt_syntax_chunks.h"

namespace ips::pipeline {

struct PromptEmbeddingPair {
    at::Tensor cond, uncond;  // [1, 77 * chunks, C] each, the same number of chunks
};

// The text encoder on one window: the chunk's 77 ids at clip_skip -> [1, 77, C], before its weights.
// (The engine's runs through its TextWindowCache.)
using WindowEncoder = std::function<at::Tensor(const text::TokenChunk& chunk, int clip_skip)>;
WindowEncoder run_text_encoder(nn::CLIPTextModel& text_encoder);

// diffusers encodes the negative prompt without clip_skip (its last hidden state); both syntaxes
// keep that.
PromptEmbeddingPair encode_prompt_pair_with(const ClipTokenizer& tokenizer, const WindowEncoder& encode_window,
                                            const std::string& prompt, const std::string& negative_prompt,
                                            int clip_skip, PromptSyntax syntax);
inline PromptEmbeddingPair encode_prompt_pair(const ClipTokenizer& tokenizer,
                                              nn::CLIPTextModel& text_encoder, const std::string& prompt,
                                              const std::string& negative_prompt, int clip_skip,
                                              PromptSyntax syntax) {
    return encode_prompt_pair_with(tokenizer, run_text_encoder(text_encoder), prompt, negative_prompt, clip_skip, syntax);
}

// Each chunk encoded as its own window, its weights applied, the windows concatenated: [1, 77 * n,
// C].
at::Tensor encode_chunks(const WindowEncoder& encode_window,
                         const std::vector<text::TokenChunk>& chunks, int clip_skip);

// A1111's EmphasisOriginal on one window z [1, 77, C]: z * w (per token), rescaled so the mean of
// the whole window stays what it was: z' = (z * w) * (mean(z) / mean(z * w)). Computed in float32.
at::Tensor apply_emphasis(const at::Tensor& z, const std::vector<float>& weights);

}  // namespace ips::pipeline
