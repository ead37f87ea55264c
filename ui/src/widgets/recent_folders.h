#pragma once
// The last folder used for each kind of file dialog, persisted in the application settings so dialogs
// open where the user was. Pictures (references, ControlNet maps, init images, masks) share one folder,
// models another, saved results a third. Every picture dialog offers the same formats.
#include <QString>

namespace ipsui::RecentFolders {

inline const QString kPictures = QStringLiteral("pictures");
inline const QString kModels = QStringLiteral("models");
inline const QString kOutputs = QStringLiteral("outputs");

// "Images (*.png *.jpg ...)": the formats this Qt can read (GIF and WebP where their plugins are installed).
QString pictureFilter();

QString get(const QString& kind);
void remember(const QString& kind, const QString& fileOrFolder);

}  // namespace ipsui::RecentFolders
