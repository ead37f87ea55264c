#pragma once
// The LoRA panel: the LoRAs found in the model folders (searchable by name; another base's are greyed with
// the reason), "Add file…", and the list in use, one LoraRow each. It gives the request's `loras` (rows
// that are on and usable, in order) and keeps the whole list (path, weight, on/off) for presets and
// sessions. Finding files runs on a short-lived thread: a big models folder never stalls the window.
#include <QHash>
#include <QList>
#include <QWidget>
#include <optional>
#include <vector>

#include "ips/generation.h"
#include "lora_library.h"

class QLabel;
class QLineEdit;
class QListView;
class QPlainTextEdit;
class QSortFilterProxyModel;
class QStandardItemModel;
class QVBoxLayout;

namespace ipsui {

class LoraRow;

// Inserts a trigger word at the prompt's cursor, with ", " between it and the words around it.
void insertTriggerWord(QPlainTextEdit* prompt, const QString& word);

class LoraPanel : public QWidget {
    Q_OBJECT
public:
    explicit LoraPanel(QWidget* parent = nullptr);

    // Where LoRAs are looked for: the installations above these model files, the folders LoRAs were added
    // from (remembered across sessions) and `extraFolders`. Starts a new search.
    void setSearchPaths(const QStringList& modelPaths, const QStringList& extraFolders = {});
    void rescan();
    bool scanning() const { return scanning_; }
    int libraryCount() const;  // LoRAs found (before the search filter)

    // Adds a row for the file (or turns its row on); refuses, with `problem`, files that are not LoRAs.
    bool addLora(const QString& path);
    void chooseFile();  // the Add file… dialog
    // The request's LoRAs: rows that are on and usable.
    std::vector<ips::LoraSettings> activeLoras() const;
    // The rows that are not sent (off, missing, another base): what a preset keeps beside its request.
    std::vector<ips::LoraSettings> idleLoras() const;
    // Every row, on or off, missing included.
    QList<LoraEntry> entries() const;
    // Replaces the rows; returns the names of files that are missing (shown, never sent). An entry may name
    // its file alone (the built-in presets name the catalog's speed LoRAs so): see locate().
    QStringList setEntries(const QList<LoraEntry>& entries);
    // A bare file name: the file of that name in the first LoRA folder holding one; anything else unchanged.
    QString locate(const QString& path) const;
    // The paths of the rows whose file is missing.
    QStringList missingFiles() const;
    void clearLoras() { setEntries({}); }
    // Puts back the last removed row where it was (once).
    bool undoRemove();

    int rowCount() const;
    LoraRow* row(int index) const;
    QLineEdit* searchBox() const { return search_; }
    QListView* libraryView() const { return libraryView_; }
    QSortFilterProxyModel* libraryModel() const { return filtered_; }

Q_SIGNALS:
    void changed();
    void problem(QString message);
    void removed(QString name);  // a row was removed (undoRemove puts it back)
    void triggerWordClicked(QString word);
    void scanFinished();

private:
    LoraRow* makeRow(const LoraFile& file, const LoraEntry& entry, int index = -1);
    LoraFile describe(const QString& path) const;  // from the last scan when it saw the file
    void showLibrary(const QList<LoraFile>& found);
    void updateHints();

    QStringList modelPaths_, extraFolders_;
    QHash<QString, LoraFile> known_;
    bool scanning_ = false;
    int scanGeneration_ = 0;
    std::optional<std::pair<int, LoraEntry>> lastRemoved_;
    QLineEdit* search_;
    QStandardItemModel* library_;
    QSortFilterProxyModel* filtered_;
    QListView* libraryView_;
    QLabel* libraryHint_;
    QVBoxLayout* rows_;
    QLabel* emptyHint_;
};

}  // namespace ipsui
