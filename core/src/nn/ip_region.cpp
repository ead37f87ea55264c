#include "nn/ip_region.h"

#include <cmath>

#include <ATen/ATen.h>

namespace ips::nn {

RegionGrid region_grid(std::int64_t mask_height, std::int64_t mask_width, std::int64_t queries) {
    const double ratio = static_cast<double>(mask_width) / static_cast<double>(mask_height);
    std::int64_t h = static_cast<std::int64_t>(std::sqrt(static_cast<double>(queries) / ratio));
    if (h < 1) h = 1;  // diffusers would divide by zero here (a mask far wider than tall): one row instead
    h += queries % h != 0 ? 1 : 0;
    return {h, queries / h};
}

at::Tensor region_query_weights(const at::Tensor& region, std::int64_t queries, at::ScalarType dtype) {
    const RegionGrid g = region_grid(region.size(0), region.size(1), queries);
    at::Tensor w = at::upsample_bicubic2d(region.to(at::kFloat).view({1, 1, region.size(0), region.size(1)}), {g.height, g.width},
                                          /*align_corners=*/false)
                       .reshape({1, -1});
    const std::int64_t area = g.height * g.width;
    if (area < queries) w = at::constant_pad_nd(w, {0, queries - area}, 0.0);
    if (area > queries) w = w.narrow(1, 0, queries);
    return w.to(dtype).view({1, 1, queries, 1});
}

}  // namespace ips::nn
