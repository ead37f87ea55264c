#include "history_panel.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QMenu>
#include <QMimeData>
#include <QPushButton>
#include <QUrl>

#include "ips/errors.h"
#include "ips/png_file.h"
#include "ips/request_json.h"
#include "qt_convert.h"
#include "recent_folders.h"

namespace ipsui {

std::map<std::string, std::string> pngMetadata(const ips::GenerationRequest& request, quint64 seed, const QString& pngFile) {
    std::map<std::string, std::string> text{{"parameters", ips::a1111_parameters(request, seed)}};
    ips::GenerationRequest resolved = request;
    resolved.seed = seed;
    try {
        text["ipstudio_request"] = ips::request_to_json(resolved, toFsPath(QFileInfo(pngFile).absolutePath()));
    } catch (const ips::InputError&) {
        // Pictures that exist only in memory (pasted, painted masks, sketches) cannot be referenced from
        // the file; the A1111 parameters still describe the generation.
    }
    return text;
}

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
    list_ = new HistoryList;
    list_->entryAt = [this](int i) { return i >= 0 && i < count() ? &entries_[static_cast<std::size_t>(i)] : nullptr; };
    list_->setViewMode(QListView::IconMode);
    list_->setIconSize({96, 96});
    list_->setGridSize({108, 112});
    list_->setResizeMode(QListView::Adjust);
    list_->setMovement(QListView::Static);
    list_->setDragEnabled(true);
    list_->setDragDropMode(QAbstractItemView::DragOnly);
    list_->setSelectionMode(QAbstractItemView::SingleSelection);
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

void HistoryPanel::add(const GenerationOutcome& outcome) {
    QDir().mkpath(cacheFolder_);
    for (int i = 0; i < outcome.images.size(); ++i) {
        HistoryEntry e;
        e.request = outcome.request;
        e.image = outcome.images[i];
        e.seed = outcome.seed;
        e.seconds = outcome.seconds;
        const int index = count();
        // The cached copy is what drags hand out; a failure only disables dragging the file.
        // Named by time and seed so no other session's copy is ever replaced.
        const QString file = QDir(cacheFolder_).filePath(QStringLiteral("ipstudio-%1-%2-%3.png")
                                                             .arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")))
                                                             .arg(outcome.seed)
                                                             .arg(i));
        try {
            ips::write_png(toFsPath(file), toIpsImage(e.image), pngMetadata(e.request, e.seed, file), false);
            e.cachedPng = file;
        } catch (const ips::Error& err) {
            Q_EMIT problem(tr("Could not keep a copy of the result for dragging: %1").arg(QString::fromStdString(err.what())));
        }
        entries_.push_back(std::move(e));
        // Bound memory: only the newest pictures stay decoded; older ones come back from their PNG.
        constexpr int kDecodedEntries = 64;
        if (count() > kDecodedEntries) {
            HistoryEntry& old = entries_[static_cast<std::size_t>(count() - kDecodedEntries - 1)];
            if (!old.cachedPng.isEmpty()) old.image = QImage();
        }
        auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(outcome.images[i].scaled(96, 96, Qt::KeepAspectRatio,
                                                                                             Qt::SmoothTransformation))),
                                         QStringLiteral("#%1").arg(index + 1));
        item->setData(Qt::UserRole, index);
        item->setToolTip(QString::fromStdString(ips::a1111_parameters(entries_.back().request, entries_.back().seed)));
        list_->insertItem(0, item);  // newest first
    }
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
