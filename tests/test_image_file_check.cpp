// Files dropped on the window are checked from their header before anything decodes them.
#include <QImage>
#include <QtEndian>
#include <QtTest>

#include "image_file_check.h"

namespace {
quint32 crc32(const QByteArray& data) {
    quint32 crc = 0xFFFFFFFFu;
    for (unsigned char byte : data) {
        crc ^= byte;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}
QByteArray chunk(const char* type, const QByteArray& payload) {
    QByteArray out(4, '\0');
    qToBigEndian<quint32>(payload.size(), out.data());
    const QByteArray body = QByteArray(type) + payload;
    QByteArray crc(4, '\0');
    qToBigEndian<quint32>(crc32(body), crc.data());
    return out + body + crc;
}
// A PNG whose header claims width x height (the pixel data is absent: only the header is read).
QByteArray pngHeader(quint32 width, quint32 height) {
    QByteArray ihdr(13, '\0');
    qToBigEndian<quint32>(width, ihdr.data());
    qToBigEndian<quint32>(height, ihdr.data() + 4);
    ihdr[8] = 8;  // bit depth
    ihdr[9] = 2;  // RGB
    // An empty zlib stream as image data: never inflated, only the header is read.
    return QByteArray("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
           chunk("IDAT", QByteArray("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + chunk("IEND", {});
}
}  // namespace

class TestImageFileCheck : public QObject {
    Q_OBJECT
    QTemporaryDir dir;

private Q_SLOTS:
    void acceptsImages() {
        const auto r = ipsui::checkImageFile(QStringLiteral(IPS_TEST_DATA "/images/pattern_320x240.png"));
        QVERIFY2(r.ok, qPrintable(r.message));
        QCOMPARE(r.size, QSize(320, 240));
        QCOMPARE(r.format, QString("png"));
    }

    void refusesHugeImageWithoutDecoding() {
        const QString path = dir.filePath("huge.png");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(pngHeader(20000, 20000));
        f.close();
        const auto r = ipsui::checkImageFile(path);
        QVERIFY(!r.ok);
        QVERIFY2(r.message.contains("huge.png") && r.message.contains("20000x20000"), qPrintable(r.message));
    }

    void refusesNonImages() {
        const QString path = dir.filePath("notes.png");  // the extension lies
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("just some text, not an image\n");
        f.close();
        const auto r = ipsui::checkImageFile(path);
        QVERIFY(!r.ok);
        QVERIFY2(r.message.contains("notes.png") && r.message.contains("not an image"), qPrintable(r.message));
    }

    void refusesFoldersAndMissingFiles() {
        QVERIFY(ipsui::checkImageFile(dir.path()).message.contains("folder"));
        QVERIFY(ipsui::checkImageFile(dir.filePath("missing.png")).message.contains("not found"));
    }

    void unicodeFileName() {
        const QString path = dir.filePath(QString::fromUtf8("référence 猫.png"));
        QImage img(40, 30, QImage::Format_RGB32);
        img.fill(Qt::red);
        QVERIFY(img.save(path));
        const auto r = ipsui::checkImageFile(path);
        QVERIFY2(r.ok, qPrintable(r.message));
        QCOMPARE(r.size, QSize(40, 30));
    }
};

QTEST_GUILESS_MAIN(TestImageFileCheck)
#include "test_image_file_check.moc"
