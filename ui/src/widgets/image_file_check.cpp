#include "image_file_check.h"

#include <QFileInfo>
#include <QImageReader>

namespace ipsui {

ImageFileCheck checkImageFile(const QString& path, int maxSide) {
    ImageFileCheck result;
    const QFileInfo info(path);
    const QString name = info.fileName().isEmpty() ? path : info.fileName();
    if (!info.exists()) {
        result.message = QStringLiteral("%1: file not found").arg(path);
        return result;
    }
    if (info.isDir()) {
        result.message = QStringLiteral("%1: is a folder, expected an image file").arg(name);
        return result;
    }
    QImageReader reader(path);
    reader.setDecideFormatFromContent(true);
    if (!reader.canRead()) {
        result.message = QStringLiteral("%1: not an image Qt can read (%2); expected PNG, JPEG, WebP or BMP")
                             .arg(name, reader.errorString());
        return result;
    }
    result.format = QString::fromLatin1(reader.format());
    result.size = reader.size();
    if (!result.size.isValid()) {
        result.message = QStringLiteral("%1: cannot read the image size (corrupt file?)").arg(name);
        return result;
    }
    if (result.size.width() > maxSide || result.size.height() > maxSide) {
        result.message = QStringLiteral("%1: image is %2x%3, larger than the %4x%4 limit")
                             .arg(name)
                             .arg(result.size.width())
                             .arg(result.size.height())
                             .arg(maxSide);
        return result;
    }
    result.ok = true;
    return result;
}

}  // namespace ipsui
