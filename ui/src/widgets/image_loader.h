#pragma once
// Reads pictures the user brings (files, drops, the clipboard) after checking them, so a bad file
// becomes a message naming it instead of a crash or a giant allocation.
#include <QImage>
#include <QList>
#include <QString>

class QMimeData;

namespace ipsui {

struct LoadedImage {
    QString path;   // empty for a picture without a file (pasted, dragged from a browser)
    QImage image;   // null when refused
    QString error;  // why it was refused, naming the file
    bool isEmbedding = false;  // an image embedding file (.safetensors from `ipstudio-cli embed`)
    bool ok() const { return error.isEmpty(); }
};

// Checks the header (format, size limit), then decodes with EXIF orientation applied.
LoadedImage loadImageFile(const QString& path);

// Everything a drop or paste carries: local files first, else the picture itself. Remote URLs are
// refused with a message (IP Studio does not download).
QList<LoadedImage> imagesFromMime(const QMimeData* mime, bool allowEmbeddings);

}  // namespace ipsui
