#include "history_panel.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QScrollBar>
#include <QShortcut>
#include <QTimer>
#include <QMimeData>
#include <QPushButton>
#include <QUrl>

#include "ips/errors.h"
#include "ips/png_file.h"
#include "ips/request_json.h"
#include "qt_convert.h"
#include "recent_folders.h"

namespace ipsui {

QStringList HistoryList::mimeTypes() const { return {QStringLiteral("text/uri-list"), QStringLiteral("application/x-qt-image")}; }

QMimeData* HistoryList::mimeData(const QList<QListWidgetItem*>& items) const {
    auto* mime = new QMimeData;
    QList<QUrl> urls;
    for (QListWidgetItem* item : items) {
        const HistoryEntry* e = entryAt ? entryAt(item->data(Qt::UserRole).toInt()) : nullptr;
        if (!e) continue;
        if (!e->cachedPng.isEmpty()) urls << QUrl::fromLocalFile(e->cachedPng);
        if (!mime->hasImage()) mime->setImageData(e->image.isNull() ? QImage(e->cachedPng) : e->image);
    }
    mime->setUrls(urls);
    return mime;
}

HistoryPanel::HistoryPanel(QString cacheFolder, QWidget* parent) : QWidget(parent), cacheFolder_(std::move(cacheFolder)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    pruneCache();
    // Search and view: shown once there is a library to search (setLibrary).
    auto* filterRow = new QHBoxLayout;
    search_ = new QLineEdit;
    search_->setPlaceholderText(tr("Search prompts"));
    search_->setClearButtonEnabled(true);
    search_->setToolTip(tr("Words of the prompt or negative prompt, and filters:\nmodel:name  adapter:name  board:name  is:favourite  "
                           "since:2026-11-01  until:2026-12-01"));
    view_ = new QComboBox;
    view_->setToolTip(tr("Which results: all, favourites, a board, or the trash"));
    // A fixed width of about 16 characters, whatever the board names: the search field keeps its room.
    view_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    view_->setMinimumContentsLength(16);
    connect(view_, &QComboBox::currentIndexChanged, this, [this] {
        view_->setToolTip(tr("Which results: all, favourites, a board, or the trash\nShowing: %1").arg(view_->currentText()));
    });
    countLabel_ = new QLabel;
    filterRow->addWidget(search_, 1);
    filterRow->addWidget(view_);
    layout->addLayout(filterRow);
    layout->addWidget(countLabel_);
    for (QWidget* w : std::initializer_list<QWidget*>{search_, view_, countLabel_}) w->setVisible(false);
    searchDelay_ = new QTimer(this);
    searchDelay_->setSingleShot(true);
    searchDelay_->setInterval(250);  // typing a word runs one query, not one per key
    connect(search_, &QLineEdit::textChanged, searchDelay_, qOverload<>(&QTimer::start));
    connect(searchDelay_, &QTimer::timeout, this, &HistoryPanel::reload);
    connect(view_, &QComboBox::activated, this, &HistoryPanel::reload);
    list_ = new HistoryList;
    list_->entryAt = [this](int i) { return i >= 0 && i < count() ? &entries_[static_cast<std::size_t>(i)] : nullptr; };
    list_->setViewMode(QListView::IconMode);
    list_->setIconSize({96, 96});
    list_->setGridSize({108, 112});
    list_->setResizeMode(QListView::Adjust);
    list_->setMovement(QListView::Static);
    list_->setDragEnabled(true);
    list_->setDragDropMode(QAbstractItemView::DragOnly);
    list_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    list_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(list_, &QWidget::customContextMenuRequested, this, &HistoryPanel::showContextMenu);
    // Infinite scroll: the next page is read when the end comes near.
    connect(list_->verticalScrollBar(), &QScrollBar::valueChanged, this, [this](int value) {
        if (moreRows_ && value >= list_->verticalScrollBar()->maximum() - 2 * list_->gridSize().height()) loadMore();
    });
    auto* trashKey = new QShortcut(QKeySequence::Delete, list_, nullptr, nullptr, Qt::WidgetShortcut);
    connect(trashKey, &QShortcut::activated, this, &HistoryPanel::trashSelection);
    list_->setToolTip(tr("Click to show a result; double-click (or Restore) to bring back everything that made it. "
                         "Drag it out to save or reuse it"));
    layout->addWidget(list_, 1);

    // Two rows of two: the right column stays narrow enough for a 1280-pixel-wide window.
    auto* buttons = new QGridLayout;
    save_ = new QPushButton(tr("Save\u2026"));
    // Restoring replaces what is in the window: an explicit choice (undoable with Ctrl+Z), never a click.
    auto* restore = new QPushButton(tr("Restore"));
    auto* restoreMenu = new QMenu(restore);
    QAction* restoreSettings = restoreMenu->addAction(tr("Settings and prompts (keep my pictures)"));
    QAction* restoreAll = restoreMenu->addAction(tr("Everything, pictures too"));
    restore->setMenu(restoreMenu);
    auto* asReference = new QPushButton(tr("As reference"));
    auto* asInit = new QPushButton(tr("As init image"));
    buttons->addWidget(save_, 0, 0);
    buttons->addWidget(restore, 0, 1);
    buttons->addWidget(asReference, 1, 0);
    buttons->addWidget(asInit, 1, 1);
    layout->addLayout(buttons);

    connect(save_, &QPushButton::clicked, this, &HistoryPanel::saveCurrent);
    connect(restoreSettings, &QAction::triggered, this, [this] {
        if (currentIndex() >= 0) Q_EMIT restoreRequested(currentIndex(), false);
    });
    connect(restoreAll, &QAction::triggered, this, [this] {
        if (currentIndex() >= 0) Q_EMIT restoreRequested(currentIndex(), true);
    });
    // A click (or the arrow keys) only shows a result; a double-click brings back everything that made it.
    connect(list_, &QListWidget::itemDoubleClicked, this, [this](QListWidgetItem* item) {
        Q_EMIT restoreRequested(item->data(Qt::UserRole).toInt(), true);
    });
    connect(list_, &QListWidget::currentRowChanged, this, [this](int) {
        if (currentIndex() >= 0) Q_EMIT shown(currentIndex());
    });
    connect(asReference, &QPushButton::clicked, this, [this] {
        if (currentIndex() >= 0) Q_EMIT useAsReference(entry(currentIndex()).cachedPng, image(currentIndex()));
    });
    connect(asInit, &QPushButton::clicked, this, [this] {
        if (currentIndex() >= 0) Q_EMIT useAsInit(entry(currentIndex()).cachedPng, image(currentIndex()));
    });
}

void HistoryPanel::pruneCache() const {
    // Copies exist for dragging out during a session; a week later nobody drags them any more.
    const QDateTime cutoff = QDateTime::currentDateTime().addDays(-7);
    for (const QFileInfo& f : QDir(cacheFolder_).entryInfoList({QStringLiteral("ipstudio-*.png")}, QDir::Files))
        if (f.lastModified() < cutoff) QFile::remove(f.absoluteFilePath());
}

QImage HistoryPanel::image(int index) const {
    const HistoryEntry& e = entry(index);
    return e.image.isNull() ? QImage(e.cachedPng) : e.image;
}

int HistoryPanel::currentIndex() const {
    QListWidgetItem* item = list_->currentItem();
    return item ? item->data(Qt::UserRole).toInt() : -1;
}

void HistoryPanel::select(int index) {
    for (int row = 0; row < list_->count(); ++row)
        if (list_->item(row)->data(Qt::UserRole).toInt() == index) list_->setCurrentRow(row);
}

void HistoryPanel::keepCacheCopy(HistoryEntry& e, int imageIndex) {
    // The cached copy is what drags hand out; a failure only disables dragging the file.
    // Named by time and seed so no other session's copy is ever replaced.
    QDir().mkpath(cacheFolder_);
    const QString file = QDir(cacheFolder_).filePath(QStringLiteral("ipstudio-%1-%2-%3.png")
                                                         .arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")))
                                                         .arg(e.seed)
                                                         .arg(imageIndex));
    try {
        ips::write_png(toFsPath(file), toIpsImage(e.image), pngMetadata(e.request, e.seed, file), false);
        e.cachedPng = file;
    } catch (const ips::Error& err) {
        Q_EMIT problem(tr("Could not keep a copy of the result for dragging: %1").arg(QString::fromStdString(err.what())));
    }
}

void HistoryPanel::writeToLibrary(HistoryEntry& e) {
    QString error;
    e.record = library_->add(e.request, e.image, e.seed, &error);
    if (e.record) {
        e.cachedPng = library_->pathOf(*e.record);
        ++loadedRows_;  // one more row newer than the loaded ones: the next page starts one later
        ++matching_;
    }
    if (!error.isEmpty())
        Q_EMIT problem(e.record ? error
                                : tr("The result could not be written to the library (%1). It stays in this window until you close it: "
                                     "use Save\u2026 to keep it.").arg(error));
}

void HistoryPanel::add(const GenerationOutcome& outcome) {
    // A new result shows in the full list: a search or the trash view would hide it.
    if (library_ && !viewIsEverything()) resetView();
    for (int i = 0; i < outcome.images.size(); ++i) {
        HistoryEntry e;
        e.request = outcome.request;
        e.image = outcome.images[i];
        e.seed = outcome.seed;
        e.seconds = outcome.seconds;
        if (library_ && library_->isOpen()) writeToLibrary(e);
        if (!e.record) keepCacheCopy(e, i);
        entries_.push_back(std::move(e));
        // Bound memory: only the newest pictures stay decoded; older ones come back from their PNG.
        constexpr int kDecodedEntries = 64;
        if (count() > kDecodedEntries) {
            HistoryEntry& old = entries_[static_cast<std::size_t>(count() - kDecodedEntries - 1)];
            if (!old.cachedPng.isEmpty()) old.image = QImage();
        }
        list_->insertItem(0, makeItem(count() - 1));  // newest first
    }
    updateCountLabel();
    if (!outcome.images.isEmpty()) select(count() - 1);  // the newest, at the top of the list
}

QString HistoryPanel::save(int index, const QString& file, bool overwrite) const {
    if (index < 0 || index >= count()) return tr("no result selected");
    const HistoryEntry& e = entry(index);
    try {
        ips::write_png(toFsPath(file), toIpsImage(image(index)), pngMetadata(e.request, e.seed, file), overwrite);
    } catch (const ips::Error& err) {
        return QString::fromStdString(err.what());
    }
    return {};
}

void HistoryPanel::saveCurrent() {
    const int index = currentIndex();
    if (index < 0) {
        Q_EMIT problem(tr("Nothing to save yet: generate a picture first"));
        return;
    }
    const QString suggested = QDir(RecentFolders::get(RecentFolders::kOutputs)).filePath(QStringLiteral("ipstudio-%1.png").arg(entry(index).seed));
    // The dialog adds the suffix itself, so its "replace?" question is about the file actually written;
    // only then is overwriting allowed.
    QFileDialog dialog(this, tr("Save result"), suggested, tr("PNG image (*.png)"));
    dialog.setAcceptMode(QFileDialog::AcceptSave);
    dialog.setDefaultSuffix(QStringLiteral("png"));
    dialog.selectFile(suggested);
    if (dialog.exec() != QDialog::Accepted || dialog.selectedFiles().isEmpty()) return;
    const QString file = dialog.selectedFiles().first();
    RecentFolders::remember(RecentFolders::kOutputs, file);
    const QString error = save(index, file, true);
    if (error.isEmpty()) Q_EMIT saved(file);
    else Q_EMIT problem(error);
}

}  // namespace ipsui
