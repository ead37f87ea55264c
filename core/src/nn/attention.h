#pragma once
// The one attention function every attention layer (self, cross, image-prompt, CLIP, VAE) calls.
// It is the hot spot of the engine: the performance work changes its inside, never its callers.
#include <string>

#include <ATen/core/Tensor.h>

namespace ips::nn {

// softmax(scale * q·kᵀ + mask)·v for q [B, H, Nq, D], k [B, H, Nk, D], v [B, H, Nk, Dv] -> [B, H, Nq, Dv].
// `additive_mask`, when defined, broadcasts to [B, H, Nq, Nk]. The plain path processes queries in chunks
// so the score matrix never exceeds a fixed budget (512x512 SD1.5 self-attention would need 1 GB at once);
// results equal the unchunked computation. Softmax runs in float32 for reduced-precision inputs. The fused
// path returns a view whose memory is [B, Nq, H, Dv], so merging the heads afterwards copies nothing.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        double scale, const at::Tensor& additive_mask = {});

// Which implementation runs. `automatic` (the default): bfloat16 without a mask takes the fused kernel
// (nn/kernels/flash_attention.h) in the best instruction set the CPU has; everything else, and float32
// always, takes the plain path (matmul, softmax in float32, matmul) that matches the reference exactly.
// The others force one path for tests and benchmarks; a fused path the CPU lacks throws.
enum class AttentionKernel { automatic, plain, fused_portable, fused_avx512_bf16, fused_amx_bf16 };
void set_attention_kernel(AttentionKernel kernel);
// The path automatic takes for bfloat16 on this CPU ("fused amx_bf16", "fused avx512_bf16", "fused portable").
std::string automatic_attention_path();

// The transformer blocks' fused bfloat16 GEGLU and LayerNorm (nn/kernels/elementwise.h) follow the same
// switch: off while `plain` is set, so that path is LibTorch's own operations throughout.
bool fused_elementwise_enabled();

// Bytes the score matrix of one chunk may take (tests lower it to exercise chunking).
void set_attention_chunk_budget(std::size_t bytes);
std::size_t attention_chunk_budget();

}  // namespace ips::nn
