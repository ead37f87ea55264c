#include "recent_folders.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

namespace ipsui::RecentFolders {

QString get(const QString& kind) {
    const QString folder = QSettings().value(QStringLiteral("folders/") + kind).toString();
    if (!folder.isEmpty() && QFileInfo(folder).isDir()) return folder;
    const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    return QFileInfo(pictures).isDir() ? pictures : QDir::homePath();
}

void remember(const QString& kind, const QString& fileOrFolder) {
    const QFileInfo info(fileOrFolder);
    QSettings().setValue(QStringLiteral("folders/") + kind, info.isDir() ? info.absoluteFilePath() : info.absolutePath());
}

}  // namespace ipsui::RecentFolders
