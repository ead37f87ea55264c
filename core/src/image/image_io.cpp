#include "image/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image/image_header.h"
#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::image {

Image decode_image_rgb(const std::string& bytes, const std::string& name) {
    const auto size = read_image_size(bytes);
    auto too_large = [&](long long w, long long h) {
        return InputError(name + ": the image is " + std::to_string(w) + "x" + std::to_string(h) +
                          " pixels; at most " + std::to_string(kMaxImageSide) + " on a side is supported");
    };
    if (size && (size->width > kMaxImageSide || size->height > kMaxImageSide)) throw too_large(size->width, size->height);

    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    cv::Mat decoded;
    try {
        decoded = cv::imdecode(buffer, cv::IMREAD_COLOR);  // BGR 8-bit, EXIF orientation applied
    } catch (const cv::Exception&) {
        decoded.release();
    }
    if (decoded.empty())
        throw InputError(name + ": not a readable image (expected PNG, JPEG, WebP, BMP, GIF or TIFF)");
    if (decoded.cols > kMaxImageSide || decoded.rows > kMaxImageSide) throw too_large(decoded.cols, decoded.rows);

    Image image;
    image.width = decoded.cols;
    image.height = decoded.rows;
    image.channels = 3;
    image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * 3);
    cv::Mat rgb(image.height, image.width, CV_8UC3, image.pixels.data());
    cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
    return image;
}

Image read_image_rgb(const std::filesystem::path& path) {
    const std::string name = io::display_path(path);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw InputError(name + ": file not found");
    if (std::filesystem::is_directory(path, ec)) throw InputError(name + ": is a folder, expected an image file");
    std::string bytes;
    try {
        bytes = io::read_text_file(path);
    } catch (const Error& e) {
        throw InputError(e.what());
    }
    return decode_image_rgb(bytes, name);
}

Image to_rgb(const Image& in, const std::string& what) {
    if (in.empty() || (in.channels != 1 && in.channels != 3 && in.channels != 4) ||
        in.pixels.size() != static_cast<std::size_t>(in.width) * in.height * in.channels)
        throw InputError(what + ": images in memory must be gray, RGB or RGBA");
    if (in.channels == 3) return in;
    Image rgb;
    rgb.width = in.width;
    rgb.height = in.height;
    rgb.pixels.resize(static_cast<std::size_t>(in.width) * in.height * 3);
    for (std::size_t i = 0, n = rgb.pixels.size() / 3; i < n; ++i)
        for (int c = 0; c < 3; ++c) rgb.pixels[i * 3 + c] = in.pixels[i * in.channels + (in.channels == 1 ? 0 : c)];
    return rgb;
}

Image to_gray(const Image& in) {
    if (in.channels == 1) return in;
    Image out;
    out.width = in.width;
    out.height = in.height;
    out.channels = 1;
    out.pixels.resize(static_cast<std::size_t>(in.width) * in.height);
    const std::size_t n = out.pixels.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* p = in.pixels.data() + i * in.channels;
        // PIL: L = R * 299/1000 + G * 587/1000 + B * 114/1000 in 16-bit fixed point, rounded.
        out.pixels[i] = static_cast<std::uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
    }
    return out;
}

}  // namespace ips::image
