#pragma once
// Bicubic resampling exactly as Pillow's Image.resize(..., BICUBIC) does it for 8-bit images: the
// filter support widens with the reduction factor (an antialiasing low-pass, unlike OpenCV's
// INTER_CUBIC), coefficients in 22-bit fixed point, a horizontal then a vertical pass, each rounded
// and clipped to 8 bits. CLIPImageProcessor resizes through Pillow, so matching it bit for bit is what
// makes our pixel_values equal the reference's.
#include "ips/image.h"

namespace ips::image {

Image resize_bicubic_pil(const Image& image, int width, int height);

// The same with Pillow's LANCZOS filter (support 3), which diffusers' VaeImageProcessor uses.
Image resize_lanczos_pil(const Image& image, int width, int height);

}  // namespace ips::image
