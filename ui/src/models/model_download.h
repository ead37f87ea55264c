#pragma once
// One model file fetched over HTTP(S) into the models folder: progress with speed and ETA, pause and
// resume (HTTP Range, also after a restart: the bytes so far live in "<file>.part"), cancel, SHA-256
// verified against the catalog's value or the one the Hugging Face Hub sends for large files
// (X-Linked-ETag), and renamed into place only when complete and verified. A partial or rejected file is
// never at the final path, so nothing ever takes it for a model.
#include <QByteArray>
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QUrl>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;

namespace ipsui {

struct DownloadSpec {
    QUrl url;
    QString destination;     // the final file; must not exist yet
    QString expectedSha256;  // lower-case hex; empty: use the server's X-Linked-ETag if it sends one
    qint64 expectedSize = -1;
    QByteArray accessToken;  // optional Hugging Face token, sent to the first host only
};

// "Cannot reach HOST: this computer seems to be offline, or the host is unreachable (DETAIL). Models already
// on disk can be added from the "On this computer" tab."
QString offlineMessage(const QString& host, const QString& detail);

class ModelDownload : public QObject {
    Q_OBJECT
public:
    enum class State { Idle, Running, Paused, Finished, Failed, Cancelled };

    ModelDownload(QNetworkAccessManager* network, DownloadSpec spec, QObject* parent = nullptr);
    ~ModelDownload() override;

    void start();   // begins, or resumes from the .part file
    void pause();   // stops the transfer, keeps the .part file
    void cancel();  // stops and deletes the .part file

    State state() const { return state_; }
    qint64 received() const { return received_; }
    qint64 total() const { return total_; }
    QString partPath() const { return spec_.destination + ".part"; }
    const DownloadSpec& spec() const { return spec_; }

Q_SIGNALS:
    void progress(qint64 received, qint64 total, double bytesPerSecond, double secondsLeft);
    void finished(const QString& path);
    void failed(const QString& message);
    void stateChanged(ipsui::ModelDownload::State state);

private:
    void request(const QUrl& url, int redirects);
    void onHeaders();
    void onData();
    void onFinished();
    void fail(const QString& message, bool discardPart);
    void complete();
    void discardReceived();  // empties the part file: the download starts over from byte 0
    void setState(State s);
    void stopReply();
    QString describe() const;

    QNetworkAccessManager* network_;
    DownloadSpec spec_;
    State state_ = State::Idle;
    QPointer<QNetworkReply> reply_;
    QFile part_;
    std::shared_ptr<QCryptographicHash> hash_ = std::make_shared<QCryptographicHash>(QCryptographicHash::Sha256);
    quint64 startAttempts_ = 0;  // a re-hash that finishes after a pause or a newer start is dropped
    QString serverSha256_;  // from X-Linked-ETag
    qint64 received_ = 0, total_ = -1;
    bool headersSeen_ = false;
    QElapsedTimer clock_;
    qint64 rateBytes_ = 0;
    qint64 rateStartMs_ = 0;
    double bytesPerSecond_ = 0;
};

}  // namespace ipsui
