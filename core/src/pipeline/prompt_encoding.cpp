#include "pipeline/prompt_encoding.h"

namespace ips::pipeline {

at::Tensor apply_emphasis(const at::Tensor& z, const std::vector<float>& weights) {
    const at::Tensor hidden = z.to(at::kFloat);
    // [1, 77, 1]: one weight per token, broadcast over the width.
    const at::Tensor w = at::tensor(weights, at::kFloat).view({1, -1, 1});
    const at::Tensor original_mean = hidden.mean();
    const at::Tensor weighted = hidden * w;
    // Restoring the mean is A1111's own guess ("seems to work well to prevent artifacts").
    const at::Tensor new_mean = weighted.mean();
    return (weighted * (original_mean / new_mean)).to(z.scalar_type());
}

WindowEncoder run_text_encoder(nn::CLIPTextModel& text_encoder) {
    return [&text_encoder](const text::TokenChunk& chunk, int clip_skip) {
        const at::Tensor ids = at::tensor(chunk.input_ids, at::kLong).unsqueeze(0);  // [1, 77]
        return text_encoder->encode_prompt(ids, clip_skip);                           // [1, 77, C]
    };
}

at::Tensor encode_chunks(const WindowEncoder& encode_window,
                         const std::vector<text::TokenChunk>& chunks, int clip_skip) {
    std::vector<at::Tensor> windows;
    for (const auto& chunk : chunks) {
        at::Tensor z = encode_window(chunk, clip_skip);
        // All weights 1 would give z * (m / m): skipped, so unweighted windows stay diffusers' own.
        if (!chunk.unweighted()) z = apply_emphasis(z, chunk.weights);
        windows.push_back(z);
    }
    return windows.size() == 1 ? windows.front() : at::cat(windows, 1);
}

PromptEmbeddingPair encode_prompt_pair_with(const ClipTokenizer& tokenizer, const WindowEncoder& encode_window,
                                            const std::string& prompt, const std::string& negative_prompt,
                                            int clip_skip, PromptSyntax syntax) {
    text::ChunkedPrompt cond = text::chunk_prompt(tokenizer, prompt, syntax);
    text::ChunkedPrompt uncond = text::chunk_prompt(tokenizer, negative_prompt, syntax);
    text::pad_to_same_chunk_count(tokenizer, cond, uncond);
    return {encode_chunks(encode_window, cond.chunks, clip_skip),
            encode_chunks(encode_window, uncond.chunks, 0)};
}

}  // namespace ips::pipeline
