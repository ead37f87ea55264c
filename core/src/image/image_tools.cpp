#include "ips/image_tools.h"

#include <opencv2/imgproc.hpp>

#include "ips/errors.h"
#include "image/clip_preprocess.h"
#include "image/image_io.h"

namespace ips {

Image reference_encoder_view(const Image& rgb, CropMode mode, int size) {
    const Image src = image::to_rgb(rgb, "reference preview");
    if (size < 1 || size > 4096) throw InputError("reference preview: size must be 1-4096");
    image::ClipImageProcessorConfig config;
    config.shortest_edge = config.crop_width = config.crop_height = size;
    return image::clip_input_image(src, config, mode);
}

Image canny_edge_map(const Image& rgb, double low_threshold, double high_threshold) {
    const Image src = image::to_rgb(rgb, "canny");
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
