#include "qt_convert.h"

#include <cstring>

namespace ipsui {

QImage toQImage(const ips::Image& image) {
    if (image.empty()) return {};
    const QImage::Format format = image.channels == 1   ? QImage::Format_Grayscale8
                                  : image.channels == 4 ? QImage::Format_RGBA8888
                                                        : QImage::Format_RGB888;
    QImage out(image.width, image.height, format);
    const std::size_t rowBytes = static_cast<std::size_t>(image.width) * image.channels;
    for (int y = 0; y < image.height; ++y) std::memcpy(out.scanLine(y), image.row(y), rowBytes);
    return out;
}

ips::Image toIpsImage(const QImage& image, bool gray) {
    if (image.isNull()) return {};
    const QImage converted = image.convertToFormat(gray ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
    ips::Image out;
    out.width = converted.width();
    out.height = converted.height();
    out.channels = gray ? 1 : 3;
    const std::size_t rowBytes = static_cast<std::size_t>(out.width) * out.channels;
    out.pixels.resize(rowBytes * out.height);
    for (int y = 0; y < out.height; ++y) std::memcpy(out.row(y), converted.constScanLine(y), rowBytes);
    return out;
}

std::filesystem::path toFsPath(const QString& path) {
    const QByteArray utf8 = path.toUtf8();
    return std::filesystem::path(std::u8string(reinterpret_cast<const char8_t*>(utf8.constData()), utf8.size()));
}

QString fromFsPath(const std::filesystem::path& path) {
    const std::u8string utf8 = path.u8string();
    return QString::fromUtf8(reinterpret_cast<const char*>(utf8.data()), static_cast<qsizetype>(utf8.size()));
}

}  // namespace ipsui
