// Model downloads against a local HTTP server this test runs on the loopback interface: a whole file,
// resume after a broken transfer (also in a new downloader, as after a restart), the Hub's redirect with
// X-Linked-ETag, checksum mismatch, 404 and 500, pause/resume and cancel.
#include <QtTest>

#include <QCryptographicHash>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>
#include <QDir>

#include "catalog_download.h"
#include "ips/errors.h"
#include "model_catalog.h"
#include "model_download.h"

using ipsui::DownloadSpec;
using ipsui::ModelDownload;

namespace {

QByteArray payload() {
    QByteArray bytes;
    for (int i = 0; i < 300000; ++i) bytes.append(char((i * 131 + i / 977) & 0xFF));
    return bytes;
}

QString sha256(const QByteArray& bytes) { return QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex(); }

// A tiny HTTP/1.1 server: one request per connection, enough for the downloader's GETs.
class TestServer : public QObject {
public:
    QByteArray body = payload();
    QList<QByteArray> ranges;  // Range header of each request to /cut, /file, /slow ("" when none)
    QList<QByteArray> authorizations;
    int cutRequests = 0;

    TestServer() {
        QObject::connect(&server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* s = server.nextPendingConnection()) {
                QObject::connect(s, &QTcpSocket::readyRead, this, [this, s] { onRequest(s); });
                QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
        QVERIFY(server.listen(QHostAddress::LocalHost));
    }
    QUrl url(const QString& path) const { return QUrl(QString("http://127.0.0.1:%1%2").arg(server.serverPort()).arg(path)); }

private:
    QTcpServer server;

    void onRequest(QTcpSocket* s) {
        QByteArray& buffer = pending[s];
        buffer += s->readAll();
        if (!buffer.contains("\r\n\r\n")) return;
        const QList<QByteArray> lines = buffer.left(buffer.indexOf("\r\n\r\n")).split('\n');
        pending.remove(s);
        QByteArray path = lines[0].split(' ').value(1);
        QByteArray range;
        for (const auto& l : lines) {
            const QByteArray line = l.trimmed();
            if (line.toLower().startsWith("range:")) range = line.mid(6).trimmed();
            if (line.toLower().startsWith("authorization:")) authorizations << line.mid(14).trimmed();
        }
        if (path.contains("/resolve/")) path = "/file";  // catalog URLs: every file is the payload
        if (path == "/missing") return reply(s, "404 Not Found", {}, "no such file");
        if (path == "/error") return reply(s, "500 Internal Server Error", {}, "boom");
        if (path == "/redirect")
            return reply(s, "302 Found", {"Location: /file", "X-Linked-ETag: \"" + sha256(body).toLatin1() + "\""}, {});
        if (path == "/redirect-bad")
            return reply(s, "302 Found", {"Location: /file", "X-Linked-ETag: \"" + QByteArray(64, 'a') + "\""}, {});
        ranges << range;
        qint64 from = 0;
        if (range.startsWith("bytes=")) from = range.mid(6, range.indexOf('-') - 6).toLongLong();
        const QByteArray rest = body.mid(from);
        const QByteArray status = from ? "206 Partial Content" : "200 OK";
        QList<QByteArray> headers{"Content-Length: " + QByteArray::number(rest.size())};
        if (from) headers << "Content-Range: bytes " + QByteArray::number(from) + "-" + QByteArray::number(body.size() - 1) + "/" +
                                 QByteArray::number(body.size());
        if (path == "/cut" && cutRequests++ == 0) {
            // Promise the whole file, send a third, hang up.
            s->write("HTTP/1.1 " + status + "\r\n" + headers.join("\r\n") + "\r\nConnection: close\r\n\r\n");
            s->write(rest.left(rest.size() / 3));
            s->disconnectFromHost();  // after the bytes are out: the client sees Content-Length unmet
            return;
        }
        if (path == "/slow") {
            s->write("HTTP/1.1 " + status + "\r\n" + headers.join("\r\n") + "\r\nConnection: close\r\n\r\n");
            auto* timer = new QTimer(s);
            auto offset = std::make_shared<qint64>(0);
            QObject::connect(timer, &QTimer::timeout, s, [s, rest, offset, timer] {
                if (s->state() != QAbstractSocket::ConnectedState) return timer->stop();
                s->write(rest.mid(*offset, 4096));
                *offset += 4096;
                if (*offset >= rest.size()) {
                    timer->stop();
                    s->disconnectFromHost();
                }
            });
            timer->start(5);
            return;
        }
        reply(s, status, headers, rest);
    }

    void reply(QTcpSocket* s, const QByteArray& status, QList<QByteArray> headers, const QByteArray& content) {
        if (!std::any_of(headers.begin(), headers.end(), [](const QByteArray& h) { return h.startsWith("Content-Length"); }))
            headers << "Content-Length: " + QByteArray::number(content.size());
        s->write("HTTP/1.1 " + status + "\r\n" + headers.join("\r\n") + "\r\nConnection: close\r\n\r\n" + content);
        s->disconnectFromHost();
    }

    QHash<QTcpSocket*, QByteArray> pending;
};

QByteArray readFile(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Runs the download until it finishes or fails; returns the failure message ("" on success).
QString runToEnd(ModelDownload& d, int timeoutMs = 20000) {
    QString message;
    bool done = false;
    QObject::connect(&d, &ModelDownload::finished, &d, [&] { done = true; });
    QObject::connect(&d, &ModelDownload::failed, &d, [&](const QString& m) { message = m, done = true; });
    d.start();
    if (!QTest::qWaitFor([&] { return done; }, timeoutMs)) return QStringLiteral("timed out");
    return message;
}

}  // namespace

class TestModelDownload : public QObject {
    Q_OBJECT
    QNetworkAccessManager network;
    QTemporaryDir dir;
    QString target(const QString& name) const { return dir.filePath(name); }

private Q_SLOTS:
    void initTestCase() { network.setProxy(QNetworkProxy::NoProxy); }

    void wholeFileVerifiedAgainstCatalog() {
        TestServer server;
        ModelDownload d(&network, {server.url("/file"), target("whole.safetensors"), sha256(server.body), server.body.size(), "secret"});
        qint64 lastReceived = 0, lastTotal = 0;
        connect(&d, &ModelDownload::progress, this, [&](qint64 r, qint64 t, double, double) { lastReceived = r, lastTotal = t; });
        QCOMPARE(runToEnd(d), QString());
        QCOMPARE(d.state(), ModelDownload::State::Finished);
        QCOMPARE(readFile(target("whole.safetensors")), server.body);
        QVERIFY(!QFile::exists(target("whole.safetensors.part")));
        QCOMPARE(lastReceived, qint64(server.body.size()));
        QCOMPARE(lastTotal, qint64(server.body.size()));
        QCOMPARE(server.authorizations, QList<QByteArray>{"Bearer secret"});
        // Never over an existing file.
        ModelDownload again(&network, {server.url("/file"), target("whole.safetensors"), {}, -1, {}});
        QVERIFY(runToEnd(again).contains("already exists"));
        QCOMPARE(readFile(target("whole.safetensors")), server.body);
    }

    void resumesAfterBrokenTransferInANewDownloader() {
        TestServer server;
        const DownloadSpec spec{server.url("/cut"), target("cut.bin"), sha256(server.body), server.body.size(), {}};
        {
            ModelDownload first(&network, spec);
            const QString message = runToEnd(first);
            QVERIFY2(message.contains("start it again to resume"), qPrintable(message));
            QVERIFY(!QFile::exists(target("cut.bin")));  // a partial file is never at the final path
            QCOMPARE(QFileInfo(target("cut.bin.part")).size(), qint64(server.body.size() / 3));
        }
        ModelDownload second(&network, spec);  // as after a restart of the app
        QCOMPARE(runToEnd(second), QString());
        QCOMPARE(server.ranges.last(), "bytes=" + QByteArray::number(server.body.size() / 3) + "-");
        QCOMPARE(readFile(target("cut.bin")), server.body);
        QVERIFY(!QFile::exists(target("cut.bin.part")));
    }

    void hubRedirectChecksum() {
        TestServer server;
        ModelDownload good(&network, {server.url("/redirect"), target("hub.safetensors"), {}, -1, "tok"});
        QCOMPARE(runToEnd(good), QString());
        QCOMPARE(readFile(target("hub.safetensors")), server.body);
        // A redirect within the same host keeps the token (the Hub's CDN is another host, which gets none).
        QCOMPARE(server.authorizations, (QList<QByteArray>{"Bearer tok", "Bearer tok"}));

        ModelDownload bad(&network, {server.url("/redirect-bad"), target("hub-bad.safetensors"), {}, -1, {}});
        const QString message = runToEnd(bad);
        QVERIFY2(message.contains("SHA-256 mismatch"), qPrintable(message));
        QVERIFY(!QFile::exists(target("hub-bad.safetensors")));
        QVERIFY(!QFile::exists(target("hub-bad.safetensors.part")));
    }

    void catalogChecksumMismatchRejected() {
        TestServer server;
        ModelDownload d(&network, {server.url("/file"), target("wrong.bin"), QString(64, 'b'), -1, {}});
        const QString message = runToEnd(d);
        QVERIFY2(message.contains("SHA-256 mismatch") && message.contains("wrong.bin"), qPrintable(message));
        QVERIFY(!QFile::exists(target("wrong.bin")));
        QVERIFY(!QFile::exists(target("wrong.bin.part")));
    }

    void serverErrorsReported() {
        TestServer server;
        ModelDownload missing(&network, {server.url("/missing"), target("missing.bin"), {}, -1, {}});
        const QString m404 = runToEnd(missing);
        QVERIFY2(m404.contains("404") && m404.contains("/missing"), qPrintable(m404));
        ModelDownload broken(&network, {server.url("/error"), target("error.bin"), {}, -1, {}});
        const QString m500 = runToEnd(broken);
        QVERIFY2(m500.contains("500"), qPrintable(m500));
        QVERIFY(!QFile::exists(target("missing.bin")) && !QFile::exists(target("error.bin")));
    }

    void pauseResumeAndCancel() {
        TestServer server;
        ModelDownload d(&network, {server.url("/slow"), target("slow.bin"), sha256(server.body), server.body.size(), {}});
        bool done = false;
        connect(&d, &ModelDownload::finished, this, [&] { done = true; });
        d.start();
        QTRY_VERIFY(d.received() > 20000);
        d.pause();
        QCOMPARE(d.state(), ModelDownload::State::Paused);
        const qint64 kept = QFileInfo(target("slow.bin.part")).size();
        QVERIFY(kept > 0 && kept < server.body.size());
        d.start();
        QTRY_VERIFY_WITH_TIMEOUT(done, 20000);
        QCOMPARE(server.ranges.last(), "bytes=" + QByteArray::number(kept) + "-");
        QCOMPARE(readFile(target("slow.bin")), server.body);

        ModelDownload c(&network, {server.url("/slow"), target("cancelled.bin"), {}, -1, {}});
        c.start();
        QTRY_VERIFY(c.received() > 8000);
        c.cancel();
        QCOMPARE(c.state(), ModelDownload::State::Cancelled);
        QTest::qWait(100);
        QVERIFY(!QFile::exists(target("cancelled.bin")));
        QVERIFY(!QFile::exists(target("cancelled.bin.part")));
    }

    // A catalog model of two files from a hub at the local server: both fetched, verified, in place.
    void catalogModelDownload() {
        TestServer server;
        const QByteArray json = QString(R"({"schema": 1, "hub": "%1", "models": [
            {"id": "enc", "name": "Encoder", "role": "image-encoder", "repo": "h94/IP-Adapter", "revision": "abc",
             "folder": "ip-adapter/image_encoder", "strip_prefix": "models/image_encoder/",
             "files": [{"path": "models/image_encoder/config.json", "size": null, "sha256": null},
                       {"path": "models/image_encoder/model.safetensors", "size": %2, "sha256": "%3"}]}]})")
                                    .arg(server.url("").toString())
                                    .arg(server.body.size())
                                    .arg(sha256(server.body))
                                    .toUtf8();
        const auto catalog = ipsui::ModelCatalog::parse(json, "test catalog");
        const auto* model = catalog.find("enc");
        QVERIFY(model);
        QCOMPARE(model->url(catalog.hub, model->files[1]).path(), QString("/h94/IP-Adapter/resolve/abc/models/image_encoder/model.safetensors"));
        const QString models = dir.filePath("models");
        QVERIFY(!model->isInstalled(models));
        ipsui::CatalogDownload d(&network, catalog, *model, models, {});
        QString installed, error;
        connect(&d, &ipsui::CatalogDownload::finished, this, [&](const QString& p) { installed = p; });
        connect(&d, &ipsui::CatalogDownload::failed, this, [&](const QString& m) { error = m; });
        d.start();
        QTRY_VERIFY_WITH_TIMEOUT(!installed.isEmpty() || !error.isEmpty(), 20000);
        QCOMPARE(error, QString());
        QCOMPARE(installed, QDir(models).filePath("ip-adapter/image_encoder"));
        QVERIFY(model->isInstalled(models));
        QCOMPARE(readFile(QDir(installed).filePath("model.safetensors")), server.body);
        QCOMPARE(server.ranges.size(), 2);
    }

    void catalogRejectsMalformedEntries() {
        const auto errorOf = [](const char* json) {
            try {
                ipsui::ModelCatalog::parse(json, "my catalog");
            } catch (const ips::InputError& e) {
                return QString::fromStdString(e.what());
            }
            return QString();
        };
        QVERIFY(errorOf("{not json").contains("my catalog: not valid JSON"));
        QVERIFY(errorOf(R"({"schema": 2, "models": []})").contains("schema"));
        QVERIFY(errorOf(R"({"schema": 1, "models": [{"id": "x", "name": "X", "role": "vae", "repo": "a/b", "folder": "../up",
                         "files": [{"path": "f"}]}]})")
                    .contains("inside the models folder"));
        QVERIFY(errorOf(R"({"schema": 1, "models": [{"id": "x", "role": "vae"}]})").contains("\"name\" is missing"));
        // The built-in catalog parses and names every recommended role.
        const auto builtIn = ipsui::ModelCatalog::builtIn();
        QStringList roles;
        for (const auto& m : builtIn.models) roles << m.role;
        for (const char* role : {"base-model", "ip-adapter", "image-encoder", "controlnet", "vae", "preview-decoder"}) QVERIFY(roles.contains(role));
        QVERIFY(builtIn.find("ip-adapter-sd15")->files[0].sha256.size() == 64);
    }
};

QTEST_GUILESS_MAIN(TestModelDownload)
#include "test_model_download.moc"
