#pragma once
// Checks a file the user dropped or chose before anything loads it: is it an image Qt can read, and is
// it small enough to decode? Reads only the header, so a 20000x20000 PNG is refused without decoding.
#include <QSize>
#include <QString>

namespace ipsui {

struct ImageFileCheck {
    bool ok = false;
    QSize size;
    QString format;   // "png", "jpeg", ...
    QString message;  // why it was refused, naming the file; empty when ok
};

// Largest side accepted (SD1.5 works at 512-1024; references are resized to 224 anyway).
constexpr int kMaxImageSide = 8192;

ImageFileCheck checkImageFile(const QString& path, int maxSide = kMaxImageSide);

}  // namespace ipsui
