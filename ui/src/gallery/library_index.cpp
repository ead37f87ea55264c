#include "library_index.h"

#include <QAtomicInteger>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QVariant>

namespace ipsui {

namespace {

const char* const kColumns =
    "id, file, created, prompt, negative, seed, sampler, model, steps, width, height, guidance, adapters, refs, request, "
    "favourite, board, deleted";

LibraryRecord recordFrom(const QSqlQuery& q) {
    LibraryRecord r;
    r.id = q.value(0).toLongLong();
    r.file = q.value(1).toString();
    r.created = q.value(2).toLongLong();
    r.prompt = q.value(3).toString();
    r.negative = q.value(4).toString();
    r.seed = q.value(5).toString();
    r.sampler = q.value(6).toString();
    r.model = q.value(7).toString();
    r.steps = q.value(8).toInt();
    r.width = q.value(9).toInt();
    r.height = q.value(10).toInt();
    r.guidance = q.value(11).toDouble();
    r.adapters = q.value(12).toString();
    r.references = q.value(13).toString();
    r.request = q.value(14).toString();
    r.favourite = q.value(15).toBool();
    r.board = q.value(16).toString();
    r.deleted = q.value(17).toBool();
    return r;
}

// A LIKE pattern matching `text` anywhere, with the wildcards in it taken literally.
QString containing(const QString& text) {
    QString escaped = text;
    escaped.replace(QLatin1Char('\\'), QStringLiteral("\\\\")).replace(QLatin1Char('%'), QStringLiteral("\\%")).replace(QLatin1Char('_'), QStringLiteral("\\_"));
    return QLatin1Char('%') + escaped + QLatin1Char('%');
}

struct Where {
    QString sql;
    QVariantList values;
};

Where whereFor(const LibraryFilter& f) {
    QStringList parts{QStringLiteral("deleted = ?")};
    QVariantList values{f.trash ? 1 : 0};
    if (!f.text.isEmpty()) {
        parts << QStringLiteral("(prompt LIKE ? ESCAPE '\\' OR negative LIKE ? ESCAPE '\\')");
        values << containing(f.text) << containing(f.text);
    }
    if (f.favouritesOnly) parts << QStringLiteral("favourite = 1");
    if (f.board) {
        parts << QStringLiteral("board = ?");
        values << *f.board;
    }
    if (!f.model.isEmpty()) {
        parts << QStringLiteral("model LIKE ? ESCAPE '\\'");
        values << containing(f.model);
    }
    if (!f.adapter.isEmpty()) {
        parts << QStringLiteral("adapters LIKE ? ESCAPE '\\'");
        values << containing(f.adapter);
    }
    if (f.since.isValid()) {
        parts << QStringLiteral("created >= ?");
        values << f.since.toMSecsSinceEpoch();
    }
    if (f.until.isValid()) {
        parts << QStringLiteral("created < ?");
        values << f.until.toMSecsSinceEpoch();
    }
    return {QStringLiteral(" WHERE ") + parts.join(QStringLiteral(" AND ")), values};
}

}  // namespace

LibraryFilter LibraryFilter::parse(const QString& search) {
    LibraryFilter f;
    QStringList words;
    static const QRegularExpression token(QStringLiteral("(\\w+):(\"[^\"]*\"|\\S+)|(\\S+)"));
    for (auto it = token.globalMatch(search); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        if (m.captured(3).size()) {
            words << m.captured(3);
            continue;
        }
        const QString key = m.captured(1).toLower();
        QString value = m.captured(2);
        if (value.startsWith(QLatin1Char('"'))) value = value.mid(1, value.size() - 2);
        if (key == QLatin1String("model")) f.model = value;
        else if (key == QLatin1String("adapter")) f.adapter = value;
        else if (key == QLatin1String("board")) f.board = value;
        else if (key == QLatin1String("is") && value == QLatin1String("favourite")) f.favouritesOnly = true;
        else if (key == QLatin1String("since")) f.since = QDateTime(QDate::fromString(value, Qt::ISODate), QTime(0, 0));
        else if (key == QLatin1String("until")) f.until = QDateTime(QDate::fromString(value, Qt::ISODate).addDays(1), QTime(0, 0));
        else words << m.captured(0);  // not a filter: part of the prompt text ("a:b" in a prompt)
    }
    f.text = words.join(QLatin1Char(' '));
    return f;
}

LibraryIndex::LibraryIndex(QString databaseFile) : file_(std::move(databaseFile)) {
    static QAtomicInteger<int> serial;
    connection_ = QStringLiteral("ipstudio-library-%1").arg(serial.fetchAndAddRelaxed(1));
}

LibraryIndex::~LibraryIndex() { close(); }

void LibraryIndex::close() {
    if (!QSqlDatabase::contains(connection_)) return;
    QSqlDatabase::database(connection_, false).close();
    QSqlDatabase::removeDatabase(connection_);
}

bool LibraryIndex::open(QString* error) {
    close();
    error->clear();
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE"))) {
        *error = QStringLiteral("Qt's SQLite driver is not installed (Debian package libqt6sql6-sqlite)");
        return false;
    }
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection_);
        db.setDatabaseName(file_);
        if (!db.open()) {
            *error = QStringLiteral("%1: %2").arg(file_, db.lastError().text());
            return false;
        }
        QSqlQuery check(db);
        // A file that is not SQLite only shows it at the first statement.
        if (!check.exec(QStringLiteral("PRAGMA quick_check")) || !check.next() || check.value(0).toString() != QLatin1String("ok"))
            *error = QStringLiteral("%1: damaged (%2)").arg(file_, check.lastError().isValid() ? check.lastError().text() : check.value(0).toString());
        else {
            QSqlQuery pragmas(db);
            pragmas.exec(QStringLiteral("PRAGMA journal_mode = WAL"));  // a crash mid-write never damages it
            pragmas.exec(QStringLiteral("PRAGMA synchronous = NORMAL"));
        }
    }
    if (!error->isEmpty() || !migrate(error)) {
        close();
        return false;
    }
    return true;
}

bool LibraryIndex::migrate(QString* error) {
    QSqlDatabase db = QSqlDatabase::database(connection_);
    QSqlQuery q(db);
    q.exec(QStringLiteral("PRAGMA user_version"));
    const int version = q.next() ? q.value(0).toInt() : 0;
    if (version > kSchema) {
        *error = QStringLiteral("%1: made by a newer IP Studio (index schema %2, this one knows %3)").arg(file_).arg(version).arg(kSchema);
        return false;
    }
    // Each step takes schema N to N+1; a future schema 2 adds its step here, and old indexes follow.
    if (version < 1) {
        const QStringList create{
            QStringLiteral("CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, file TEXT UNIQUE NOT NULL, created INTEGER NOT NULL, "
                           "prompt TEXT, negative TEXT, seed TEXT, sampler TEXT, model TEXT, steps INTEGER, width INTEGER, height INTEGER, "
                           "guidance REAL, adapters TEXT, refs TEXT, request TEXT, favourite INTEGER NOT NULL DEFAULT 0, "
                           "board TEXT NOT NULL DEFAULT '', deleted INTEGER NOT NULL DEFAULT 0)"),
            QStringLiteral("CREATE INDEX IF NOT EXISTS results_by_time ON results (deleted, created DESC, id DESC)"),
            QStringLiteral("PRAGMA user_version = 1"),
        };
        for (const QString& statement : create)
            if (!q.exec(statement)) {
                *error = QStringLiteral("%1: %2").arg(file_, q.lastError().text());
                return false;
            }
    }
    return true;
}

bool LibraryIndex::insert(LibraryRecord& r, QString* error) {
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO results (file, created, prompt, negative, seed, sampler, model, steps, width, height, "
                             "guidance, adapters, refs, request, favourite, board, deleted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    for (const QVariant& v : QVariantList{r.file, r.created, r.prompt, r.negative, r.seed, r.sampler, r.model, r.steps, r.width, r.height,
                                          r.guidance, r.adapters, r.references, r.request, r.favourite ? 1 : 0, r.board, r.deleted ? 1 : 0})
        q.addBindValue(v);
    if (!q.exec()) {
        if (error) *error = QStringLiteral("%1: %2").arg(file_, q.lastError().text());
        return false;
    }
    r.id = q.lastInsertId().toLongLong();
    return true;
}

QList<LibraryRecord> LibraryIndex::query(const LibraryFilter& filter, int offset, int limit) const {
    const Where where = whereFor(filter);
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("SELECT %1 FROM results%2 ORDER BY created DESC, id DESC LIMIT ? OFFSET ?").arg(QLatin1String(kColumns), where.sql));
    for (const QVariant& v : where.values) q.addBindValue(v);
    q.addBindValue(limit);
    q.addBindValue(offset);
    QList<LibraryRecord> out;
    if (!q.exec()) return out;
    while (q.next()) out << recordFrom(q);
    return out;
}

int LibraryIndex::count(const LibraryFilter& filter) const {
    const Where where = whereFor(filter);
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("SELECT COUNT(*) FROM results") + where.sql);
    for (const QVariant& v : where.values) q.addBindValue(v);
    return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

std::optional<LibraryRecord> LibraryIndex::byFile(const QString& file) const {
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("SELECT %1 FROM results WHERE file = ?").arg(QLatin1String(kColumns)));
    q.addBindValue(file);
    if (q.exec() && q.next()) return recordFrom(q);
    return std::nullopt;
}

bool LibraryIndex::setFavourite(qint64 id, bool favourite) {
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("UPDATE results SET favourite = ? WHERE id = ?"));
    q.addBindValue(favourite ? 1 : 0);
    q.addBindValue(id);
    return q.exec();
}

bool LibraryIndex::setBoard(qint64 id, const QString& board) {
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("UPDATE results SET board = ? WHERE id = ?"));
    q.addBindValue(board);
    q.addBindValue(id);
    return q.exec();
}

bool LibraryIndex::setDeleted(qint64 id, bool deleted, const QString& newFile) {
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("UPDATE results SET deleted = ?, file = ? WHERE id = ?"));
    q.addBindValue(deleted ? 1 : 0);
    q.addBindValue(newFile);
    q.addBindValue(id);
    return q.exec();
}

bool LibraryIndex::remove(qint64 id) {
    QSqlQuery q(QSqlDatabase::database(connection_));
    q.prepare(QStringLiteral("DELETE FROM results WHERE id = ?"));
    q.addBindValue(id);
    return q.exec();
}

QStringList LibraryIndex::boards() const {
    QSqlQuery q(QSqlDatabase::database(connection_));
    QStringList out;
    if (q.exec(QStringLiteral("SELECT DISTINCT board FROM results WHERE board != '' ORDER BY board")))
        while (q.next()) out << q.value(0).toString();
    return out;
}

bool LibraryIndex::begin() { return QSqlDatabase::database(connection_).transaction(); }
bool LibraryIndex::commit() { return QSqlDatabase::database(connection_).commit(); }

}  // namespace ipsui
