#include "lora_panel.h"

#include <QCheckBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QThread>
#include <QVBoxLayout>
#include <memory>

#include "lora_row.h"
#include "recent_folders.h"

namespace ipsui {

namespace {

constexpr int kPathRole = Qt::UserRole + 1;
const QString kAddedFoldersKey = QStringLiteral("loras/folders");  // folders LoRAs were added from

QStringList addedFolders() { return QSettings().value(kAddedFoldersKey).toStringList(); }

void rememberFolder(const QString& file) {
    QStringList folders = addedFolders();
    const QString folder = QFileInfo(file).absolutePath();
    if (folders.contains(folder)) return;
    folders << folder;
    QSettings().setValue(kAddedFoldersKey, folders);
}

bool isSeparator(QChar c) { return c.isSpace() || c == QLatin1Char(','); }

}  // namespace

void insertTriggerWord(QPlainTextEdit* prompt, const QString& word) {
    QTextCursor cursor = prompt->textCursor();
    cursor.clearSelection();
    const QString text = prompt->toPlainText();
    const int at = cursor.position();
    QString insert = word;
    if (at > 0 && !isSeparator(text.at(at - 1))) insert.prepend(QStringLiteral(", "));
    else if (at > 0 && text.at(at - 1) == QLatin1Char(',')) insert.prepend(QLatin1Char(' '));
    if (at < text.size() && !isSeparator(text.at(at))) insert.append(QStringLiteral(", "));
    cursor.insertText(insert);
    prompt->setTextCursor(cursor);
}

LoraPanel::LoraPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(4);

    auto* top = new QHBoxLayout;
    search_ = new QLineEdit;
    search_->setPlaceholderText(tr("Search LoRAs by name"));
    search_->setClearButtonEnabled(true);
    auto* addFile = new QPushButton(tr("Add file\u2026"));
    addFile->setToolTip(tr("Use a LoRA file from anywhere (.safetensors, .bin, .pt); its folder is searched from then on"));
    top->addWidget(search_, 1);
    top->addWidget(addFile);
    layout->addLayout(top);

    library_ = new QStandardItemModel(this);
    filtered_ = new QSortFilterProxyModel(this);
    filtered_->setSourceModel(library_);
    filtered_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    libraryView_ = new QListView;
    libraryView_->setModel(filtered_);
    libraryView_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    libraryView_->setUniformItemSizes(true);
    libraryView_->setTextElideMode(Qt::ElideMiddle);
    libraryView_->setToolTip(tr("Double-click a LoRA to use it"));
    libraryView_->setFixedHeight(libraryView_->fontMetrics().height() * 4 + 12);  // four names: compact, still browsable
    layout->addWidget(libraryView_);
    libraryHint_ = new QLabel;
    libraryHint_->setWordWrap(true);
    libraryHint_->setStyleSheet(QStringLiteral("color: palette(mid);"));
    layout->addWidget(libraryHint_);

    rows_ = new QVBoxLayout;
    rows_->setSpacing(3);
    layout->addLayout(rows_);
    emptyHint_ = new QLabel(tr("No LoRA in use."));
    emptyHint_->setStyleSheet(QStringLiteral("color: palette(mid);"));
    layout->addWidget(emptyHint_);

    connect(search_, &QLineEdit::textChanged, filtered_, &QSortFilterProxyModel::setFilterFixedString);
    connect(search_, &QLineEdit::textChanged, this, &LoraPanel::updateHints);
    connect(addFile, &QPushButton::clicked, this, &LoraPanel::chooseFile);
    connect(libraryView_, &QListView::activated, this, [this](const QModelIndex& index) {
        if (index.flags() & Qt::ItemIsEnabled) addLora(index.data(kPathRole).toString());
    });
    updateHints();
}

void LoraPanel::setSearchPaths(const QStringList& modelPaths, const QStringList& extraFolders) {
    modelPaths_ = modelPaths;
    extraFolders_ = extraFolders;
    rescan();
}

void LoraPanel::rescan() {
    const int generation = ++scanGeneration_;
    scanning_ = true;
    updateHints();
    auto found = std::make_shared<QList<LoraFile>>();
    QThread* thread = QThread::create([found, models = modelPaths_, folders = extraFolders_ + addedFolders()] {
        *found = findLoras(loraFolders(models, folders));
    });
    // The panel may go first: the thread then ends on its own and deletes itself.
    connect(thread, &QThread::finished, thread, &QObject::deleteLater);
    connect(thread, &QThread::finished, this, [this, found, generation] {
        if (generation != scanGeneration_) return;  // a newer search is under way
        scanning_ = false;
        showLibrary(*found);
        Q_EMIT scanFinished();
    });
    thread->start(QThread::LowPriority);
}

void LoraPanel::showLibrary(const QList<LoraFile>& found) {
    library_->clear();
    for (const LoraFile& f : found) {
        known_.insert(f.path, f);
        auto* item = new QStandardItem(f.name());
        item->setData(f.path, kPathRole);
        QString tip = f.path;
        if (!f.base.isEmpty()) tip += QStringLiteral("\n") + tr("Base: %1").arg(f.base);
        if (!f.triggerWords.isEmpty()) tip += QStringLiteral("\n") + tr("Trigger words: %1").arg(f.triggerWords.mid(0, 8).join(QStringLiteral(", ")));
        if (!f.problem.isEmpty()) {
            tip += QStringLiteral("\n") + tr("Cannot be used: %1").arg(f.problem);
            item->setFlags(item->flags() & ~Qt::ItemIsEnabled);  // greyed, cannot be activated
        }
        item->setToolTip(tip);
        library_->appendRow(item);
    }
    updateHints();
}

int LoraPanel::libraryCount() const { return library_->rowCount(); }

void LoraPanel::updateHints() {
    const int shown = filtered_->rowCount();
    if (scanning_ && libraryCount() == 0) libraryHint_->setText(tr("Searching the model folders\u2026"));
    else if (libraryCount() == 0)
        libraryHint_->setText(tr("No LoRAs found beside your models (ComfyUI models/loras, AUTOMATIC1111 models/Lora). Add a file to "
                                 "use one; its folder is searched from then on."));
    else if (shown == 0) libraryHint_->setText(tr("No LoRA name contains \u201c%1\u201d.").arg(search_->text()));
    else libraryHint_->clear();
    libraryHint_->setVisible(!libraryHint_->text().isEmpty());
    libraryView_->setVisible(libraryCount() > 0);
    emptyHint_->setVisible(rowCount() == 0);
}

LoraFile LoraPanel::describe(const QString& path) const {
    const auto it = known_.constFind(path);
    if (it != known_.constEnd() && QFileInfo::exists(path)) return *it;
    return describeLoraFile(path);
}

void LoraPanel::chooseFile() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Add a LoRA"), RecentFolders::get(RecentFolders::kModels),
                                                      tr("LoRA files (*.safetensors *.bin *.pt *.ckpt);;All files (*)"));
    if (file.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kModels, file);
    if (!addLora(file)) return;
    rememberFolder(file);
    rescan();  // its neighbours join the list
}

bool LoraPanel::addLora(const QString& path) {
    for (int i = 0; i < rowCount(); ++i) {
        if (row(i)->file().path != path) continue;
        if (row(i)->usable()) row(i)->enabledBox()->setChecked(true);  // already listed: turn it on
        return true;
    }
    const LoraFile file = describe(path);
    if (!file.isLora) {
        Q_EMIT problem(tr("%1 cannot be used as a LoRA: %2").arg(path, file.problem));
        return false;
    }
    makeRow(file, {path, 1.0, file.problem.isEmpty()});
    Q_EMIT changed();
    return true;
}

LoraRow* LoraPanel::makeRow(const LoraFile& file, const LoraEntry& entry, int index) {
    auto* r = new LoraRow(file, entry);
    rows_->insertWidget(index < 0 ? rows_->count() : index, r);
    connect(r, &LoraRow::changed, this, &LoraPanel::changed);
    connect(r, &LoraRow::triggerWordClicked, this, &LoraPanel::triggerWordClicked);
    connect(r, &LoraRow::removeRequested, this, [this](LoraRow* gone) {
        lastRemoved_ = std::make_pair(rows_->indexOf(gone), gone->entry());
        const QString name = gone->file().name();
        rows_->removeWidget(gone);
        gone->hide();
        gone->deleteLater();  // it is inside its own click
        updateHints();
        Q_EMIT changed();
        Q_EMIT removed(name);
    });
    updateHints();
    return r;
}

bool LoraPanel::undoRemove() {
    if (!lastRemoved_) return false;
    const auto [index, entry] = *lastRemoved_;
    lastRemoved_.reset();
    makeRow(describe(entry.path), entry, std::min(index, rowCount()));
    Q_EMIT changed();
    return true;
}

int LoraPanel::rowCount() const { return rows_->count(); }

LoraRow* LoraPanel::row(int index) const {
    auto* item = rows_->itemAt(index);
    return item ? qobject_cast<LoraRow*>(item->widget()) : nullptr;
}

std::vector<ips::LoraSettings> LoraPanel::activeLoras() const {
    std::vector<ips::LoraSettings> loras;
    for (int i = 0; i < rowCount(); ++i)
        if (row(i)->sent()) loras.push_back(toLoraSettings({row(i)->entry()}).front());
    return loras;
}

std::vector<ips::LoraSettings> LoraPanel::idleLoras() const {
    std::vector<ips::LoraSettings> loras;
    for (int i = 0; i < rowCount(); ++i)
        if (!row(i)->sent()) loras.push_back(toLoraSettings({row(i)->entry()}).front());
    return loras;
}

QList<LoraEntry> LoraPanel::entries() const {
    QList<LoraEntry> out;
    for (int i = 0; i < rowCount(); ++i) out << row(i)->entry();
    return out;
}

QStringList LoraPanel::setEntries(const QList<LoraEntry>& entries) {
    while (rowCount() > 0) {
        LoraRow* r = row(0);
        rows_->removeWidget(r);
        delete r;
    }
    lastRemoved_.reset();
    QStringList missing;
    for (LoraEntry e : entries) {
        e.path = locate(e.path);
        const LoraRow* r = makeRow(describe(e.path), e);
        if (r->missing()) missing << r->file().name();
    }
    updateHints();
    Q_EMIT changed();
    return missing;
}

QString LoraPanel::locate(const QString& path) const {
    if (path.isEmpty() || path.contains(QLatin1Char('/')) || path.contains(QLatin1Char('\\'))) return path;
    for (const QString& folder : loraFolders(modelPaths_, extraFolders_ + addedFolders()))
        if (const QFileInfo file(QDir(folder).filePath(path)); file.isFile()) return file.absoluteFilePath();
    return path;
}

QStringList LoraPanel::missingFiles() const {
    QStringList paths;
    for (int i = 0; i < rowCount(); ++i)
        if (row(i)->missing()) paths << row(i)->file().path;
    return paths;
}

}  // namespace ipsui
