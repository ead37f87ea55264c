#include "nn/attention.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include <ATen/ATen.h>

#include "nn/kernels/flash_attention.h"

namespace ips::nn {
namespace {
std::atomic<std::size_t> g_chunk_budget{256u << 20};
std::atomic<AttentionKernel> g_kernel{AttentionKernel::automatic};

// One block of queries. bmm, never baddbmm(beta=0): Debian's LibTorch 1.13.1 returns wrong values at
// random from baddbmm with beta=0 on small batched shapes.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k_t, const at::Tensor& v, double scale,
                  const at::Tensor& mask) {
    at::Tensor scores = at::matmul(q, k_t);  // [B, H, n, Nk]
    if (scale != 1.0) scores.mul_(scale);
    if (mask.defined()) scores.add_(mask);
    const bool upcast = scores.scalar_type() != at::kFloat && scores.scalar_type() != at::kDouble;
    at::Tensor probs = upcast ? at::softmax(scores, -1, at::kFloat).to(v.scalar_type()) : at::softmax(scores, -1);
    return at::matmul(probs, v);
}

at::Tensor plain_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                           const at::Tensor& additive_mask) {
    const auto batch_heads = q.size(0) * q.size(1);
    const auto nq = q.size(2), nk = k.size(2);
    const at::Tensor k_t = k.transpose(-1, -2);
    const std::size_t row_bytes = static_cast<std::size_t>(batch_heads * nk) * 4;
    const auto rows = static_cast<std::int64_t>(std::max<std::size_t>(1, g_chunk_budget / std::max<std::size_t>(row_bytes, 1)));
    if (rows >= nq) return attend(q, k_t, v, scale, additive_mask);

    at::Tensor out = at::empty({q.size(0), q.size(1), nq, v.size(3)}, q.options());
    for (std::int64_t start = 0; start < nq; start += rows) {
        const auto n = std::min(rows, nq - start);
        at::Tensor mask;
        if (additive_mask.defined())
            mask = additive_mask.size(-2) == 1 ? additive_mask : additive_mask.narrow(-2, start, n);
        out.narrow(2, start, n).copy_(attend(q.narrow(2, start, n), k_t, v, scale, mask));
    }
    return out;
}

const std::uint16_t* bits(const at::Tensor& t) { return reinterpret_cast<const std::uint16_t*>(t.data_ptr<at::BFloat16>()); }

at::Tensor fused_attention(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in, double scale,
                           kernels::AttentionIsa isa) {
    // The kernel reads rows of contiguous values at any row, head and batch strides.
    const auto rows_of = [](const at::Tensor& t) { return t.stride(3) == 1 ? t : t.contiguous(); };
    const at::Tensor q = rows_of(q_in), k = rows_of(k_in), v = rows_of(v_in);
    const std::int64_t batch = q.size(0), heads = q.size(1);
    const kernels::AttentionShape shape{q.size(2), k.size(2), q.size(3), static_cast<float>(scale)};

    at::Tensor out = at::empty({batch, shape.queries, heads, shape.dim}, q.options()).permute({0, 2, 1, 3});
    const auto view = [](const at::Tensor& t) {
        return kernels::HeadTensor{const_cast<std::uint16_t*>(bits(t)), t.stride(0), t.stride(1), t.stride(2)};
    };
    at::Tensor packed = at::empty({batch * heads, static_cast<std::int64_t>(kernels::packed_kv_bytes(isa, shape))},
                                  q.options().dtype(at::kByte));
    kernels::attention(isa, shape, batch, heads, view(q), view(k), view(v), view(out), packed.data_ptr());
    return out;
}

kernels::AttentionIsa isa_of(AttentionKernel kernel) {
    if (kernel == AttentionKernel::fused_portable) return kernels::AttentionIsa::portable;
    if (kernel == AttentionKernel::fused_avx512_bf16) return kernels::AttentionIsa::avx512_bf16;
    if (kernel == AttentionKernel::fused_amx_bf16) return kernels::AttentionIsa::amx_bf16;
    return kernels::best_isa();
}
}  // namespace

bool fused_elementwise_enabled() { return g_kernel != AttentionKernel::plain; }

void set_attention_kernel(AttentionKernel kernel) {
    if (kernel == AttentionKernel::fused_avx512_bf16 && !kernels::cpu_supports(kernels::AttentionIsa::avx512_bf16))
        throw std::invalid_argument("this CPU has no AVX-512-BF16: the fused avx512_bf16 attention cannot run here");
    if (kernel == AttentionKernel::fused_amx_bf16 && !kernels::cpu_supports(kernels::AttentionIsa::amx_bf16))
        throw std::invalid_argument("this CPU (or its operating system) gives no AMX tiles: the fused amx_bf16 attention cannot run here");
    g_kernel = kernel;
}
std::string automatic_attention_path() { return std::string("fused ") + kernels::isa_name(kernels::best_isa()); }

void set_attention_chunk_budget(std::size_t bytes) { g_chunk_budget = std::max<std::size_t>(bytes, 1); }
std::size_t attention_chunk_budget() { return g_chunk_budget; }

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        double scale, const at::Tensor& additive_mask) {
    const AttentionKernel kernel = g_kernel;
    const bool fusable = kernel != AttentionKernel::plain && q.scalar_type() == at::kBFloat16 &&
                         k.scalar_type() == at::kBFloat16 && v.scalar_type() == at::kBFloat16 &&
                         !additive_mask.defined() && q.dim() == 4 && k.dim() == 4 && v.dim() == 4 &&
                         k.size(0) == q.size(0) && k.size(1) == q.size(1) && v.sizes() == k.sizes() && k.size(2) > 0 && q.size(3) == k.size(3) &&
                         v.size(3) == q.size(3) && !q.requires_grad();
    if (fusable) return fused_attention(q, k, v, scale, isa_of(kernel));
    return plain_attention(q, k, v, scale, additive_mask);
}

}  // namespace ips::nn
