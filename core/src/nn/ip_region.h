#pragma once
// IP-Adapter regions per attention layer, as diffusers' IPAdapterMaskProcessor.downsample: the output-size
// mask [H, W] resized (bicubic) to a grid of about the layer's query count with the mask's aspect ratio
//   mask_h = int(sqrt(Q / (W / H))), plus 1 when Q is not a multiple of it;  mask_w = Q // mask_h
// then read row by row as Q weights, zero-padded or cut to exactly Q (the grid and the latent's token grid
// differ when the aspect ratio does not divide evenly: diffusers warns and does the same).
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace ips::nn {

// region [H, W] float32 -> [1, 1, queries, 1] weights in `dtype`, to multiply an attention output [B, heads, Q, d].
at::Tensor region_query_weights(const at::Tensor& region, std::int64_t queries, at::ScalarType dtype);

// The grid diffusers resizes to for `queries` tokens of an H x W output (exposed for tests).
struct RegionGrid {
    std::int64_t height = 0, width = 0;
};
RegionGrid region_grid(std::int64_t mask_height, std::int64_t mask_width, std::int64_t queries);

}  // namespace ips::nn
