#include "nn/attention.h"

#include <algorithm>
#include <atomic>

#include <ATen/ATen.h>

namespace ips::nn {
namespace {
std::atomic<std::size_t> g_chunk_budget{256u << 20};

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
}  // namespace

void set_attention_chunk_budget(std::size_t bytes) { g_chunk_budget = std::max<std::size_t>(bytes, 1); }
std::size_t attention_chunk_budget() { return g_chunk_budget; }

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        double scale, const at::Tensor& additive_mask) {
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

}  // namespace ips::nn
