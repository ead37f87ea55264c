#include "catalog_download.h"

#include <QDir>
#include <QFileInfo>

namespace ipsui {

CatalogDownload::CatalogDownload(QNetworkAccessManager* network, const ModelCatalog& catalog, CatalogModel model,
                                 QString modelsFolder, QByteArray accessToken, QObject* parent)
    : QObject(parent), network_(network), hub_(catalog.hub), model_(std::move(model)), modelsFolder_(std::move(modelsFolder)),
      token_(std::move(accessToken)) {}

void CatalogDownload::setState(ModelDownload::State s) {
    state_ = s;
    Q_EMIT stateChanged();
}

qint64 CatalogDownload::doneBytes() const {
    qint64 done = 0;
    for (int i = 0; i < index_ && i < model_.files.size(); ++i) done += std::max<qint64>(0, model_.files[i].size);
    return done;
}

void CatalogDownload::start() {
    if (state_ == ModelDownload::State::Running) return;
    setState(ModelDownload::State::Running);
    if (current_) return current_->start();  // resume the paused file
    index_ = 0;
    next();
}

void CatalogDownload::next() {
    while (index_ < model_.files.size() && QFileInfo::exists(model_.destination(modelsFolder_, model_.files[index_]))) ++index_;
    if (index_ >= model_.files.size()) {
        setState(ModelDownload::State::Finished);
        Q_EMIT finished(model_.installedPath(modelsFolder_));
        return;
    }
    const CatalogFile& file = model_.files[index_];
    const QString destination = model_.destination(modelsFolder_, file);
    if (!QDir().mkpath(QFileInfo(destination).absolutePath())) {
        setState(ModelDownload::State::Failed);
        Q_EMIT failed(tr("cannot create the folder %1").arg(QFileInfo(destination).absolutePath()));
        return;
    }
    current_ = new ModelDownload(network_, {model_.url(hub_, file), destination, file.sha256, file.size, token_}, this);
    connect(current_, &ModelDownload::progress, this, [this](qint64 received, qint64, double speed, double) {
        const qint64 total = model_.knownSize();
        const qint64 done = doneBytes() + received;
        Q_EMIT progress(done, total, speed, speed > 0 && total > done ? (total - done) / speed : -1);
    });
    connect(current_, &ModelDownload::finished, this, [this] {
        current_->deleteLater();
        current_.clear();
        ++index_;
        next();
    });
    connect(current_, &ModelDownload::failed, this, [this](const QString& message) {
        current_->deleteLater();
        current_.clear();
        setState(ModelDownload::State::Failed);
        Q_EMIT failed(message);
    });
    current_->start();
}

void CatalogDownload::pause() {
    if (state_ != ModelDownload::State::Running || !current_) return;
    current_->pause();
    setState(ModelDownload::State::Paused);
}

void CatalogDownload::cancel() {
    if (current_) {
        current_->cancel();
        current_->deleteLater();
        current_.clear();
    }
    setState(ModelDownload::State::Cancelled);
}

}  // namespace ipsui
