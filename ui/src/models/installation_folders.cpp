#include "installation_folders.h"

#include <QDir>
#include <QFileInfo>

#include "ips/model_discovery.h"
#include "qt_convert.h"

namespace ipsui {

namespace {
constexpr int kLevelsUp = 6;  // a model sits a few folders below its installation's root
}  // namespace

QStringList installationFolders(const QStringList& modelPaths, const QStringList& subfolders, const QStringList& extraFolders) {
    QStringList folders;
    const auto add = [&](const QString& folder) {
        const QString clean = QDir::cleanPath(QFileInfo(folder).absoluteFilePath());
        if (QFileInfo(clean).isDir() && !folders.contains(clean)) folders << clean;
    };
    for (const QString& model : modelPaths) {
        if (model.isEmpty()) continue;
        QDir dir = QFileInfo(model).absoluteDir();
        for (int level = 0; level < kLevelsUp; ++level) {
            if (ips::installation_kind(toFsPath(dir.path())) != "folder") {
                for (const QString& sub : subfolders) add(dir.filePath(sub));
                break;
            }
            if (!dir.cdUp()) break;
        }
    }
    for (const QString& folder : extraFolders) add(folder);
    return folders;
}

}  // namespace ipsui
