#include "work_session.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>

namespace ipsui {

namespace {
const QString kOpenMarker = QStringLiteral("open");  // present while an owner runs
}

WorkSession::WorkSession(QString folder)
    : folder_(std::move(folder)), pictures_(QDir(folder_).filePath(QStringLiteral("pictures"))) {}

WorkSession::~WorkSession() = default;

QString WorkSession::stateFile() const { return QDir(folder_).filePath(QStringLiteral("state.json")); }

bool WorkSession::claim() {
    if (owned_) return true;
    if (!QDir().mkpath(folder_)) return false;
    lock_ = std::make_unique<QLockFile>(QDir(folder_).filePath(QStringLiteral("lock")));
    // A lock left by a killed process names a dead pid: QLockFile takes it over.
    if (!lock_->tryLock(0)) {
        lock_.reset();
        return false;
    }
    owned_ = true;
    // A write killed half way leaves its temporary file; the state it was replacing is intact.
    QDir dir(folder_);
    for (const QString& name : dir.entryList({QStringLiteral("state.json.*")}, QDir::Files)) dir.remove(name);
    QFile marker(QDir(folder_).filePath(kOpenMarker));
    unexpectedEnd_ = marker.exists();
    if (marker.open(QIODevice::WriteOnly)) marker.close();
    return true;
}

std::optional<QJsonObject> WorkSession::load(QString* error, QDateTime* savedAt) const {
    QFile file(stateFile());
    if (!file.exists()) return std::nullopt;
    if (!file.open(QIODevice::ReadOnly)) {
        if (error) *error = QStringLiteral("%1: cannot be read (%2)").arg(QDir::toNativeSeparators(stateFile()), file.errorString());
        return std::nullopt;
    }
    QJsonParseError parse{};
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parse);
    if (!doc.isObject()) {
        if (error)
            *error = QStringLiteral("%1: not a saved session (%2 at byte %3)")
                         .arg(QDir::toNativeSeparators(stateFile()), parse.errorString())
                         .arg(parse.offset);
        return std::nullopt;
    }
    if (savedAt) *savedAt = QFileInfo(file).lastModified();
    return doc.object();
}

bool WorkSession::save(const QJsonObject& state, const QSet<QString>& alsoKeep, QString* error) {
    if (!owned_) return false;
    const QByteArray bytes = QJsonDocument(state).toJson(QJsonDocument::Indented);
    if (bytes == lastWritten_) return true;
    if (beforeStateWrite_) beforeStateWrite_();
    QSaveFile file(stateFile());
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
        if (error) *error = QStringLiteral("%1: the work in progress could not be saved (%2)").arg(QDir::toNativeSeparators(stateFile()), file.errorString());
        return false;
    }
    lastWritten_ = bytes;
    QSet<QString> keep = alsoKeep;
    PictureStore::collectNames(state, keep);
    pictures_.keepOnly(keep);
    return true;
}

void WorkSession::closeCleanly() {
    if (!owned_) return;
    QFile::remove(QDir(folder_).filePath(kOpenMarker));
    lock_->unlock();
    owned_ = false;
}

}  // namespace ipsui
