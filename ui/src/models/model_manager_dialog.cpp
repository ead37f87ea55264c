#include "model_manager_dialog.h"

#include "access_token_store.h"
#include "background_task.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QDir>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHostInfo>
#include <QUrl>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QNetworkAccessManager>
#include <QPushButton>
#include <QSettings>
#include <QTabWidget>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "catalog_download.h"
#include "ips/errors.h"
#include "qt_convert.h"
#include "recent_folders.h"

namespace ipsui {
namespace {

enum CatalogColumn { NameColumn, KindColumn, SizeColumn, StatusColumn };
enum FoundColumn { FoundName, FoundKind, FoundBase, FoundSize, FoundSource, FoundProblem };
constexpr int kIdRole = Qt::UserRole;
constexpr int kPathRole = Qt::UserRole + 1;
constexpr int kModelRole = Qt::UserRole + 2;
constexpr int kLoraRole = Qt::UserRole + 3;  // a usable LoRA: "Use" adds it to the LoRA list

QLabel* messageLabel() {
    auto* label = new QLabel;
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

// "8 models, 55 other files" (English plurals without a translation file).
QString countsText(int models, int others) {
    QString text = models == 1 ? QObject::tr("1 model") : QObject::tr("%1 models").arg(models);
    if (others > 0) text += others == 1 ? QObject::tr(", 1 other file") : QObject::tr(", %1 other files").arg(others);
    return text;
}

// The same for one scan's results: recognised models, and files of unknown kind.
QString countsText(const std::vector<ips::DiscoveredModel>& found) {
    int models = 0;
    for (const auto& m : found) models += m.kind != ips::ModelKind::Unknown;
    return countsText(models, int(found.size()) - models);
}

QString sizeText(qint64 bytes) { return bytes > 0 ? QLocale().formattedDataSize(bytes) : QObject::tr("unknown size"); }

QString durationText(double seconds) {
    if (seconds < 0) return {};
    const int s = int(seconds + 0.5);
    return s >= 3600 ? QString("%1 h %2 min").arg(s / 3600).arg(s % 3600 / 60)
                     : s >= 60 ? QString("%1 min %2 s").arg(s / 60).arg(s % 60) : QString("%1 s").arg(s);
}

std::optional<ModelRole> roleOfCatalog(const QString& role) {
    if (role == "base-model") return ModelRole::BaseModel;
    if (role == "ip-adapter") return ModelRole::IpAdapter;
    if (role == "image-encoder") return ModelRole::ImageEncoder;
    if (role == "controlnet") return ModelRole::ControlNet;
    if (role == "vae") return ModelRole::Vae;
    if (role == "preview-decoder") return ModelRole::PreviewDecoder;
    return std::nullopt;
}

std::optional<ModelRole> usableAs(const ips::DiscoveredModel& m) {
    if (!m.problem.empty() || !runsBaseArchitecture(m.base_architecture)) return std::nullopt;
    return roleOfKind(m.kind);
}

}  // namespace

ModelManagerDialog::ModelManagerDialog(QString modelsFolder, QWidget* parent)
    : QDialog(parent), modelsFolder_(std::move(modelsFolder)), network_(new QNetworkAccessManager(this)) {
    setWindowTitle(tr("Model manager"));
    resize(1000, 560);
    try {
        catalog_ = ModelCatalog::builtIn();
    } catch (const ips::Error& e) {
        status_.insert(QString(), QString::fromStdString(e.what()));
    }
    auto* layout = new QVBoxLayout(this);
    auto* tabs = new QTabWidget;
    tabs->addTab(catalogPage(), tr("Download"));
    tabs->addTab(foundPage(), tr("On this computer"));
    layout->addWidget(tabs, 1);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    refreshCatalog();
}

QWidget* ModelManagerDialog::catalogPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);
    auto* intro = new QLabel(tr("Recommended models from the Hugging Face Hub. They are saved in %1; downloads resume where "
                                "they stopped, even after a restart, and each file is checked against its SHA-256 before it "
                                "is used. Proxy settings come from the system (http_proxy / https_proxy).")
                                 .arg(modelsFolder_));
    intro->setWordWrap(true);
    v->addWidget(intro);
    catalogView_ = new QTreeWidget;
    catalogView_->setHeaderLabels({tr("Model"), tr("Kind"), tr("Size"), tr("Status")});
    catalogView_->setRootIsDecorated(false);
    for (int c : {KindColumn, SizeColumn}) catalogView_->header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    catalogView_->header()->setSectionResizeMode(NameColumn, QHeaderView::Stretch);
    catalogView_->header()->setSectionResizeMode(StatusColumn, QHeaderView::Stretch);
    v->addWidget(catalogView_, 1);
    catalogMessage_ = messageLabel();
    v->addWidget(catalogMessage_);
    auto* row = new QHBoxLayout;
    auto* recommended = new QPushButton(tr("Download recommended"));
    auto* get = new QPushButton(tr("Download"));
    auto* pause = new QPushButton(tr("Pause"));
    auto* cancel = new QPushButton(tr("Cancel"));
    auto* use = new QPushButton(tr("Use"));
    for (auto* b : {recommended, get, pause, cancel, use}) row->addWidget(b);
    row->addStretch();
    row->addWidget(new QLabel(tr("Access token")));
    token_ = new QLineEdit;
    token_->setEchoMode(QLineEdit::Password);
    token_->setPlaceholderText(tr("optional (gated models)"));
    tokens_ = new AccessTokenStore(this);
    connect(tokens_, &AccessTokenStore::loaded, token_, [this](const QString& token) {
        if (!token_->text().isEmpty()) return;  // typed before the store answered: the typed one wins
        token_->setText(token);
        savedToken_ = token;
    });
    connect(tokens_, &AccessTokenStore::saved, this, [this](const QString& where) {
        token_->setToolTip(tr("The access token is kept %1").arg(where));
        catalogMessage_->setText(tr("Access token kept %1.").arg(where));
    });
    connect(token_, &QLineEdit::editingFinished, this, [this] {
        if (token_->text() != savedToken_) tokens_->save(savedToken_ = token_->text());
    });
    tokens_->load();
    row->addWidget(token_);
    v->addLayout(row);
    const auto selectedId = [this] {
        const auto* item = catalogView_->currentItem();
        return item ? item->data(NameColumn, kIdRole).toString() : QString();
    };
    connect(recommended, &QPushButton::clicked, this, &ModelManagerDialog::downloadRecommended);
    connect(get, &QPushButton::clicked, this, [this, selectedId] { download(selectedId()); });
    connect(pause, &QPushButton::clicked, this, [this, selectedId] {
        if (auto d = downloads_.value(selectedId())) d->pause();
    });
    connect(cancel, &QPushButton::clicked, this, [this, selectedId] {
        const QString id = selectedId();
        if (queue_.removeAll(id) > 0) {
            status_.insert(id, tr("cancelled"));
            if (auto* r = catalogRow(id)) updateRow(r);
        }
        if (auto d = downloads_.value(id)) d->cancel();
    });
    connect(use, &QPushButton::clicked, this, [this, selectedId] {
        const CatalogModel* m = catalog_.find(selectedId());
        if (!m) return;
        const auto role = roleOfCatalog(m->role);
        if (!m->isInstalled(modelsFolder_)) catalogMessage_->setText(tr("%1 is not downloaded yet.").arg(m->name));
        else if (m->role == QLatin1String("lora")) Q_EMIT loraChosen(m->installedPath(modelsFolder_));
        else if (!role) catalogMessage_->setText(tr("%1 cannot be used directly.").arg(m->name));
        else Q_EMIT modelChosen(*role, m->installedPath(modelsFolder_));
    });
    return page;
}

void ModelManagerDialog::refreshCatalog() {
    catalogView_->clear();
    for (const CatalogModel& m : catalog_.models) {
        auto* item = new QTreeWidgetItem(catalogView_);
        item->setText(NameColumn, m.recommended ? m.name + tr(" (recommended)") : m.name);
        item->setData(NameColumn, kIdRole, m.id);
        item->setText(KindColumn, m.role);
        item->setText(SizeColumn, sizeText(m.knownSize()));
        item->setToolTip(NameColumn, m.repo + (m.revision.isEmpty() ? QString() : " @ " + m.revision.left(10)));
        updateRow(item);
    }
    if (!status_.value(QString()).isEmpty()) catalogMessage_->setText(status_.value(QString()));
}

void ModelManagerDialog::updateRow(QTreeWidgetItem* row) {
    const QString id = row->data(NameColumn, kIdRole).toString();
    const CatalogModel* m = catalog_.find(id);
    if (!m) return;
    row->setText(StatusColumn, m->isInstalled(modelsFolder_) ? tr("installed") : status_.value(id, tr("missing")));
    row->setToolTip(StatusColumn, row->text(StatusColumn));  // long failure messages are cut in the column
}

void ModelManagerDialog::setCatalog(const ModelCatalog& catalog) {
    catalog_ = catalog;
    refreshCatalog();
}

QTreeWidgetItem* ModelManagerDialog::catalogRow(const QString& id) const {
    for (int i = 0; i < catalogView_->topLevelItemCount(); ++i)
        if (catalogView_->topLevelItem(i)->data(NameColumn, kIdRole).toString() == id) return catalogView_->topLevelItem(i);
    return nullptr;
}

QString ModelManagerDialog::rowStatus(const QString& id) const {
    const auto* row = catalogRow(id);
    return row ? row->text(StatusColumn) : QString();
}

// Queues the model; startQueued() begins it when a slot is free. With every model started at once, Qt's
// HTTPS connection to a host that cannot be looked up left some requests unanswered (rows stuck at
// "starting…" without a network: 2 of 3 runs with 8 at once here, about 1 in 10 with 2 at once). So at most
// two run, each after its host lookup succeeded, and every request has a stall timeout: nothing waits forever.
void ModelManagerDialog::download(const QString& id) {
    const CatalogModel* m = catalog_.find(id);
    if (!m || m->isInstalled(modelsFolder_) || queue_.contains(id)) return;
    if (auto d = downloads_.value(id); d && d->state() == ModelDownload::State::Running) return;
    queue_.append(id);
    status_.insert(id, tr("queued"));
    if (auto* r = catalogRow(id)) updateRow(r);
    startQueued();
}

void ModelManagerDialog::startQueued() {
    int running = lookups_;
    for (const auto& d : std::as_const(downloads_))
        if (d && d->state() == ModelDownload::State::Running) ++running;
    while (running < kParallelDownloads && !queue_.isEmpty()) {
        const QString id = queue_.takeFirst();
        if (!catalog_.find(id)) continue;
        status_.insert(id, tr("starting\u2026"));
        if (auto* r = catalogRow(id)) updateRow(r);
        ++running;
        // The host is looked up first (Qt caches the answer): without a network the model fails at once with
        // a plain message, and no request is left to Qt's connection queue, which could strand one.
        ++lookups_;
        const QString host = QUrl(catalog_.hub).host();
        QHostInfo::lookupHost(host, this, [this, id, host](const QHostInfo& info) {
            --lookups_;
            if (info.error() != QHostInfo::NoError) {
                const QString message = offlineMessage(host, info.errorString());
                status_.insert(id, tr("failed: %1").arg(message));
                catalogMessage_->setText(message);
                if (auto* r = catalogRow(id)) updateRow(r);
                startQueued();
                return;
            }
            beginDownload(id);
        });
    }
}

void ModelManagerDialog::beginDownload(const QString& id) {
    const CatalogModel* m = catalog_.find(id);
    if (!m) return;
    QPointer<CatalogDownload> d = downloads_.value(id);
    if (!d) {
        d = new CatalogDownload(network_, catalog_, *m, modelsFolder_, token_->text().toUtf8(), this);
        downloads_.insert(id, d);
        connect(d, &CatalogDownload::progress, this, [this, id](qint64 received, qint64 total, double speed, double left) {
            QString text = total > 0 ? tr("%1 of %2").arg(QLocale().formattedDataSize(received), QLocale().formattedDataSize(total))
                                     : QLocale().formattedDataSize(received);
            if (speed > 0) text += tr(", %1/s").arg(QLocale().formattedDataSize(qint64(speed)));
            if (left >= 0) text += tr(", %1 left").arg(durationText(left));
            status_.insert(id, text);
            if (auto* r = catalogRow(id)) updateRow(r);
        });
        connect(d, &CatalogDownload::stateChanged, this, [this, id, d] {
            if (d && d->state() == ModelDownload::State::Paused) status_.insert(id, tr("paused at ") + status_.value(id));
            if (d && d->state() == ModelDownload::State::Cancelled) {
                status_.insert(id, tr("cancelled"));
                downloads_.remove(id);
                d->deleteLater();
            }
            if (auto* r = catalogRow(id)) updateRow(r);
            // A slot may have come free (paused, cancelled, failed, finished): the next one starts.
            if (d && d->state() != ModelDownload::State::Running)
                QMetaObject::invokeMethod(this, &ModelManagerDialog::startQueued, Qt::QueuedConnection);
        });
        connect(d, &CatalogDownload::failed, this, [this, id](const QString& message) {
            status_.insert(id, tr("failed: %1").arg(message));
            catalogMessage_->setText(message);
            if (auto* r = catalogRow(id)) updateRow(r);
        });
        connect(d, &CatalogDownload::finished, this, [this, id](const QString& path) {
            status_.remove(id);
            catalogMessage_->setText(tr("Downloaded to %1.").arg(path));
            if (auto* r = catalogRow(id)) updateRow(r);
            if (const CatalogModel* m = catalog_.find(id)) Q_EMIT modelInstalled(m->role, path);
        });
    }
    d->start();
    if (d && d->state() != ModelDownload::State::Running)  // failed at once: the slot is free again
        QMetaObject::invokeMethod(this, &ModelManagerDialog::startQueued, Qt::QueuedConnection);
}

void ModelManagerDialog::downloadRecommended() {
    for (const CatalogModel& m : catalog_.models)
        if (m.recommended && !m.isInstalled(modelsFolder_)) download(m.id);
}

QWidget* ModelManagerDialog::foundPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);
    auto* intro = new QLabel(tr("Models already on this computer are used where they are, never copied. The Hugging Face "
                                "cache (%1) is searched; add the folder of ComfyUI, AUTOMATIC1111, InvokeAI or any folder of "
                                "models. Files are recognised from their contents.")
                                 .arg(fromFsPath(ips::huggingface_hub_cache())));
    intro->setWordWrap(true);
    v->addWidget(intro);
    foundView_ = new QTreeWidget;
    foundView_->setHeaderLabels({tr("File"), tr("Kind"), tr("Base"), tr("Size"), tr("Found in"), tr("Problem")});
    foundView_->setRootIsDecorated(true);
    foundView_->setTextElideMode(Qt::ElideRight);  // the file name leads each row: the folder part is cut first
    foundView_->header()->setStretchLastSection(false);
    for (int c : {FoundKind, FoundSize, FoundSource}) foundView_->header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    foundView_->header()->setSectionResizeMode(FoundBase, QHeaderView::Interactive);
    foundView_->header()->resizeSection(FoundBase, 110);
    foundView_->header()->setSectionResizeMode(FoundName, QHeaderView::Stretch);
    foundView_->header()->setSectionResizeMode(FoundProblem, QHeaderView::Interactive);
    foundView_->header()->resizeSection(FoundProblem, 220);
    v->addWidget(foundView_, 1);
    foundMessage_ = messageLabel();
    v->addWidget(foundMessage_);
    auto* row = new QHBoxLayout;
    auto* rescan = new QPushButton(tr("Search the Hugging Face cache"));
    auto* add = new QPushButton(tr("Add folder\u2026"));
    auto* use = new QPushButton(tr("Use"));
    for (auto* b : {rescan, add, use}) row->addWidget(b);
    row->addStretch();
    v->addLayout(row);
    connect(rescan, &QPushButton::clicked, this, &ModelManagerDialog::scanHubCache);
    connect(add, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Folder with models"), RecentFolders::get(RecentFolders::kModels));
        if (folder.isEmpty()) return;
        RecentFolders::remember(RecentFolders::kModels, folder);
        scanFolder(folder);
    });
    connect(use, &QPushButton::clicked, this, &ModelManagerDialog::useFound);
    connect(foundView_, &QTreeWidget::itemDoubleClicked, this, &ModelManagerDialog::useFound);
    QMetaObject::invokeMethod(this, &ModelManagerDialog::scanHubCache, Qt::QueuedConnection);
    return page;
}

QTreeWidgetItem* ModelManagerDialog::foundRow(const ips::DiscoveredModel& m, QTreeWidgetItem* parent) {
    auto* item = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(foundView_);
    const QString path = fromFsPath(m.path);
    // The file's own name leads (the full path is the tooltip; "Found in" says where): a long folder path
    // must not push the name out of the column.
    const QFileInfo info(path);
    QString shown = info.fileName() + QStringLiteral("  \u2014  ") + info.dir().path();
    if (!m.repo.empty()) {
        // "ORG/NAME: path/in/repo" (the snapshot folder itself is the whole repository).
        const QString snapshot = QStringLiteral("/snapshots/") + QString::fromStdString(m.revision);
        const int at = path.indexOf(snapshot);
        const QString inRepo = at < 0 ? QString() : path.mid(at + snapshot.size() + 1);
        shown = QString::fromStdString(m.repo) + (inRepo.isEmpty() ? QString() : QStringLiteral(": ") + inRepo);
    }
    item->setText(FoundName, shown);
    item->setToolTip(FoundName, path);
    item->setData(FoundName, kPathRole, path);
    QString kind = QString::fromUtf8(ips::model_kind_name(m.kind));
    if (!m.variant.empty()) kind += " (" + QString::fromStdString(m.variant) + ")";
    item->setText(FoundKind, kind);
    item->setText(FoundBase, QString::fromStdString(m.base_architecture));
    item->setText(FoundSize, sizeText(qint64(m.size_bytes)));
    item->setText(FoundSource, QString::fromStdString(m.source));
    item->setText(FoundProblem, QString::fromStdString(m.problem.empty() ? m.note : m.problem));
    item->setToolTip(FoundProblem, item->text(FoundProblem));
    if (const auto role = usableAs(m)) item->setData(FoundName, kModelRole, int(*role));
    else if (m.kind == ips::ModelKind::Lora && m.problem.empty() && runsBaseArchitecture(m.base_architecture))
        item->setData(FoundName, kLoraRole, true);
    else
        for (int c = 0; c < foundView_->columnCount(); ++c) item->setForeground(c, palette().brush(QPalette::Disabled, QPalette::Text));
    return item;
}

void ModelManagerDialog::addFound(const std::vector<ips::DiscoveredModel>& found, const QString& replaceSource) {
    if (!replaceSource.isEmpty())
        std::erase_if(found_, [&](const ips::DiscoveredModel& m) { return QString::fromStdString(m.source) == replaceSource; });
    for (const auto& m : found)
        if (std::none_of(found_.begin(), found_.end(), [&](const ips::DiscoveredModel& o) { return o.path == m.path; }))
            found_.push_back(m);
    rebuildFoundView();
}

// Usable models first, grouped by kind (base models, adapters, encoders, ControlNets, VAEs, decoders);
// then models IP Studio cannot use (another base, damaged), greyed; files that are not models at all
// (a folder of LoRAs, embeddings, upscalers) collapse under one row so they never hide the models.
void ModelManagerDialog::rebuildFoundView() {
    const auto rank = [](const ips::DiscoveredModel& m) {
        if (m.kind == ips::ModelKind::Unknown) return 2;
        return usableAs(m) ? 0 : 1;
    };
    std::vector<const ips::DiscoveredModel*> sorted;
    for (const auto& m : found_) sorted.push_back(&m);
    std::stable_sort(sorted.begin(), sorted.end(), [&](const auto* a, const auto* b) {
        if (rank(*a) != rank(*b)) return rank(*a) < rank(*b);
        const auto ra = roleOfKind(a->kind), rb = roleOfKind(b->kind);
        const int ka = ra ? int(*ra) : 99, kb = rb ? int(*rb) : 99;
        if (ka != kb) return ka < kb;
        return a->path < b->path;
    });
    foundView_->clear();
    QTreeWidgetItem* others = nullptr;
    int models = 0, otherFiles = 0;
    for (const auto* m : sorted) {
        if (rank(*m) == 2) {
            if (!others) {
                others = new QTreeWidgetItem(foundView_);
                others->setFirstColumnSpanned(true);
                others->setForeground(FoundName, palette().brush(QPalette::Disabled, QPalette::Text));
            }
            foundRow(*m, others);
            ++otherFiles;
        } else {
            foundRow(*m, nullptr);
            ++models;
        }
    }
    if (others) others->setText(FoundName, tr("Not models (%1) \u2014 files IP Studio does not recognise; expand to see why").arg(otherFiles));
    foundCounts_ = {models, otherFiles};
}

QString ModelManagerDialog::countText() const { return countsText(foundCounts_.first, foundCounts_.second); }

// A scan's outcome, made on a worker thread: what was found, or why nothing could be.
struct ScanResult {
    std::vector<ips::DiscoveredModel> found;
    QString installation;
    QString error;
};

void ModelManagerDialog::scanHubCache() {
    const QString cache = fromFsPath(ips::huggingface_hub_cache());
    foundMessage_->setText(tr("Searching the Hugging Face cache (%1)\u2026").arg(cache));
    const int serial = ++scanSerial_;
    // Reading thousands of file headers takes seconds on a big cache: the window stays responsive.
    runInBackground<ScanResult>(
        this,
        [] {
            ScanResult r;
            try {
                r.found = ips::discover_hub_cache(ips::huggingface_hub_cache());
            } catch (const std::exception& e) {
                r.error = QString::fromUtf8(e.what());
            }
            return r;
        },
        [this, cache, serial](ScanResult r) {
            if (r.error.isEmpty()) addFound(r.found, QStringLiteral("Hugging Face cache"));
            if (serial == scanSerial_)  // else a scan started since says what it found
                foundMessage_->setText(r.error.isEmpty() ? tr("%1 in the Hugging Face cache (%2).").arg(countsText(r.found), cache)
                                                         : tr("The Hugging Face cache (%1) could not be searched: %2").arg(cache, r.error));
            Q_EMIT scanFinished(cache);
        });
}

void ModelManagerDialog::scanFolder(const QString& folder) {
    foundMessage_->setText(tr("Searching %1\u2026").arg(folder));
    const int serial = ++scanSerial_;
    runInBackground<ScanResult>(
        this,
        [folder] {
            ScanResult r;
            try {
                r.found = ips::discover_model_folder(toFsPath(folder));
                r.installation = QString::fromStdString(ips::installation_kind(toFsPath(folder)));
            } catch (const std::exception& e) {
                r.error = QString::fromUtf8(e.what());
            }
            return r;
        },
        [this, folder, serial](ScanResult r) {
            if (r.error.isEmpty()) addFound(r.found);
            if (serial == scanSerial_)  // else a scan started since says what it found
                foundMessage_->setText(r.error.isEmpty() ? tr("%1 (%2): %3.").arg(folder, r.installation, countsText(r.found)) : r.error);
            Q_EMIT scanFinished(folder);
        });
}

void ModelManagerDialog::useFound() {
    const auto* item = foundView_->currentItem();
    if (!item) return;
    if (item->data(FoundName, kLoraRole).toBool()) {
        Q_EMIT loraChosen(item->data(FoundName, kPathRole).toString());
        foundMessage_->setText(tr("Added %1 to the LoRA list.").arg(item->data(FoundName, kPathRole).toString()));
        return;
    }
    const QVariant role = item->data(FoundName, kModelRole);
    if (!role.isValid()) {
        foundMessage_->setText(tr("%1 cannot be used: %2")
                              .arg(item->data(FoundName, kPathRole).toString(),
                                   item->text(FoundProblem).isEmpty() ? tr("IP Studio uses SD 1.x base models, IP-Adapters, image encoders and ControlNets")
                                                                      : item->text(FoundProblem)));
        return;
    }
    Q_EMIT modelChosen(ModelRole(role.toInt()), item->data(FoundName, kPathRole).toString());
    foundMessage_->setText(tr("Using %1.").arg(item->data(FoundName, kPathRole).toString()));
}

}  // namespace ipsui
