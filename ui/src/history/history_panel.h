#pragma once
// The gallery: every result with the request that made it. With a library (ResultLibrary) it holds every
// result ever made, newest first, loaded page by page as the list scrolls, with thumbnails decoded off the
// UI thread; search, favourites, boards and a trash (history_library.cpp). Without one, the session's
// results only. A click shows a result, a double-click or Restore brings it back; results drag out as PNG
// files (with metadata) to a file manager or back onto the window as a reference or init image; Save
// writes a PNG and never replaces a file without asking.
#include <QImage>
#include <QListWidget>
#include <QWidget>
#include <map>
#include <optional>
#include <string>

#include "generation_worker.h"
#include "result_library.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTimer;

namespace ipsui {

struct HistoryEntry {
    ips::GenerationRequest request;  // as run, seed included
    QImage image;  // null once the entry is old (see HistoryPanel::image)
    quint64 seed = 0;
    double seconds = 0;
    QString cachedPng;  // the PNG in the library (else a copy in the cache folder): what a drag hands out
    std::optional<LibraryRecord> record;  // its row in the library, when it was written there
};


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

    // Shows the library's results and writes every new result into it first (nothing is called done before
    // its PNG is on disk). Null: the session's results only.
    void setLibrary(ResultLibrary* library);
    ResultLibrary* library() const { return library_; }
    // Re-reads the library with the search box and view (all / favourites / trash / a board).
    void reload();
    int matchingCount() const { return matching_; }  // results of the current search and view, loaded or not
    QLineEdit* searchBox() const { return search_; }
    QComboBox* viewBox() const { return view_; }
    // What the context menu does to the selected results.
    void setSelectionFavourite(bool favourite);
    void setSelectionBoard(const QString& board);  // empty: no board
    void trashSelection();
    void restoreSelectionFromTrash();
    int emptyTrash();  // asks nothing (the menu asks); the number deleted
    QList<int> selectedIndexes() const;

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
    QListWidgetItem* makeItem(int index);
    void keepCacheCopy(HistoryEntry& entry, int imageIndex);
    void writeToLibrary(HistoryEntry& entry);
    void resetView();  // back to every result, no search
    void updateCountLabel();
    void loadMore();
    HistoryEntry entryFrom(const LibraryRecord& record) const;
    LibraryFilter currentFilter() const;
    void refreshViews();
    void showContextMenu(const QPoint& at);
    void requestThumbnail(QListWidgetItem* item, const HistoryEntry& entry);
    bool viewIsEverything() const;

    QString cacheFolder_;
    std::vector<HistoryEntry> entries_;
    HistoryList* list_;
    QPushButton* save_;
    ResultLibrary* library_ = nullptr;
    QLineEdit* search_;
    QComboBox* view_;
    QLabel* countLabel_;
    QTimer* searchDelay_;
    int loadedRows_ = 0;   // library rows of the current filter in the list
    int matching_ = 0;
    bool moreRows_ = false;
    quint64 generation_ = 0;  // bumped by reload(): thumbnails for an older list are dropped
    QHash<QString, QListWidgetItem*> waitingThumbnails_;
};

}  // namespace ipsui
