// Plain C++ over contiguous rows so the compiler vectorises every loop; each hot function is also
// compiled for AVX-512 and for AVX2 + FMA and picked at load time (target_clones).
#include "nn/kernels/elementwise.h"

#include "nn/kernels/bf16_scalar.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IPS_CLONE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IPS_CLONE
#endif

namespace ips::nn::kernels {
namespace {

// e^x for x <= 0 (small positive x too).
inline float exp_nonpositive(float x) { return exp2_nonpositive(x * 1.44269504f); }

// gelu(x) = x/2 (1 + erf(z)), z = x / sqrt 2. erfc(|z|) by the Chebyshev fit of Numerical Recipes
// (erfcc: relative error below 1.2e-7 for every z, so the left tail stays accurate too); 1 + erf(z) is
// erfc(|z|) for x < 0 — no cancellation — and 2 - erfc(|z|) otherwise.
inline float gelu(float x) {
    const float z = std::fabs(x) * 0.70710678f;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float erfc = t * exp_nonpositive(p - z * z);
    return 0.5f * x * (x < 0.0f ? erfc : 2.0f - erfc);
}

IPS_CLONE
void geglu_row(const std::uint16_t* a, const std::uint16_t* b, std::int64_t n, std::uint16_t* out) {
    for (std::int64_t j = 0; j < n; ++j) out[j] = to_bf16(from_bf16(a[j]) * gelu(from_bf16(b[j])));
}

// Sums in 16 independent lanes: strict float semantics forbid the compiler to reorder one running sum.
constexpr int kLanes = 16;

template <typename Term>
inline float lane_sum(std::int64_t n, Term term) {
    float lanes[kLanes] = {};
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int l = 0; l < kLanes; ++l) lanes[l] += term(j + l);
    float sum = 0.0f;
    for (; j < n; ++j) sum += term(j);
    for (int l = 0; l < kLanes; ++l) sum += lanes[l];
    return sum;
}

IPS_CLONE
void layer_norm_row(const std::uint16_t* in, std::int64_t n, const std::uint16_t* weight, const std::uint16_t* bias, float eps,
                    std::uint16_t* out) {
    const float mean = lane_sum(n, [&](std::int64_t j) { return from_bf16(in[j]); }) / static_cast<float>(n);
    const float squares = lane_sum(n, [&](std::int64_t j) {
        const float d = from_bf16(in[j]) - mean;
        return d * d;
    });
    const float inv = 1.0f / std::sqrt(squares / static_cast<float>(n) + eps);
    for (std::int64_t j = 0; j < n; ++j)
        out[j] = to_bf16((from_bf16(in[j]) - mean) * inv * from_bf16(weight[j]) + from_bf16(bias[j]));
}

// Adds each channel's values over `count` pixels (rows of `channels`) into `sums`, or their squared
// distances from their group's mean when `means` is given.
IPS_CLONE
void channel_sums(const std::uint16_t* in, std::int64_t count, std::int64_t channels, const float* means, double* sums) {
    constexpr std::int64_t kBlock = 256;  // pixels summed in float before adding into double
    std::vector<float> partial(static_cast<std::size_t>(channels));
    for (std::int64_t p0 = 0; p0 < count; p0 += kBlock) {
        std::fill(partial.begin(), partial.end(), 0.0f);
        const std::int64_t p1 = std::min(count, p0 + kBlock);
        for (std::int64_t p = p0; p < p1; ++p) {
            const std::uint16_t* row = in + p * channels;
            if (means) {
                for (std::int64_t c = 0; c < channels; ++c) {
                    const float d = from_bf16(row[c]) - means[c];
                    partial[c] += d * d;
                }
            } else {
                for (std::int64_t c = 0; c < channels; ++c) partial[c] += from_bf16(row[c]);
            }
        }
        for (std::int64_t c = 0; c < channels; ++c) sums[c] += partial[c];
    }
}

IPS_CLONE
void scale_shift_rows(const std::uint16_t* in, std::int64_t count, std::int64_t channels, const float* scale, const float* shift,
                      bool silu, std::uint16_t* out) {
    for (std::int64_t p = 0; p < count; ++p) {
        const std::uint16_t* row = in + p * channels;
        std::uint16_t* o = out + p * channels;
        if (silu) {
            for (std::int64_t c = 0; c < channels; ++c) {
                const float y = from_bf16(row[c]) * scale[c] + shift[c];
                const float e = exp_nonpositive(-std::fabs(y));  // sigmoid without overflow on either side
                o[c] = to_bf16(y * (y >= 0.0f ? 1.0f : e) / (1.0f + e));
            }
        } else {
            for (std::int64_t c = 0; c < channels; ++c) o[c] = to_bf16(from_bf16(row[c]) * scale[c] + shift[c]);
        }
    }
}

IPS_CLONE
void add_f32_to_bf16_span(const std::uint16_t* base, const float* delta, std::int64_t n, std::uint16_t* out) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = to_bf16(from_bf16(base[i]) + delta[i]);
}

}  // namespace

void add_f32_to_bf16(const std::uint16_t* base, const float* delta, std::int64_t n, std::uint16_t* out) {
    add_f32_to_bf16_span(base, delta, n, out);
}

float gelu_reference(float x) { return gelu(x); }

void group_norm_nhwc_bf16(const std::uint16_t* in, std::int64_t batch, std::int64_t pixels, std::int64_t channels,
                          std::int64_t groups, const std::uint16_t* weight, const std::uint16_t* bias, float eps, bool silu,
                          std::uint16_t* out) {
    const std::int64_t per_group = channels / groups;
    const double count = static_cast<double>(pixels * per_group);
    const int threads = omp_get_max_threads();
    std::vector<double> sums(static_cast<std::size_t>(threads * channels));
    std::vector<float> means(static_cast<std::size_t>(channels)), scale(means.size()), shift(means.size());
    // Per-group totals of one statistic, from the threads' per-channel sums.
    auto group_totals = [&](std::vector<double>& totals) {
        totals.assign(static_cast<std::size_t>(groups), 0.0);
        for (int t = 0; t < threads; ++t)
            for (std::int64_t c = 0; c < channels; ++c) totals[c / per_group] += sums[t * channels + c];
    };
    // Each thread sums a contiguous share of the pixels into its own row of `sums`.
    auto parallel_sums = [&](const std::uint16_t* image, const float* centre) {
        std::fill(sums.begin(), sums.end(), 0.0);
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num(), n = omp_get_num_threads();
            const std::int64_t p0 = pixels * t / n, p1 = pixels * (t + 1) / n;
            channel_sums(image + p0 * channels, p1 - p0, channels, centre, sums.data() + t * channels);
        }
    };
    std::vector<double> totals;
    for (std::int64_t b = 0; b < batch; ++b) {
        const std::uint16_t* image = in + b * pixels * channels;
        parallel_sums(image, nullptr);
        group_totals(totals);
        for (std::int64_t c = 0; c < channels; ++c) means[c] = static_cast<float>(totals[c / per_group] / count);
        parallel_sums(image, means.data());  // two passes: no cancellation when the mean is large
        group_totals(totals);
        for (std::int64_t c = 0; c < channels; ++c) {
            const float inv = static_cast<float>(1.0 / std::sqrt(totals[c / per_group] / count + eps));
            scale[c] = inv * from_bf16(weight[c]);
            shift[c] = from_bf16(bias[c]) - means[c] * scale[c];
        }
        std::uint16_t* dst = out + b * pixels * channels;
#pragma omp parallel for schedule(static)
        for (std::int64_t p0 = 0; p0 < pixels; p0 += 64)
            scale_shift_rows(image + p0 * channels, std::min<std::int64_t>(64, pixels - p0), channels, scale.data(), shift.data(), silu,
                             dst + p0 * channels);
    }
}

void geglu_bf16(const std::uint16_t* in, std::int64_t in_stride, std::int64_t rows, std::int64_t inner, std::uint16_t* out,
                std::int64_t out_stride) {
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) geglu_row(in + r * in_stride, in + r * in_stride + inner, inner, out + r * out_stride);
}

void layer_norm_bf16(const std::uint16_t* in, std::int64_t rows, std::int64_t width, const std::uint16_t* weight,
                     const std::uint16_t* bias, float eps, std::uint16_t* out) {
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) layer_norm_row(in + r * width, width, weight, bias, eps, out + r * width);
}

}  // namespace ips::nn::kernels
