#pragma once
// The last folder used for each kind of file dialog (references, init images, outputs, models...),
// persisted in the application settings so dialogs open where the user was.
#include <QString>

namespace ipsui::RecentFolders {

QString get(const QString& kind);
void remember(const QString& kind, const QString& fileOrFolder);

}  // namespace ipsui::RecentFolders
