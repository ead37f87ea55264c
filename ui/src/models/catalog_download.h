#pragma once
// Every missing file of one catalog model, fetched one after another (ModelDownload each), with the
// model's overall progress. Files already complete are skipped, so a restart resumes where it stopped.
#include <QObject>
#include <QPointer>

#include "model_catalog.h"
#include "model_download.h"

class QNetworkAccessManager;

namespace ipsui {

class CatalogDownload : public QObject {
    Q_OBJECT
public:
    CatalogDownload(QNetworkAccessManager* network, const ModelCatalog& catalog, CatalogModel model, QString modelsFolder,
                    QByteArray accessToken, QObject* parent = nullptr);

    void start();  // or resume
    void pause();
    void cancel();
    ModelDownload::State state() const { return state_; }
    const CatalogModel& model() const { return model_; }

Q_SIGNALS:
    void progress(qint64 received, qint64 total, double bytesPerSecond, double secondsLeft);
    void finished(const QString& installedPath);
    void failed(const QString& message);
    void stateChanged();

private:
    void next();
    void setState(ModelDownload::State s);
    qint64 doneBytes() const;

    QNetworkAccessManager* network_;
    QString hub_;
    CatalogModel model_;
    QString modelsFolder_;
    QByteArray token_;
    int index_ = 0;
    QPointer<ModelDownload> current_;
    ModelDownload::State state_ = ModelDownload::State::Idle;
};

}  // namespace ipsui
