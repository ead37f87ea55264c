#pragma once
// The library: every result ever made, as files an artist can see and keep, plus the index that makes
// them fast. Layout of the folder:
//   results/yyyy-MM/ipstudio-<time>-<seed>.png   the picture, A1111 "parameters" and the request JSON
//   inputs/<sha256>.<ext>                        the request's input pictures, once each, by content
//   trash/yyyy-MM/...                            deleted results (restorable until the trash is emptied)
//   marks.json                                   favourites and boards, by file name
//   library.sqlite                               the index (rebuilt from the above when lost or damaged)
//   thumbnails/                                  small previews, re-made when missing
#include <QImage>
#include <QJsonObject>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "ips/generation.h"
#include "library_index.h"
#include "picture_store.h"

namespace ipsui {

// The PNG text chunks of a result: A1111 "parameters" and, when every input is a file, the request JSON
// (paths relative to the PNG's folder).
std::map<std::string, std::string> pngMetadata(const ips::GenerationRequest& request, quint64 seed, const QString& pngFile);

class ResultLibrary {
public:
    explicit ResultLibrary(QString folder);
    const QString& folder() const { return folder_; }

    // Opens the index, creating the folder. An index that is missing, damaged or of a newer schema is
    // rebuilt from the PNGs (a damaged one is kept aside as library.sqlite.damaged) and `notice` says so.
    // False only when the folder itself cannot be used (a read-only disk, a file in the way).
    bool open(QString* error, QString* notice = nullptr);
    bool isOpen() const { return open_; }
    LibraryIndex& index() { return *index_; }

    // Writes the result before anything calls it done: the PNG (never replacing a file) with its inputs
    // stored by content hash, then its index row. The record, or nothing and why.
    std::optional<LibraryRecord> add(const ips::GenerationRequest& request, const QImage& image, quint64 seed, QString* error);
    // Re-reads every PNG under results/ and trash/ into a fresh index. The number indexed.
    int rebuild(QString* error);
    // Copies the PNGs of `folder` (any PNG; those without metadata too) into the library. The number added.
    int importFolder(const QString& folder, QString* error);

    bool moveToTrash(LibraryRecord& record, QString* error);
    bool restoreFromTrash(LibraryRecord& record, QString* error);
    int emptyTrash(QString* error);  // deletes the trashed files for good; the number deleted
    bool setFavourite(LibraryRecord& record, bool favourite);
    bool setBoard(LibraryRecord& record, const QString& board);

    QString pathOf(const LibraryRecord& record) const;
    QString thumbnailOf(const LibraryRecord& record) const;  // where its preview is cached

    // A row from a PNG's own metadata (the request JSON, else the A1111 text, else nothing but the file).
    static LibraryRecord recordFromPng(const QString& absoluteFile, const QString& relativeFile);

private:
    ips::GenerationRequest withStoredInputs(const ips::GenerationRequest& request, QStringList* names, QString* error);
    bool moveFile(LibraryRecord& record, const QString& toTop, bool deleted, QString* error);
    void saveMark(const LibraryRecord& record);
    QJsonObject marks() const;

    QString folder_;
    std::unique_ptr<LibraryIndex> index_;
    PictureStore inputs_;
    bool open_ = false;
};

}  // namespace ipsui
