#pragma once
// Conversions between the engine's values and Qt's: pictures (copies: the two never share pixels) and
// file paths (UTF-8 on the engine side, so unicode names survive).
#include <QImage>
#include <QString>
#include <filesystem>

#include "ips/image.h"

namespace ipsui {

QImage toQImage(const ips::Image& image);
// RGB888 (or Grayscale8 when `gray`); alpha is dropped the way the engine drops it.
ips::Image toIpsImage(const QImage& image, bool gray = false);

std::filesystem::path toFsPath(const QString& path);
QString fromFsPath(const std::filesystem::path& path);

}  // namespace ipsui
