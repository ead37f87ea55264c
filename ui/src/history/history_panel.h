#pragma once
// Every result of the session with the request that made it. Clicking one restores its parameters;
// results drag out as PNG files (with metadata) to a file manager or back onto the window as a
// reference or init image; Save writes a PNG and never replaces a file without asking.
#include <QImage>
#include <QListWidget>
#include <QWidget>
#include <map>
#include <string>

#include "generation_worker.h"

class QPushButton;

namespace ipsui {

struct HistoryEntry {
    ips::GenerationRequest request;  // as run, seed included
    QImage image;  // null once the entry is old (see HistoryPanel::image)
    quint64 seed = 0;
    double seconds = 0;
    QString cachedPng;  // a PNG copy in the cache folder, what a drag hands out
};

// The PNG text chunks of a result: A1111 "parameters" and, when every input is a file, the request JSON.
std::map<std::string, std::string> pngMetadata(const ips::GenerationRequest& request, quint64 seed, const QString& pngFile);

// A list whose items drag out as files + pictures.
class HistoryList : public QListWidget {
    Q_OBJECT
public:
    using QListWidget::QListWidget;
    std::function<const HistoryEntry*(int)> entryAt;

protected:
    QMimeData* mimeData(const QList<QListWidgetItem*>& items) const override;
    // Copy only: a Move drag would make Qt remove the item (and a file manager move the cached file).
    Qt::DropActions supportedDropActions() const override { return Qt::CopyAction; }
    QStringList mimeTypes() const override;
};

class HistoryPanel : public QWidget {
    Q_OBJECT
public:
    explicit HistoryPanel(QString cacheFolder, QWidget* parent = nullptr);

    void add(const GenerationOutcome& outcome);  // one entry per picture
    int count() const { return static_cast<int>(entries_.size()); }
    const HistoryEntry& entry(int index) const { return entries_.at(static_cast<std::size_t>(index)); }
    // The full picture: kept in memory for the newest results, read back from the cached PNG for older ones.
    QImage image(int index) const;
    int currentIndex() const;
    void select(int index);
    HistoryList* list() const { return list_; }

    // Asks where (the dialog confirms replacing), then writes atomically.
    void saveCurrent();
    // Writes `index` to `file`; refuses an existing file unless `overwrite`. Empty on success, else why.
    QString save(int index, const QString& file, bool overwrite) const;

Q_SIGNALS:
    void restoreRequested(int index, bool withPictures);
    void shown(int index);  // the selection changed: show this result
    void useAsReference(QString pngFile, QImage image);
    void useAsInit(QString pngFile, QImage image);
    void problem(QString message);
    void saved(QString file);

private:
    void pruneCache() const;

    QString cacheFolder_;
    std::vector<HistoryEntry> entries_;
    HistoryList* list_;
    QPushButton* save_;
};

}  // namespace ipsui
