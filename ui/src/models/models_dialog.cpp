#include "models_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QDir>
#include <QUrl>

#include "recent_folders.h"

namespace ipsui {

ModelsDialog::ModelsDialog(ModelConfig config, QWidget* parent) : QDialog(parent), config_(std::move(config)) {
    setWindowTitle(tr("Models"));
    resize(720, 560);
    auto* layout = new QVBoxLayout(this);
    auto* intro = new QLabel(tr("Choose the models IP Studio runs. Each is recognised from its contents, so any file name "
                                "works. Stable Diffusion 1.x base models: a diffusers folder (with model_index.json) or a "
                                "single .safetensors checkpoint."));
    intro->setWordWrap(true);
    layout->addWidget(intro);
    auto* form = new QFormLayout;
    form->addRow(tr("Base model"), singleRow(ModelRole::BaseModel, base_, baseStatus_));
    form->addRow(tr("IP-Adapters"), listRow(ModelRole::IpAdapter, adapters_));
    form->addRow(tr("Image encoder"), singleRow(ModelRole::ImageEncoder, encoder_, encoderStatus_));
    form->addRow(tr("ControlNets"), listRow(ModelRole::ControlNet, controlNets_));
    form->addRow(tr("VAE (optional)"), singleRow(ModelRole::Vae, vae_, vaeStatus_));
    form->addRow(tr("Live preview (optional)"), singleRow(ModelRole::PreviewDecoder, preview_, previewStatus_));
    layout->addLayout(form);
    message_ = new QLabel;
    message_->setWordWrap(true);
    message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(message_);
    layout->addStretch();
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    refresh();
}

QWidget* ModelsDialog::singleRow(ModelRole role, QLineEdit*& edit, QLabel*& status) {
    auto* box = new QWidget;
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    auto* h = new QHBoxLayout;
    edit = new QLineEdit;
    edit->setPlaceholderText(tr("not chosen: type or paste a path, or browse"));
    edit->setClearButtonEnabled(true);
    QLineEdit* typed = edit;
    // A typed or pasted path is checked like a chosen one; a refused one puts the last good path back.
    connect(edit, &QLineEdit::editingFinished, this, [this, role, typed] { chooseTyped(role, typed->text()); });
    auto* folder = new QPushButton(tr("Folder\u2026"));
    h->addWidget(edit, 1);
    h->addWidget(folder);
    if (role == ModelRole::BaseModel || role == ModelRole::Vae || role == ModelRole::PreviewDecoder) {
        auto* file = new QPushButton(tr("File\u2026"));
        h->addWidget(file);
        connect(file, &QPushButton::clicked, this, [this, role] { browse(role, false); });
    }
    if (role == ModelRole::Vae) {
        auto* clear = new QPushButton(tr("Model's own"));
        clear->setToolTip(tr("Use the base model's own VAE"));
        h->addWidget(clear);
        connect(clear, &QPushButton::clicked, this, [this] {
            config_.vae.clear();
            refresh();
        });
    }
    if (role == ModelRole::PreviewDecoder) {
        auto* clear = new QPushButton(tr("None"));
        clear->setToolTip(tr("Preview from the latents alone (no decoder)"));
        h->addWidget(clear);
        connect(clear, &QPushButton::clicked, this, [this] {
            config_.previewDecoder.clear();
            refresh();
        });
    }
    v->addLayout(h);
    status = new QLabel;
    status->setWordWrap(true);
    v->addWidget(status);
    connect(folder, &QPushButton::clicked, this, [this, role] { browse(role, true); });
    return box;
}

QWidget* ModelsDialog::listRow(ModelRole role, QListWidget*& list) {
    auto* box = new QWidget;
    auto* h = new QHBoxLayout(box);
    h->setContentsMargins(0, 0, 0, 0);
    list = new QListWidget;
    list->setMaximumHeight(90);
    list->setWordWrap(true);
    list->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* buttons = new QVBoxLayout;
    auto* add = new QPushButton(tr("Add\u2026"));
    auto* remove = new QPushButton(tr("Remove"));
    buttons->addWidget(add);
    buttons->addWidget(remove);
    buttons->addStretch();
    h->addWidget(list, 1);
    h->addLayout(buttons);
    QListWidget* l = list;
    connect(add, &QPushButton::clicked, this, [this, role] { browse(role, role == ModelRole::ControlNet); });
    connect(remove, &QPushButton::clicked, this, [this, role, l] {
        const int row = l->currentRow();
        QStringList& paths = role == ModelRole::IpAdapter ? config_.ipAdapters : config_.controlNets;
        if (row >= 0 && row < paths.size()) paths.removeAt(row);
        refresh();
    });
    return box;
}

void ModelsDialog::browse(ModelRole role, bool folder) {
    const QString start = RecentFolders::get(RecentFolders::kModels);
    QString path;
    if (folder) path = QFileDialog::getExistingDirectory(this, roleName(role), start);
    else
        path = QFileDialog::getOpenFileName(this, roleName(role), start,
                                            role == ModelRole::IpAdapter ? tr("IP-Adapter (*.safetensors *.bin)")
                                            : role == ModelRole::Vae     ? tr("VAE (*.safetensors *.bin *.pt *.ckpt)")
                                            : role == ModelRole::PreviewDecoder ? tr("TAESD decoder (*.safetensors *.pth)")
                                                                         : tr("Checkpoint (*.safetensors)"));
    if (path.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kModels, QFileInfo(path).absolutePath());
    choose(role, path);
}

QLineEdit* ModelsDialog::pathEdit(ModelRole role) const {
    switch (role) {
        case ModelRole::BaseModel: return base_;
        case ModelRole::ImageEncoder: return encoder_;
        case ModelRole::Vae: return vae_;
        case ModelRole::PreviewDecoder: return preview_;
        default: return nullptr;
    }
}

bool ModelsDialog::chooseTyped(ModelRole role, const QString& text) {
    QString path = text.trimmed();
    if (path.size() >= 2 && (path.front() == QLatin1Char('"') || path.front() == QLatin1Char('\'')) && path.back() == path.front())
        path = path.mid(1, path.size() - 2);  // pasted with quotes
    if (path.startsWith(QStringLiteral("~/"))) path = QDir::homePath() + path.mid(1);
    if (path.startsWith(QStringLiteral("file://"))) path = QUrl(path).toLocalFile();
    if (path == config_.path(role)) return true;
    if (path.isEmpty()) {
        if (role == ModelRole::Vae || role == ModelRole::PreviewDecoder) {  // optional: empty means none
            config_.set(role, {});
            refresh();
            return true;
        }
        refresh();
        return false;
    }
    const bool ok = choose(role, path);
    if (!ok) refresh();
    return ok;
}

bool ModelsDialog::choose(ModelRole role, const QString& path) {
    const ModelCheck check = checkModel(path, role);
    if (!check.ok) {
        lastError_ = check.error;
        message_->setStyleSheet(QStringLiteral("color: #c0392b;"));
        message_->setText(tr("Refused: %1").arg(check.error));
        return false;
    }
    lastError_.clear();
    config_.set(role, path);
    message_->setStyleSheet(QString());
    message_->setText(tr("%1: %2").arg(QFileInfo(path).fileName(), check.description));
    refresh();
    return true;
}

void ModelsDialog::refresh() {
    auto describe = [](const QString& path, ModelRole role) {
        if (path.isEmpty()) return QString();
        const ModelCheck c = checkModel(path, role);
        return c.ok ? QStringLiteral("\u2714 ") + c.description : QStringLiteral("\u2716 ") + c.error;
    };
    base_->setText(config_.baseModel);
    baseStatus_->setText(describe(config_.baseModel, ModelRole::BaseModel));
    encoder_->setText(config_.imageEncoder);
    encoderStatus_->setText(describe(config_.imageEncoder, ModelRole::ImageEncoder));
    vae_->setText(config_.vae);
    vae_->setPlaceholderText(tr("the base model's own"));
    vaeStatus_->setText(describe(config_.vae, ModelRole::Vae));
    preview_->setText(config_.previewDecoder);
    preview_->setPlaceholderText(tr("none: the latent-space preview"));
    preview_->setToolTip(tr("A TAESD decoder (madebyollin/taesd) shows full-size pictures every 4th step"));
    previewStatus_->setText(describe(config_.previewDecoder, ModelRole::PreviewDecoder));
    adapters_->clear();
    for (const QString& p : config_.ipAdapters) {
        auto* item = new QListWidgetItem(QFileInfo(p).fileName() + QStringLiteral("   ") + describe(p, ModelRole::IpAdapter), adapters_);
        item->setToolTip(p);
    }
    controlNets_->clear();
    for (const QString& p : config_.controlNets) {
        auto* item = new QListWidgetItem(QFileInfo(p).fileName() + QStringLiteral("   ") + describe(p, ModelRole::ControlNet), controlNets_);
        item->setToolTip(p);
    }
}

}  // namespace ipsui
