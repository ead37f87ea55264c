#pragma once
// The pictures of the work in progress, each stored once under its content's SHA-256 so the autosaved
// session and the undo steps refer to them by name. A file keeps its own bytes (a JPEG stays a JPEG);
// a picture held only in memory (pasted, painted: masks, regions, sketches) is stored as PNG.
// An entry remembers the original file too, so a restore shows the file's own name while it is unchanged
// and falls back to the stored copy when it moved or changed.
#include <QHash>
#include <QImage>
#include <QJsonObject>
#include <QSet>
#include <QString>

#include "image_loader.h"

namespace ipsui {

class PictureStore {
public:
    explicit PictureStore(QString folder);
    const QString& folder() const { return folder_; }

    // An entry for a picture the user brought: {"picture": "<sha256>.<ext>", "path", "size", "modified"}.
    // Nothing is stored for an empty picture (the entry is empty). Throws nothing: a write that fails
    // sets `error` and returns an empty entry.
    QJsonObject put(const LoadedImage& picture, QString* error);
    // An entry for a painted picture: {"picture": "<sha256>.png"}. Grayscale stays grayscale.
    QJsonObject putImage(const QImage& image, QString* error);

    // The picture an entry stands for: the original file when it is still the same (same size and time),
    // else the stored copy as a picture in memory (an embedding file: the stored copy's path).
    LoadedImage take(const QJsonObject& entry) const;
    QImage image(const QJsonObject& entry) const;  // a painted picture; null when missing or unreadable

    // Every stored name a state refers to (its "picture" values, at any depth).
    static void collectNames(const QJsonValue& state, QSet<QString>& names);
    // Deletes the stored pictures no name in `keep` refers to, and temporary files a killed write left.
    void keepOnly(const QSet<QString>& keep) const;

private:
    QString pathOf(const QString& name) const;
    bool writeOnce(const QString& name, const QByteArray& bytes, QString* error) const;

    QString folder_;
    QHash<QString, QString> fileNames_;  // "path|size|modified" -> stored name: a file is hashed once
};

}  // namespace ipsui
