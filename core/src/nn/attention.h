#pragma once
// The one attention function every attention layer (self, cross, image-prompt, CLIP, VAE) calls.
// It is the hot spot of the engine: the performance work changes its inside, never its callers.
#include <ATen/core/Tensor.h>

namespace ips::nn {

// softmax(scale * q·kᵀ + mask)·v for q [B, H, Nq, D], k [B, H, Nk, D], v [B, H, Nk, Dv] -> [B, H, Nq, Dv].
// `additive_mask`, when defined, broadcasts to [B, H, Nq, Nk]. Queries are processed in chunks so the
// score matrix never exceeds a fixed budget (512x512 SD1.5 self-attention would need 1 GB at once);
// results equal the unchunked computation. Softmax runs in float32 for reduced-precision inputs.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        double scale, const at::Tensor& additive_mask = {});

// Bytes the score matrix of one chunk may take (tests lower it to exercise chunking).
void set_attention_chunk_budget(std::size_t bytes);
std::size_t attention_chunk_budget();

}  // namespace ips::nn
