#include "ips/image_tools.h"

#include <opencv2/imgproc.hpp>

#include "ips/errors.h"
#include "image/clip_preprocess.h"

namespace ips {

namespace {

Image to_rgb(const Image& image) {
    if (image.channels == 3) return image;
    Image rgb{image.width, image.height, 3, std::vector<std::uint8_t>(static_cast<std::size_t>(image.width) * image.height * 3)};
    for (std::size_t i = 0, n = static_cast<std::size_t>(image.width) * image.height; i < n; ++i)
        for (int c = 0; c < 3; ++c)
            rgb.pixels[i * 3 + c] = image.pixels[i * image.channels + (image.channels == 1 ? 0 : c)];
    return rgb;
}

void check_image(const Image& image, const char* what) {
    if (image.empty() || (image.channels != 1 && image.channels != 3 && image.channels != 4) ||
        image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * image.channels)
        throw InputError(std::string(what) + ": expected a non-empty 8-bit gray, RGB or RGBA image");
}

}  // namespace

Image reference_encoder_view(const Image& rgb, CropMode mode, int size) {
    check_image(rgb, "reference preview");
    if (size < 1 || size > 4096) throw InputError("reference preview: size must be 1-4096");
    image::ClipImageProcessorConfig config;
    config.shortest_edge = config.crop_width = config.crop_height = size;
    return image::clip_input_image(to_rgb(rgb), config, mode);
}

Image canny_edge_map(const Image& rgb, double low_threshold, double high_threshold) {
    check_image(rgb, "canny");
    const Image src = to_rgb(rgb);
    cv::Mat color(src.height, src.width, CV_8UC3, const_cast<std::uint8_t*>(src.pixels.data()));
    cv::Mat gray, edges;
    cv::cvtColor(color, gray, cv::COLOR_RGB2GRAY);
    cv::Canny(gray, edges, low_threshold, high_threshold);
    Image out{src.width, src.height, 3, std::vector<std::uint8_t>(src.pixels.size())};
    for (int y = 0; y < src.height; ++y) {
        const std::uint8_t* e = edges.ptr<std::uint8_t>(y);
        std::uint8_t* o = out.row(y);
        for (int x = 0; x < src.width; ++x) o[x * 3] = o[x * 3 + 1] = o[x * 3 + 2] = e[x];
    }
    return out;
}

}  // namespace ips
