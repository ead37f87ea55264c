#include "ips/png_file.h"

#include <array>
#include <ostream>
#include <cstring>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "ips/errors.h"

namespace ips {
namespace {

namespace fs = std::filesystem;

std::uint32_t crc32(const std::string& bytes) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void put32(std::string& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xFF));
}

// iTXt: keyword, 0, compression flag 0, method 0, empty language tag, 0, empty translated keyword, 0, text.
std::string itxt_chunk(const std::string& keyword, const std::string& text) {
    std::string body = "iTXt" + keyword;
    body.push_back('\0');
    body.push_back('\0');
    body.push_back('\0');
    body.push_back('\0');
    body.push_back('\0');
    body += text;
    std::string chunk;
    put32(chunk, static_cast<std::uint32_t>(body.size() - 4));
    chunk += body;
    put32(chunk, crc32(body));
    return chunk;
}

}  // namespace

void write_png(const fs::path& file, const Image& image, const std::map<std::string, std::string>& text, bool overwrite) {
    const std::string name = io::display_path(file);
    std::error_code ec;
    // Checked first so that no encoding is wasted; the write itself still refuses atomically.
    if (!overwrite && fs::exists(file, ec)) throw InputError(name + ": already exists (choose another name or allow overwriting)");
    if (image.empty() || (image.channels != 3 && image.channels != 1)) throw InputError(name + ": nothing to write");
    cv::Mat mat(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1, const_cast<std::uint8_t*>(image.pixels.data()));
    cv::Mat bgr;
    if (image.channels == 3) cv::cvtColor(mat, bgr, cv::COLOR_RGB2BGR);
    else bgr = mat;
    std::vector<unsigned char> encoded;
    if (!cv::imencode(".png", bgr, encoded)) throw InputError(name + ": PNG encoding failed");
    std::string png(encoded.begin(), encoded.end());
    // After the signature (8) and IHDR (4 + 4 + 13 + 4).
    const std::size_t after_ihdr = 8 + 25;
    std::string chunks;
    for (const auto& [key, value] : text) chunks += itxt_chunk(key, value);
    png.insert(after_ihdr, chunks);
    try {
        io::write_file_atomically(
            file, [&](std::ostream& out) { out.write(png.data(), static_cast<std::streamsize>(png.size())); },
            overwrite ? io::ExistingFile::Replace : io::ExistingFile::Keep);
    } catch (const InputError& e) {
        if (std::string(e.what()).find("already exists") != std::string::npos) throw;
        throw InputError(name + ": cannot write (" + e.what() + ")");
    } catch (const std::exception& e) {
        throw InputError(name + ": cannot write (" + e.what() + ")");
    }
}

std::map<std::string, std::string> read_png_text(const fs::path& file) {
    std::string b;
    try {
        b = io::read_text_file(file);
    } catch (const Error& e) {
        throw InputError(e.what());
    }
    return parse_png_text(b, io::display_path(file));
}

}  // namespace ips
