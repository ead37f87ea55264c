#pragma once
// Pictures in and out of the pipeline, as diffusers' VaeImageProcessor converts them.
#include <vector>

#include <ATen/ATen.h>

#include "ips/image.h"

namespace ips::pipeline {

// Init image for the VAE: resized to width x height (Pillow LANCZOS) when needed, [1, 3, h, w] in [-1, 1].
at::Tensor vae_input(const Image& rgb, int width, int height);
// Inpainting mask: grayscale ("L"), resized when needed, binarised at 0.5: [1, 1, h, w] of 0/1.
at::Tensor mask_input(const Image& mask, int width, int height);
// ControlNet map: resized when needed, [1, 3, h, w] in [0, 1].
at::Tensor control_input(const Image& rgb, int width, int height);

// VAE output [N, 3, h, w] (about [-1, 1]) -> 8-bit RGB images (x/2 + 0.5, clamp, *255, round).
std::vector<Image> to_images(const at::Tensor& decoded);
// [N, 3, h, w] in [0, 1], float32: the postprocessed image diffusers returns.
at::Tensor postprocess(const at::Tensor& decoded);

// A fast look at latents [1, 4, h, w] (first of the batch): a fixed 4x3 linear map to RGB at latent
// resolution, no VAE.
Image latent_preview(const at::Tensor& latents);

}  // namespace ips::pipeline
