#include "pipeline/image_tensors.h"

#include "image/image_io.h"
#include "image/pil_resize.h"

namespace ips::pipeline {
namespace {

Image fit(const Image& image, int width, int height) {
    if (image.width == width && image.height == height) return image;
    return image::resize_lanczos_pil(image, width, height);
}

// HWC uint8 -> [1, C, H, W] float32 in [0, 1] (numpy: astype(float32) / 255).
at::Tensor unit_tensor(const Image& image) {
    const at::Tensor hwc = at::from_blob(const_cast<std::uint8_t*>(image.pixels.data()), {image.height, image.width, image.channels}, at::kByte);
    return (hwc.to(at::kFloat) / 255.0f).permute({2, 0, 1}).unsqueeze(0).contiguous();
}

}  // namespace

at::Tensor vae_input(const Image& rgb, int width, int height) { return 2.0 * unit_tensor(fit(rgb, width, height)) - 1.0; }

at::Tensor mask_input(const Image& mask, int width, int height) {
    const at::Tensor m = unit_tensor(fit(image::to_gray(mask), width, height));
    return (m >= 0.5).to(at::kFloat);
}

at::Tensor control_input(const Image& rgb, int width, int height) { return unit_tensor(fit(rgb, width, height)); }

at::Tensor postprocess(const at::Tensor& decoded) { return (decoded.to(at::kFloat) / 2 + 0.5).clamp(0, 1); }

std::vector<Image> to_images(const at::Tensor& decoded) {
    const at::Tensor bytes = (postprocess(decoded) * 255).round().to(at::kByte).permute({0, 2, 3, 1}).contiguous();
    std::vector<Image> out;
    for (std::int64_t i = 0; i < bytes.size(0); ++i) {
        Image im;
        im.height = static_cast<int>(bytes.size(1));
        im.width = static_cast<int>(bytes.size(2));
        im.channels = 3;
        const auto* p = bytes[i].data_ptr<std::uint8_t>();
        im.pixels.assign(p, p + bytes[i].numel());
        out.push_back(std::move(im));
    }
    return out;
}

Image latent_preview(const at::Tensor& latents) {
    // Least-squares fit from SD1.x latents to RGB in [-1, 1] (the widely used published factors).
    static const float factors[4][3] = {{0.3512f, 0.2297f, 0.3227f}, {0.3250f, 0.4974f, 0.2350f},
                                        {-0.2829f, 0.1762f, 0.2721f}, {-0.2120f, -0.2616f, -0.7177f}};
    const at::Tensor m = at::from_blob(const_cast<float*>(&factors[0][0]), {4, 3}, at::kFloat);
    const at::Tensor hw4 = latents[0].to(at::kFloat).permute({1, 2, 0});
    const at::Tensor rgb = ((at::matmul(hw4, m) + 1) / 2).clamp(0, 1).mul(255).round().to(at::kByte).contiguous();
    Image im;
    im.height = static_cast<int>(rgb.size(0));
    im.width = static_cast<int>(rgb.size(1));
    im.channels = 3;
    im.pixels.assign(rgb.data_ptr<std::uint8_t>(), rgb.data_ptr<std::uint8_t>() + rgb.numel());
    return im;
}

}  // namespace ips::pipeline
