// HistoryPanel's gallery side: reading the library page by page, thumbnails made off the UI thread and
// cached on disk, the search and view, and the context menu (favourite, board, trash).
#include <QAbstractItemView>
#include <QApplication>
#include <QComboBox>
#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QImageReader>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPointer>
#include <QSaveFile>
#include <QStyle>
#include <QThreadPool>
#include <QUrl>

#include "history_panel.h"
#include "ips/errors.h"
#include "ips/request_json.h"
#include "qt_convert.h"

namespace ipsui {

namespace {

constexpr int kPage = 120;        // rows read per query: a few screens of thumbnails
constexpr int kThumbnail = 96;
const int kFileRole = Qt::UserRole + 1;

// The view box's entries: fixed views first, then one per board.
const QString kAll = QStringLiteral("all"), kFavourites = QStringLiteral("favourites"), kTrash = QStringLiteral("trash");

QImage makeThumbnail(const QString& png, const QString& cached) {
    QImage thumb(cached);
    if (!thumb.isNull()) return thumb;
    QImageReader reader(png);
    const QSize size = reader.size();
    if (size.isValid()) reader.setScaledSize(size.scaled(kThumbnail, kThumbnail, Qt::KeepAspectRatio));
    thumb = reader.read();
    if (thumb.isNull()) return thumb;
    QDir().mkpath(QFileInfo(cached).absolutePath());
    QSaveFile file(cached);
    if (file.open(QIODevice::WriteOnly) && thumb.save(&file, "PNG")) file.commit();
    return thumb;
}

}  // namespace

void HistoryPanel::setLibrary(ResultLibrary* library) {
    library_ = library;
    for (QWidget* w : std::initializer_list<QWidget*>{search_, view_, countLabel_}) w->setVisible(library_ != nullptr);
    refreshViews();
    reload();
}

bool HistoryPanel::viewIsEverything() const { return search_->text().trimmed().isEmpty() && view_->currentData().toString() == kAll; }

void HistoryPanel::resetView() {
    const QSignalBlocker blockSearch(search_), blockView(view_);
    search_->clear();
    view_->setCurrentIndex(0);
    reload();
}

void HistoryPanel::refreshViews() {
    const QString current = view_->currentData().toString();
    const QSignalBlocker block(view_);
    view_->clear();
    view_->addItem(tr("All results"), kAll);
    view_->addItem(tr("\u2605 Favourites"), kFavourites);
    if (library_ && library_->isOpen())
        for (const QString& board : library_->index().boards()) view_->addItem(tr("Board: %1").arg(board), QStringLiteral("board:") + board);
    view_->addItem(tr("Trash"), kTrash);
    view_->setCurrentIndex(std::max(0, view_->findData(current)));
    // The closed box stays narrow beside the search field, eliding a long board name: its list opens as wide
    // as the longest one, and every entry's tooltip is its whole name.
    // (Measured with the font, not the list's size hint: that counts only rows laid out on screen.)
    int widest = 0;
    for (int i = 0; i < view_->count(); ++i) {
        view_->setItemData(i, view_->itemText(i), Qt::ToolTipRole);
        widest = std::max(widest, view_->view()->fontMetrics().horizontalAdvance(view_->itemText(i)));
    }
    const int chrome = 2 * view_->view()->frameWidth() + view_->style()->pixelMetric(QStyle::PM_ScrollBarExtent) + 16;  // frame, scroll bar, item margins
    view_->view()->setMinimumWidth(widest + chrome);
}

LibraryFilter HistoryPanel::currentFilter() const {
    LibraryFilter f = LibraryFilter::parse(search_->text());
    const QString view = view_->currentData().toString();
    if (view == kFavourites) f.favouritesOnly = true;
    else if (view == kTrash) f.trash = true;
    else if (view.startsWith(QLatin1String("board:"))) f.board = view.mid(6);
    return f;
}

HistoryEntry HistoryPanel::entryFrom(const LibraryRecord& record) const {
    HistoryEntry e;
    e.record = record;
    e.cachedPng = library_->pathOf(record);
    e.seed = record.seed.toULongLong();
    try {
        e.request = ips::parse_request_json(record.request.toStdString(), toFsPath(QFileInfo(e.cachedPng).absolutePath()), record.file.toStdString());
    } catch (const ips::Error&) {
        // A PNG from elsewhere (A1111 text or none): what its row knows.
        e.request.prompt = record.prompt.toStdString();
        e.request.negative_prompt = record.negative.toStdString();
        if (record.steps > 0) e.request.num_inference_steps = record.steps;
        if (record.width > 0) e.request.width = record.width;
        if (record.height > 0) e.request.height = record.height;
        if (record.guidance > 0) e.request.guidance_scale = record.guidance;
        if (!record.seed.isEmpty()) e.request.seed = e.seed;
    }
    return e;
}

QListWidgetItem* HistoryPanel::makeItem(int index) {
    const HistoryEntry& e = entries_.at(std::size_t(index));
    const QString label = e.record ? QStringLiteral("%1#%2").arg(e.record->favourite ? QStringLiteral("\u2605 ") : QString()).arg(e.record->id)
                                   : QStringLiteral("#%1").arg(index + 1);
    auto* item = new QListWidgetItem(label);
    item->setData(Qt::UserRole, index);
    QString tip = QString::fromStdString(ips::a1111_parameters(e.request, e.seed));
    if (e.record && !e.record->board.isEmpty()) tip += tr("\nBoard: %1").arg(e.record->board);
    item->setToolTip(tip);
    if (!e.image.isNull()) {
        item->setIcon(QIcon(QPixmap::fromImage(e.image.scaled(kThumbnail, kThumbnail, Qt::KeepAspectRatio, Qt::SmoothTransformation))));
    } else {
        // A blank of the thumbnail's size until it arrives: the cells keep their size and the rows stay aligned.
        static const QIcon placeholder = [] {
            QPixmap blank(kThumbnail, kThumbnail);
            blank.fill(QColor(128, 128, 128, 40));
            return QIcon(blank);
        }();
        item->setIcon(placeholder);
        requestThumbnail(item, e);
    }
    return item;
}

void HistoryPanel::requestThumbnail(QListWidgetItem* item, const HistoryEntry& e) {
    if (e.cachedPng.isEmpty()) return;
    item->setData(kFileRole, e.cachedPng);
    waitingThumbnails_.insert(e.cachedPng, item);
    const QString png = e.cachedPng;
    const QString cached = e.record && library_ ? library_->thumbnailOf(*e.record) : QString();
    QPointer<HistoryPanel> self(this);
    const quint64 generation = generation_;
    // Decoding a 512x512 PNG takes milliseconds; a page of them would stall the window.
    QThreadPool::globalInstance()->start([self, png, cached, generation] {
        const QImage thumb = cached.isEmpty() ? QImage(png).scaled(kThumbnail, kThumbnail, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                                              : makeThumbnail(png, cached);
        QMetaObject::invokeMethod(qApp, [self, png, thumb, generation] {
            if (!self || self->generation_ != generation) return;  // the list was re-read meanwhile
            QListWidgetItem* item = self->waitingThumbnails_.take(png);
            if (item && !thumb.isNull()) item->setIcon(QIcon(QPixmap::fromImage(thumb)));
        }, Qt::QueuedConnection);
    });
}

void HistoryPanel::reload() {
    if (!library_) return;
    // Results the library could not take stay listed (they exist nowhere else).
    std::vector<HistoryEntry> unsaved;
    for (HistoryEntry& e : entries_)
        if (!e.record) unsaved.push_back(std::move(e));
    ++generation_;
    waitingThumbnails_.clear();
    list_->clear();
    entries_.clear();
    loadedRows_ = 0;
    const LibraryFilter filter = currentFilter();
    matching_ = library_->isOpen() ? library_->index().count(filter) : 0;
    moreRows_ = library_->isOpen();
    loadMore();
    for (HistoryEntry& e : unsaved) {
        entries_.push_back(std::move(e));
        list_->insertItem(0, makeItem(count() - 1));
    }
    updateCountLabel();
}

void HistoryPanel::loadMore() {
    if (!library_ || !library_->isOpen() || !moreRows_) return;
    const QList<LibraryRecord> page = library_->index().query(currentFilter(), loadedRows_, kPage);
    loadedRows_ += int(page.size());
    moreRows_ = page.size() == kPage;
    if (page.isEmpty()) return;
    // Older than everything listed: first in `entries_` (oldest first), last in the list (newest first).
    const int shift = int(page.size());
    std::vector<HistoryEntry> older;
    for (auto it = page.rbegin(); it != page.rend(); ++it) older.push_back(entryFrom(*it));
    entries_.insert(entries_.begin(), std::make_move_iterator(older.begin()), std::make_move_iterator(older.end()));
    for (int row = 0; row < list_->count(); ++row) list_->item(row)->setData(Qt::UserRole, list_->item(row)->data(Qt::UserRole).toInt() + shift);
    for (int j = 0; j < shift; ++j) list_->addItem(makeItem(shift - 1 - j));
}

void HistoryPanel::updateCountLabel() {
    if (!library_) return;
    if (!library_->isOpen()) {
        countLabel_->setText(tr("The library is not available: results are kept for this session only"));
        return;
    }
    const QString view = view_->currentData().toString();
    if (view == kTrash) countLabel_->setText(tr("%1 in the trash (right-click to restore or empty it)").arg(matching_));
    else countLabel_->setText(matching_ == 1 ? tr("1 result") : tr("%1 results").arg(matching_));
}

QList<int> HistoryPanel::selectedIndexes() const {
    QList<int> out;
    for (QListWidgetItem* item : list_->selectedItems()) out << item->data(Qt::UserRole).toInt();
    std::sort(out.begin(), out.end());
    return out;
}

void HistoryPanel::setSelectionFavourite(bool favourite) {
    for (int i : selectedIndexes()) {
        HistoryEntry& e = entries_[std::size_t(i)];
        if (e.record) library_->setFavourite(*e.record, favourite);
    }
    reload();
}

void HistoryPanel::setSelectionBoard(const QString& board) {
    for (int i : selectedIndexes()) {
        HistoryEntry& e = entries_[std::size_t(i)];
        if (e.record) library_->setBoard(*e.record, board);
    }
    refreshViews();
    reload();
}

void HistoryPanel::trashSelection() {
    if (!library_) return;
    QString error;
    for (int i : selectedIndexes()) {
        HistoryEntry& e = entries_[std::size_t(i)];
        if (e.record && !library_->moveToTrash(*e.record, &error)) Q_EMIT problem(error);
    }
    reload();
}

void HistoryPanel::restoreSelectionFromTrash() {
    QString error;
    for (int i : selectedIndexes()) {
        HistoryEntry& e = entries_[std::size_t(i)];
        if (e.record && !library_->restoreFromTrash(*e.record, &error)) Q_EMIT problem(error);
    }
    reload();
}

int HistoryPanel::emptyTrash() {
    QString error;
    const int n = library_ ? library_->emptyTrash(&error) : 0;
    if (!error.isEmpty()) Q_EMIT problem(error);
    reload();
    return n;
}

void HistoryPanel::showContextMenu(const QPoint& at) {
    if (!library_ || !library_->isOpen()) return;
    const QList<int> selected = selectedIndexes();
    const bool inTrash = view_->currentData().toString() == kTrash;
    QMenu menu(this);
    if (!selected.isEmpty() && !inTrash) {
        const bool allFavourite = std::all_of(selected.begin(), selected.end(), [this](int i) {
            const HistoryEntry& e = entries_[std::size_t(i)];
            return e.record && e.record->favourite;
        });
        menu.addAction(allFavourite ? tr("Remove from favourites") : tr("\u2605 Favourite"), this, [this, allFavourite] { setSelectionFavourite(!allFavourite); });
        QMenu* boards = menu.addMenu(tr("Board"));
        for (const QString& board : library_->index().boards()) boards->addAction(board, this, [this, board] { setSelectionBoard(board); });
        boards->addSeparator();
        boards->addAction(tr("New board\u2026"), this, [this] {
            bool ok = false;
            const QString name = QInputDialog::getText(this, tr("New board"), tr("Name of the board"), QLineEdit::Normal, {}, &ok).trimmed();
            if (ok && !name.isEmpty()) setSelectionBoard(name);
        });
        boards->addAction(tr("No board"), this, [this] { setSelectionBoard({}); });
        menu.addAction(tr("Move to trash (Del)"), this, &HistoryPanel::trashSelection);
    }
    if (!selected.isEmpty() && inTrash) menu.addAction(tr("Restore from trash"), this, &HistoryPanel::restoreSelectionFromTrash);
    if (inTrash && matching_ > 0)
        menu.addAction(tr("Empty trash\u2026"), this, [this] {
            if (QMessageBox::question(this, tr("Empty trash"), tr("Delete the %n result(s) in the trash for good?", nullptr, matching_)) == QMessageBox::Yes)
                emptyTrash();
        });
    menu.addSeparator();
    menu.addAction(tr("Open library folder"), this, [this] { QDesktopServices::openUrl(QUrl::fromLocalFile(library_->folder())); });
    menu.exec(list_->viewport()->mapToGlobal(at));
}

}  // namespace ipsui
