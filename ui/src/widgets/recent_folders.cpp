#include "recent_folders.h"

#include <QDir>
#include <QFileInfo>
#include <QImageReader>
#include <QSettings>
#include <QStandardPaths>

namespace ipsui::RecentFolders {

QString get(const QString& kind) {
    const QString folder = QSettings().value(QStringLiteral("folders/") + kind).toString();
    if (!folder.isEmpty() && QFileInfo(folder).isDir()) return folder;
    const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    return QFileInfo(pictures).isDir() ? pictures : QDir::homePath();
}

QString pictureFilter() {
    QStringList patterns;
    for (const char* format : {"png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"})
        if (QImageReader::supportedImageFormats().contains(format)) patterns << QStringLiteral("*.%1").arg(QLatin1String(format));
    return QStringLiteral("Images (%1)").arg(patterns.join(QLatin1Char(' ')));
}

void remember(const QString& kind, const QString& fileOrFolder) {
    const QFileInfo info(fileOrFolder);
    QSettings().setValue(QStringLiteral("folders/") + kind, info.isDir() ? info.absoluteFilePath() : info.absolutePath());
}

}  // namespace ipsui::RecentFolders
