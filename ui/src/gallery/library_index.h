#pragma once
// The gallery's index: one row per result in a SQLite database (Qt SQL's QSQLITE driver), so thousands of
// results are searched, filtered and paged without reading their PNGs. It only makes them fast: the PNG
// files (and marks.json for favourites and boards) are the truth, and ResultLibrary rebuilds this index
// from them when it is missing, damaged or of an unknown schema.
#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>

namespace ipsui {

struct LibraryRecord {
    qint64 id = 0;
    QString file;          // relative to the library folder (results/... or trash/...)
    qint64 created = 0;    // ms since the epoch
    QString prompt, negative, seed, sampler, model;
    int steps = 0, width = 0, height = 0;
    double guidance = 0;
    QString adapters;      // IP-Adapter file names, ", "-separated
    QString references;    // input pictures by content-hash name, ", "-separated
    QString request;       // the request JSON the PNG carries (empty for a PNG without it)
    bool favourite = false;
    QString board;         // empty: none
    bool deleted = false;  // in the trash
};

struct LibraryFilter {
    QString text;     // in the prompt or the negative prompt
    bool favouritesOnly = false;
    std::optional<QString> board;
    QString model;    // part of the model's file name
    QString adapter;  // part of an adapter's file name
    QDateTime since, until;
    bool trash = false;  // the deleted results instead of the others

    // "lighthouse model:dreamshaper adapter:plus since:2026-11-01 until:2026-12-01 is:favourite board:cats"
    static LibraryFilter parse(const QString& search);
};

class LibraryIndex {
public:
    static constexpr int kSchema = 1;

    explicit LibraryIndex(QString databaseFile);
    ~LibraryIndex();
    LibraryIndex(const LibraryIndex&) = delete;
    LibraryIndex& operator=(const LibraryIndex&) = delete;

    const QString& file() const { return file_; }
    // Opens, creating the schema or migrating an older one. False (and why) when the file is not a
    // database, fails its integrity check, or was made by a newer IP Studio.
    bool open(QString* error);
    void close();

    bool insert(LibraryRecord& record, QString* error);  // sets record.id
    QList<LibraryRecord> query(const LibraryFilter& filter, int offset, int limit) const;  // newest first
    int count(const LibraryFilter& filter) const;
    std::optional<LibraryRecord> byFile(const QString& file) const;
    bool setFavourite(qint64 id, bool favourite);
    bool setBoard(qint64 id, const QString& board);
    bool setDeleted(qint64 id, bool deleted, const QString& newFile);
    bool remove(qint64 id);
    QStringList boards() const;
    // Many inserts in one transaction (a rebuild): thousands per second instead of tens.
    bool begin();
    bool commit();

private:
    bool migrate(QString* error);

    QString file_;
    QString connection_;
};

}  // namespace ipsui
