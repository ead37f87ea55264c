#include "image_loader.h"

#include <QFileInfo>
#include <QImageReader>
#include <QMimeData>
#include <QUrl>

#include "image_file_check.h"

namespace ipsui {

LoadedImage loadImageFile(const QString& path) {
    LoadedImage loaded;
    loaded.path = path;
    const ImageFileCheck check = checkImageFile(path);
    if (!check.ok) {
        loaded.error = check.message;
        return loaded;
    }
    QImageReader reader(path);
    reader.setDecideFormatFromContent(true);
    reader.setAutoTransform(true);  // EXIF orientation, as the engine reads it
    QImage image = reader.read();
    if (image.isNull()) {
        loaded.error = QStringLiteral("%1: cannot decode the %2 image (%3); the file may be truncated or corrupt")
                           .arg(QFileInfo(path).fileName(), check.format, reader.errorString());
        return loaded;
    }
    loaded.image = std::move(image);
    return loaded;
}

QList<LoadedImage> imagesFromMime(const QMimeData* mime, bool allowEmbeddings) {
    QList<LoadedImage> out;
    if (!mime) return out;
    bool sawLocal = false;
    for (const QUrl& url : mime->urls()) {
        if (!url.isLocalFile()) continue;
        sawLocal = true;
        const QString path = url.toLocalFile();
        if (allowEmbeddings && path.endsWith(QStringLiteral(".safetensors"), Qt::CaseInsensitive)) {
            LoadedImage embedding;
            embedding.path = path;
            embedding.isEmbedding = true;
            if (!QFileInfo(path).isFile()) embedding.error = QStringLiteral("%1: file not found").arg(path);
            out.append(embedding);
            continue;
        }
        out.append(loadImageFile(path));
    }
    if (sawLocal) return out;
    if (mime->hasImage()) {
        LoadedImage pasted;
        pasted.image = qvariant_cast<QImage>(mime->imageData());
        if (pasted.image.isNull()) pasted.error = QStringLiteral("the dropped picture could not be read");
        else if (pasted.image.width() > kMaxImageSide || pasted.image.height() > kMaxImageSide)
            pasted.error = QStringLiteral("the pasted picture is %1x%2, larger than the %3x%3 limit")
                               .arg(pasted.image.width())
                               .arg(pasted.image.height())
                               .arg(kMaxImageSide);
        if (!pasted.ok()) pasted.image = QImage();
        out.append(pasted);
        return out;
    }
    for (const QUrl& url : mime->urls()) {
        LoadedImage remote;
        remote.error = QStringLiteral("%1: only local files can be used; save the picture first").arg(url.toString());
        out.append(remote);
    }
    if (out.isEmpty() && mime->hasText())
        out.append(LoadedImage{{}, {}, QStringLiteral("the dropped text is not an image"), false});
    return out;
}

}  // namespace ipsui
