// Files dropped on the window are checked from their header before anything decodes them.
#include <QImage>
#include <QtEndian>
#include <QtTest>

#include "image_file_check.h"
#include "png_bytes.h"

using ipstest::pngHeader;

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
