#pragma once
// The regions of an IP-Adapter's reference images (diffusers' ip_adapter_masks): each picture read as
// IPAdapterMaskProcessor reads it (grey, resized to the output size, binarised at half grey).
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ips/image.h"

namespace ips::pipeline {

// [height, width] float32 of 0/1. `what` names the input in messages ("ip_adapters[0].regions[1]: ...").
// Adds a warning when the picture had to be resized, or when the region is empty (that image then has no
// effect anywhere).
at::Tensor region_mask(const Image& picture, int width, int height, const std::string& what, std::vector<std::string>& warnings);

}  // namespace ips::pipeline
