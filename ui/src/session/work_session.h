#pragma once
// The work in progress on disk, so a crash, a power cut or `kill -9` loses nothing: state.json (replaced
// atomically, so it is always either the previous or the new state, never half of one) and pictures/
// (stored once by content hash). One IP Studio at a time owns the folder (a lock file); a marker says
// whether the last owner closed cleanly, so the next start can tell the artist their work was rescued.
#include <QDateTime>
#include <QJsonObject>
#include <QLockFile>
#include <functional>
#include <memory>
#include <optional>

#include "picture_store.h"

namespace ipsui {

class WorkSession {
public:
    explicit WorkSession(QString folder);
    ~WorkSession();

    // Takes the folder for this process. False when another running IP Studio has it: this one then
    // restores nothing and saves nothing (it would overwrite the other's work).
    bool claim();
    bool owned() const { return owned_; }
    // The last owner ended without closing (crash, kill, power loss). Known after claim().
    bool lastRunEndedUnexpectedly() const { return unexpectedEnd_; }

    PictureStore& pictures() { return pictures_; }
    const QString& folder() const { return folder_; }
    QString stateFile() const;

    // The last saved state and when it was saved; nothing when there is none. A damaged file sets `error`.
    std::optional<QJsonObject> load(QString* error, QDateTime* savedAt = nullptr) const;
    // Replaces state.json atomically when `state` differs from what is there, then deletes pictures neither
    // it nor `alsoKeep` (the undo steps) refers to. False with `error` when the disk refuses.
    bool save(const QJsonObject& state, const QSet<QString>& alsoKeep, QString* error);
    // Called on a clean close: the next start is not told about a crash.
    void closeCleanly();

    // Tests only: runs between writing the pictures and replacing state.json (a kill point).
    void setBeforeStateWriteHook(std::function<void()> hook) { beforeStateWrite_ = std::move(hook); }

private:
    QString folder_;
    PictureStore pictures_;
    std::unique_ptr<QLockFile> lock_;
    bool owned_ = false;
    bool unexpectedEnd_ = false;
    QByteArray lastWritten_;
    std::function<void()> beforeStateWrite_;
};

}  // namespace ipsui
