#include "model_download.h"

#include "background_task.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>

#include <filesystem>

#include "ips/file_moves.h"
#include "qt_convert.h"

namespace ipsui {
namespace {

constexpr int kMaxRedirects = 10;
// A transfer that receives nothing for this long fails (and stays resumable) instead of hanging.
constexpr int kStallTimeoutMs = 60'000;

// Errors that mean the host could not be reached at all: the computer is probably offline.
bool isUnreachable(QNetworkReply::NetworkError e) {
    switch (e) {
        case QNetworkReply::HostNotFoundError:
        case QNetworkReply::ConnectionRefusedError:
        case QNetworkReply::TimeoutError:
        case QNetworkReply::TemporaryNetworkFailureError:
        case QNetworkReply::NetworkSessionFailedError:
        case QNetworkReply::UnknownNetworkError:
        case QNetworkReply::ProxyNotFoundError:
        case QNetworkReply::ProxyConnectionRefusedError:
        case QNetworkReply::ProxyTimeoutError:
            return true;
        default:
            return false;
    }
}

QString statusText(QNetworkReply* reply) {
    const int code = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QString reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
    return reason.isEmpty() ? QString("HTTP %1").arg(code) : QString("HTTP %1 %2").arg(code).arg(reason);
}

// X-Linked-ETag: "<sha256 hex>" (quoted; large files only).
QString sha256FromEtag(const QByteArray& header) {
    QString v = QString::fromLatin1(header).trimmed();
    if (v.startsWith("W/")) v = v.mid(2);
    v.remove('"');
    v = v.toLower();
    static const QString hex = "0123456789abcdef";
    if (v.size() != 64) return {};
    for (QChar c : v)
        if (!hex.contains(c)) return {};
    return v;
}

// "bytes A-B/N" -> A; -1 when absent or malformed.
qint64 rangeStartOf(const QByteArray& contentRange) {
    const QByteArray v = contentRange.trimmed();
    if (!v.startsWith("bytes ")) return -1;
    bool ok = false;
    const qint64 start = v.mid(6, v.indexOf('-') - 6).toLongLong(&ok);
    return ok ? start : -1;
}

// "bytes A-B/N" or "bytes */N" -> N; -1 when absent or unknown.
qint64 totalOf(const QByteArray& contentRange) {
    const int slash = contentRange.indexOf('/');
    if (slash < 0) return -1;
    bool ok = false;
    const qint64 total = contentRange.mid(slash + 1).trimmed().toLongLong(&ok);
    return ok ? total : -1;
}

}  // namespace

QString offlineMessage(const QString& host, const QString& detail) {
    return QString("Cannot reach %1: this computer seems to be offline, or the host is unreachable (%2). "
                   "Models already on disk can be added from the \"On this computer\" tab.")
        .arg(host, detail);
}

ModelDownload::ModelDownload(QNetworkAccessManager* network, DownloadSpec spec, QObject* parent)
    : QObject(parent), network_(network), spec_(std::move(spec)) {
    spec_.expectedSha256 = spec_.expectedSha256.toLower();
}

ModelDownload::~ModelDownload() { stopReply(); }

QString ModelDownload::describe() const { return spec_.url.toDisplayString() + " → " + spec_.destination; }

void ModelDownload::setState(State s) {
    if (state_ == s) return;
    state_ = s;
    Q_EMIT stateChanged(s);
}

void ModelDownload::stopReply() {
    if (!reply_) return;
    QNetworkReply* r = reply_;
    reply_.clear();
    r->disconnect(this);
    r->abort();
    r->deleteLater();
}

void ModelDownload::start() {
    if (state_ == State::Running) return;
    std::error_code ec;
    if (std::filesystem::exists(toFsPath(spec_.destination), ec)) {
        fail(spec_.destination + " already exists; not overwriting it", false);
        return;
    }
    part_.setFileName(partPath());
    if (!part_.open(QIODevice::ReadWrite)) {
        fail("cannot write " + partPath() + ": " + part_.errorString(), false);
        return;
    }
    // A part longer than the file can only be wrong: start over.
    if (spec_.expectedSize >= 0 && part_.size() > spec_.expectedSize) part_.resize(0);
    // Resume: the bytes already here are hashed again (a restart loses the running hash), off the UI thread:
    // gigabytes take seconds. The row says "running" meanwhile; pausing or cancelling drops the result.
    setState(State::Running);
    const qint64 partSize = part_.size();
    const quint64 attempt = ++startAttempts_;
    runInBackground<std::shared_ptr<QCryptographicHash>>(
        this,
        [path = partPath(), partSize] {
            auto hash = std::make_shared<QCryptographicHash>(QCryptographicHash::Sha256);
            QFile part(path);
            if (!part.open(QIODevice::ReadOnly)) return std::shared_ptr<QCryptographicHash>();
            for (qint64 left = partSize; left > 0;) {
                const QByteArray chunk = part.read(std::min<qint64>(left, qint64(4) << 20));
                if (chunk.isEmpty()) return std::shared_ptr<QCryptographicHash>();
                hash->addData(chunk);
                left -= chunk.size();
            }
            return hash;
        },
        [this, attempt, partSize](std::shared_ptr<QCryptographicHash> hash) {
            if (attempt != startAttempts_ || state_ != State::Running) return;
            if (!hash) {
                fail("cannot read " + partPath() + ": " + part_.errorString(), false);
                return;
            }
            hash_ = std::move(hash);
            received_ = partSize;
            part_.seek(partSize);
            request(spec_.url, 0);
        });
    headersSeen_ = false;
    serverSha256_.clear();
    clock_.start();
    rateBytes_ = 0;
    rateStartMs_ = 0;
    bytesPerSecond_ = 0;
}

void ModelDownload::request(const QUrl& url, int redirects) {
    QNetworkRequest req(url);
    // Redirects are followed here, not by Qt: the Hub's first answer (a redirect to its CDN) carries the
    // file's SHA-256, and the token must not travel to another host.
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    req.setRawHeader("User-Agent", "IPStudio");
    req.setTransferTimeout(kStallTimeoutMs);
    if (!spec_.accessToken.isEmpty() && url.host() == spec_.url.host())
        req.setRawHeader("Authorization", "Bearer " + spec_.accessToken);
    if (received_ > 0) req.setRawHeader("Range", "bytes=" + QByteArray::number(received_) + "-");
    reply_ = network_->get(req);
    reply_->setProperty("redirects", redirects);
    connect(reply_, &QNetworkReply::metaDataChanged, this, &ModelDownload::onHeaders);
    connect(reply_, &QNetworkReply::readyRead, this, &ModelDownload::onData);
    connect(reply_, &QNetworkReply::finished, this, &ModelDownload::onFinished);
}

void ModelDownload::discardReceived() {
    part_.resize(0);
    part_.seek(0);
    hash_->reset();
    received_ = 0;
}

void ModelDownload::onHeaders() {
    if (!reply_ || headersSeen_) return;
    const int code = reply_->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (code == 0 || (code >= 300 && code < 400)) return;  // redirects are handled when they finish
    headersSeen_ = true;
    if (const QString sha = sha256FromEtag(reply_->rawHeader("X-Linked-ETag")); !sha.isEmpty()) serverSha256_ = sha;
    if (code == 200 && received_ > 0) discardReceived();  // the server ignored the Range request
    if (code == 206 && rangeStartOf(reply_->rawHeader("Content-Range")) != received_) {
        // Bytes from somewhere else than asked: appending them would corrupt the file.
        return fail(QString("%1: the server sent a part starting elsewhere than byte %2; the partial file was "
                            "discarded, start again")
                        .arg(describe())
                        .arg(received_),
                    true);
    }
    if (code == 200 || code == 206) {
        const qint64 length = reply_->header(QNetworkRequest::ContentLengthHeader).toLongLong();
        total_ = length > 0 ? received_ + length : spec_.expectedSize;
        part_.seek(received_);
    }
}

void ModelDownload::onData() {
    if (!reply_) return;
    onHeaders();
    if (!reply_ || state_ != State::Running) return;  // the headers may have ended the transfer
    const int code = reply_->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (code != 200 && code != 206) return;  // error bodies are not file content
    const QByteArray chunk = reply_->readAll();
    if (chunk.isEmpty()) return;
    if (part_.write(chunk) != chunk.size()) {
        fail("cannot write " + partPath() + ": " + part_.errorString(), false);
        return;
    }
    hash_->addData(chunk);
    received_ += chunk.size();
    rateBytes_ += chunk.size();
    const qint64 now = clock_.elapsed();
    if (now - rateStartMs_ >= 500) {  // speed over the last half second or more
        bytesPerSecond_ = rateBytes_ * 1000.0 / double(std::max<qint64>(1, now - rateStartMs_));
        rateStartMs_ = now;
        rateBytes_ = 0;
    }
    const double left = total_ > 0 && bytesPerSecond_ > 0 ? (total_ - received_) / bytesPerSecond_ : -1;
    Q_EMIT progress(received_, total_, bytesPerSecond_, left);
}

void ModelDownload::onFinished() {
    if (!reply_) return;
    QNetworkReply* reply = reply_;
    reply->deleteLater();
    const int code = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (code >= 300 && code < 400 && reply->hasRawHeader("Location")) {
        if (const QString sha = sha256FromEtag(reply->rawHeader("X-Linked-ETag")); !sha.isEmpty()) serverSha256_ = sha;
        const int redirects = reply->property("redirects").toInt() + 1;
        reply_.clear();
        if (redirects > kMaxRedirects) return fail("too many redirects for " + spec_.url.toDisplayString(), false);
        return request(reply->url().resolved(QUrl::fromEncoded(reply->rawHeader("Location"))), redirects);
    }
    onData();
    reply_.clear();
    if (state_ != State::Running) return;
    if (code == 416) {  // nothing left after the bytes we have: complete already, or a part that cannot be right
        const qint64 remote = totalOf(reply->rawHeader("Content-Range"));
        if (received_ > 0 && (remote == received_ || (remote < 0 && received_ == spec_.expectedSize))) return complete();
        discardReceived();
        headersSeen_ = false;
        return request(spec_.url, 0);
    }
    if (code == 0 && isUnreachable(reply->error()))
        return fail(offlineMessage(reply->url().host(), reply->errorString()), false);
    if (code != 200 && code != 206) {
        const QString what = code ? statusText(reply) : reply->errorString();
        // A server error leaves the bytes so far for a later resume; a missing file does not.
        return fail(what + " for " + spec_.url.toDisplayString(), code == 404 || code == 401 || code == 403);
    }
    if (reply->error() != QNetworkReply::NoError)  // the connection broke mid-transfer: resumable
        return fail("the transfer of " + spec_.url.toDisplayString() + " broke off after " + QString::number(received_) +
                        " bytes (" + reply->errorString() + "); start it again to resume",
                    false);
    if (total_ > 0 && received_ < total_)
        return fail("the transfer of " + spec_.url.toDisplayString() + " ended after " + QString::number(received_) +
                        " of " + QString::number(total_) + " bytes; start it again to resume",
                    false);
    complete();
}

void ModelDownload::complete() {
    part_.flush();
    const QString got = QString::fromLatin1(hash_->result().toHex());
    const QString expected = !spec_.expectedSha256.isEmpty() ? spec_.expectedSha256 : serverSha256_;
    if (spec_.expectedSize >= 0 && received_ != spec_.expectedSize)
        return fail(QString("%1: expected %2 bytes, received %3; the file was discarded")
                        .arg(describe()).arg(spec_.expectedSize).arg(received_),
                    true);
    if (!expected.isEmpty() && got != expected)
        return fail(QString("%1: SHA-256 mismatch (expected %2, got %3); the file was discarded")
                        .arg(describe(), expected, got),
                    true);
    part_.close();
    try {
        if (!ips::move_file_without_replacing(toFsPath(partPath()), toFsPath(spec_.destination)))
            return fail(spec_.destination + " appeared during the download; not overwriting it", false);
    } catch (const std::exception& e) {
        return fail("cannot move " + partPath() + " to " + spec_.destination + ": " + QString::fromUtf8(e.what()), false);
    }
    setState(State::Finished);
    Q_EMIT finished(spec_.destination);
}

void ModelDownload::fail(const QString& message, bool discardPart) {
    stopReply();
    if (part_.isOpen()) part_.close();
    if (discardPart) QFile::remove(partPath());
    setState(State::Failed);
    Q_EMIT failed(message);
}

void ModelDownload::pause() {
    if (state_ != State::Running) return;
    stopReply();
    part_.flush();
    part_.close();
    setState(State::Paused);
}

void ModelDownload::cancel() {
    stopReply();
    if (part_.isOpen()) part_.close();
    QFile::remove(partPath());
    received_ = 0;
    setState(State::Cancelled);
}

}  // namespace ipsui
