#include "pipeline/ip_regions.h"

#include <ATen/ATen.h>

#include "pipeline/image_tensors.h"

namespace ips::pipeline {

at::Tensor region_mask(const Image& picture, int width, int height, const std::string& what, std::vector<std::string>& warnings) {
    if (picture.width != width || picture.height != height)
        warnings.push_back(what + ": the region is " + std::to_string(picture.width) + "x" + std::to_string(picture.height) +
                           ", resized to the output size " + std::to_string(width) + "x" + std::to_string(height));
    at::Tensor mask = mask_input(picture, width, height)[0][0];
    if (!mask.any().item<bool>())
        warnings.push_back(what + ": the region is empty (no pixel at half grey or brighter): that reference image has no effect");
    return mask;
}

}  // namespace ips::pipeline
