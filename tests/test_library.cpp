// The result library: every result written as a PNG with its inputs kept by content hash and a row in a
// SQLite index; search, filters and paging over thousands of rows; trash; favourites and boards; the
// index rebuilt from the PNGs when deleted, damaged or newer; PNGs without metadata; an unusable folder.
#include <QtTest>

#include <QCryptographicHash>
#include <QDir>
#include <QSqlDatabase>
#include <QSqlQuery>

#include "ips/png_file.h"
#include "ips/request_json.h"
#include "qt_convert.h"
#include "result_library.h"
#include "test_paths.h"

using ipsui::LibraryFilter;
using ipsui::LibraryRecord;
using ipsui::ResultLibrary;

namespace {

QImage picture(int k) {
    QImage image(32, 24, QImage::Format_RGB888);
    image.fill(QColor(k * 40 % 256, 90, 200 - k % 100));
    return image;
}

ips::GenerationRequest requestWithInputs(const QString& prompt) {
    ips::GenerationRequest r;
    r.model = ipstest::dataPath("tiny-sd15");
    r.prompt = prompt.toStdString();
    r.negative_prompt = "blurry";
    r.width = 64;
    r.height = 48;
    r.num_inference_steps = 7;
    ips::IpAdapterSettings ip;
    ip.path = ipstest::dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors");
    ip.images = {{ipstest::dataPath("images/portrait_48x80.png"), nullptr},
                 {{}, std::make_shared<const ips::Image>(ipsui::toIpsImage(picture(3)))}};
    r.ip_adapters = {ip};
    r.init_image = ips::ImageSource{ipstest::dataPath("images/scene_128x128.png"), nullptr};
    r.strength = 0.5;
    return r;
}

QString sha256Of(const QString& file) {
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? QString::fromLatin1(QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex()) : QString();
}

}  // namespace

class TestLibrary : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    int libraries_ = 0;

    QString freshFolder() { return dir.filePath(QStringLiteral("library%1").arg(++libraries_)); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir.isValid()); }

    void aResultIsAPngWithItsInputsAndARow() {
        ResultLibrary library(freshFolder());
        QString error, notice;
        QVERIFY2(library.open(&error, &notice), qPrintable(error));
        const auto record = library.add(requestWithInputs(QStringLiteral("a red fox")), picture(1), 1234, &error);
        QVERIFY2(record, qPrintable(error));
        QVERIFY(record->file.startsWith(QStringLiteral("results/") + QDate::currentDate().toString(QStringLiteral("yyyy-MM")) + QLatin1Char('/')));
        QCOMPARE(QImage(library.pathOf(*record)).convertToFormat(QImage::Format_RGB888), picture(1));
        QCOMPARE(record->prompt, QStringLiteral("a red fox"));
        QCOMPARE(record->seed, QStringLiteral("1234"));
        QCOMPARE(record->width, 64);
        QCOMPARE(record->adapters, QStringLiteral("ip-adapter-plus_sd15.safetensors"));
        // Three inputs (a file reference, a pasted one, the init image), each kept once by content hash.
        QCOMPARE(record->references.split(QStringLiteral(", ")).size(), 3);
        QVERIFY(record->references.contains(sha256Of(QString::fromStdString(ipstest::dataPath("images/portrait_48x80.png").string())) + QStringLiteral(".png")));
        // The PNG carries the request, whose inputs resolve to the kept copies: the result can be re-made
        // even after the originals moved.
        const auto text = ips::read_png_text(ipsui::toFsPath(library.pathOf(*record)));
        QVERIFY(text.at("parameters").find("Seed: 1234") != std::string::npos);
        const ips::GenerationRequest back = ips::parse_request_json(text.at("ipstudio_request"), ipsui::toFsPath(QFileInfo(library.pathOf(*record)).absolutePath()), "result");
        QCOMPARE(back.ip_adapters.at(0).images.size(), std::size_t(2));
        const QString pasted = ipsui::fromFsPath(back.ip_adapters[0].images[1].path);
        QVERIFY2(pasted.contains(QStringLiteral("/inputs/")), qPrintable(pasted));
        QCOMPARE(QImage(pasted).convertToFormat(QImage::Format_RGB888), picture(3));
        QCOMPARE(sha256Of(ipsui::fromFsPath(back.init_image->path)), sha256Of(QString::fromStdString(ipstest::dataPath("images/scene_128x128.png").string())));
        QCOMPARE(back.seed.value(), quint64(1234));
        // A second result with the same inputs adds no input file.
        const int inputs = QDir(QDir(library.folder()).filePath(QStringLiteral("inputs"))).entryList(QDir::Files).size();
        QVERIFY(library.add(requestWithInputs(QStringLiteral("again")), picture(2), 5, &error));
        QCOMPARE(QDir(QDir(library.folder()).filePath(QStringLiteral("inputs"))).entryList(QDir::Files).size(), inputs);
    }

    void thousandsOfRowsSearchFilterAndPage() {
        ResultLibrary library(freshFolder());
        QString error;
        QVERIFY(library.open(&error));
        const QDateTime base(QDate(2026, 11, 1), QTime(12, 0));
        constexpr int kRows = 3000;
        int foxes = 0, favouriteFoxes = 0, dreamNovember = 0, percent = 0;
        library.index().begin();
        for (int i = 0; i < kRows; ++i) {
            LibraryRecord r;
            r.file = QStringLiteral("results/x/%1.png").arg(i);
            r.created = base.addSecs(qint64(i) * 1200).toMSecsSinceEpoch();  // 3000 x 20 min: into December
            r.prompt = i % 3 == 0 ? QStringLiteral("a fox in snow %1").arg(i) : i % 7 == 0 ? QStringLiteral("100% cat") : QStringLiteral("a house");
            r.model = i % 2 ? QStringLiteral("dreamshaper_8.safetensors") : QStringLiteral("v1-5-pruned.safetensors");
            r.adapters = i % 5 ? QStringLiteral("ip-adapter_sd15.safetensors") : QStringLiteral("ip-adapter-plus_sd15.safetensors");
            r.favourite = i % 10 == 0;
            r.board = i % 100 == 0 ? QStringLiteral("foxes") : QString();
            QVERIFY(library.index().insert(r, &error));
            foxes += i % 3 == 0;
            favouriteFoxes += i % 3 == 0 && i % 10 == 0;
            percent += i % 3 != 0 && i % 7 == 0;
            dreamNovember += i % 2 && QDateTime::fromMSecsSinceEpoch(r.created).date().month() == 11;
        }
        library.index().commit();

        QCOMPARE(library.index().count({}), kRows);
        QCOMPARE(library.index().count(LibraryFilter::parse(QStringLiteral("fox"))), foxes);
        QCOMPARE(library.index().count(LibraryFilter::parse(QStringLiteral("fox is:favourite"))), favouriteFoxes);
        QCOMPARE(library.index().count(LibraryFilter::parse(QStringLiteral("100%"))), percent);  // % is a character, not a wildcard
        QCOMPARE(library.index().count(LibraryFilter::parse(QStringLiteral("model:dreamshaper until:2026-11-30"))), dreamNovember);
        QCOMPARE(library.index().count(LibraryFilter::parse(QStringLiteral("adapter:plus"))), kRows / 5);
        QCOMPARE(library.index().count(LibraryFilter::parse(QStringLiteral("board:foxes"))), kRows / 100);
        QCOMPARE(library.index().boards(), QStringList{QStringLiteral("foxes")});

        // Pages of 250, newest first, cover every row exactly once.
        QSet<QString> seen;
        qint64 last = std::numeric_limits<qint64>::max();
        for (int offset = 0; offset < kRows; offset += 250) {
            const QList<LibraryRecord> page = library.index().query({}, offset, 250);
            QCOMPARE(page.size(), 250);
            for (const LibraryRecord& r : page) {
                QVERIFY(r.created <= last);
                last = r.created;
                seen.insert(r.file);
            }
        }
        QCOMPARE(seen.size(), kRows);
    }

    void trashRestoreAndEmpty() {
        ResultLibrary library(freshFolder());
        QString error;
        QVERIFY(library.open(&error));
        QList<LibraryRecord> records;
        for (int i = 0; i < 3; ++i) records << *library.add(requestWithInputs(QStringLiteral("trash %1").arg(i)), picture(i), i, &error);
        const QString kept = library.pathOf(records[1]);
        QVERIFY2(library.moveToTrash(records[1], &error), qPrintable(error));
        QVERIFY(!QFileInfo::exists(kept));
        QVERIFY(records[1].file.startsWith(QStringLiteral("trash/")));
        QVERIFY(QFileInfo::exists(library.pathOf(records[1])));
        QCOMPARE(library.index().count({}), 2);
        LibraryFilter trash;
        trash.trash = true;
        QCOMPARE(library.index().count(trash), 1);
        // A trashed PNG still finds its inputs (same folder depth).
        const auto text = ips::read_png_text(ipsui::toFsPath(library.pathOf(records[1])));
        const auto request = ips::parse_request_json(text.at("ipstudio_request"), ipsui::toFsPath(QFileInfo(library.pathOf(records[1])).absolutePath()), "t");
        QVERIFY(QFileInfo::exists(ipsui::fromFsPath(request.init_image->path)));

        QVERIFY(library.restoreFromTrash(records[1], &error));
        QCOMPARE(library.pathOf(records[1]), kept);
        QCOMPARE(library.index().count({}), 3);

        QVERIFY(library.moveToTrash(records[0], &error));
        QCOMPARE(library.emptyTrash(&error), 1);
        QVERIFY(!QFileInfo::exists(library.pathOf(records[0])));
        QCOMPARE(library.index().count(trash), 0);
        QCOMPARE(library.index().count({}), 2);
    }

    void theIndexIsRebuiltFromThePngs() {
        const QString folder = freshFolder();
        QList<LibraryRecord> before;
        {
            ResultLibrary library(folder);
            QString error;
            QVERIFY(library.open(&error));
            for (int i = 0; i < 5; ++i) before << *library.add(requestWithInputs(QStringLiteral("kept %1").arg(i)), picture(i), 100 + i, &error);
            QVERIFY(library.setFavourite(before[2], true));
            QVERIFY(library.setBoard(before[3], QStringLiteral("studies")));
            QVERIFY(library.moveToTrash(before[4], &error));
        }
        auto compareWithBefore = [&](ResultLibrary& library) {
            QCOMPARE(library.index().count({}), 4);
            for (const LibraryRecord& b : before) {
                const auto r = library.index().byFile(b.file);
                QVERIFY2(r, qPrintable(b.file));
                QCOMPARE(r->prompt, b.prompt);
                QCOMPARE(r->seed, b.seed);
                QCOMPARE(r->created, b.created);
                QCOMPARE(r->references, b.references);
                QCOMPARE(r->favourite, b.favourite);
                QCOMPARE(r->board, b.board);
                QCOMPARE(r->deleted, b.deleted);
            }
        };
        // Deleted index.
        QVERIFY(QFile::remove(QDir(folder).filePath(QStringLiteral("library.sqlite"))));
        QFile::remove(QDir(folder).filePath(QStringLiteral("library.sqlite-wal")));
        QFile::remove(QDir(folder).filePath(QStringLiteral("library.sqlite-shm")));
        {
            ResultLibrary library(folder);
            QString error, notice;
            QVERIFY(library.open(&error, &notice));
            QVERIFY2(notice.contains(QStringLiteral("rebuilt from 5")), qPrintable(notice));
            compareWithBefore(library);
        }
        // Damaged index: kept aside, rebuilt.
        {
            QFile db(QDir(folder).filePath(QStringLiteral("library.sqlite")));
            QVERIFY(db.open(QIODevice::WriteOnly | QIODevice::Truncate));
            db.write(QByteArray(4096, 'x'));
        }
        QFile::remove(QDir(folder).filePath(QStringLiteral("library.sqlite-wal")));
        QFile::remove(QDir(folder).filePath(QStringLiteral("library.sqlite-shm")));
        {
            ResultLibrary library(folder);
            QString error, notice;
            QVERIFY2(library.open(&error, &notice), qPrintable(error));
            QVERIFY2(notice.contains(QStringLiteral("library.sqlite.damaged")), qPrintable(notice));
            QVERIFY(QFileInfo::exists(QDir(folder).filePath(QStringLiteral("library.sqlite.damaged"))));
            compareWithBefore(library);
        }
        // An index from a newer IP Studio is not touched: kept aside, and this version rebuilds its own.
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("newer"));
            db.setDatabaseName(QDir(folder).filePath(QStringLiteral("library.sqlite")));
            QVERIFY(db.open());
            QSqlQuery(db).exec(QStringLiteral("PRAGMA user_version = 99"));
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("newer"));
        ResultLibrary library(folder);
        QString error, notice;
        QVERIFY(library.open(&error, &notice));
        QVERIFY2(notice.contains(QStringLiteral("newer")), qPrintable(notice));
        compareWithBefore(library);
    }

    void pngsFromElsewhereAreImported() {
        const QString source = dir.filePath(QStringLiteral("outside"));
        QDir().mkpath(source);
        QVERIFY(picture(9).save(QDir(source).filePath(QStringLiteral("plain.png"))));  // no metadata at all
        ips::write_png(ipsui::toFsPath(QDir(source).filePath(QStringLiteral("a1111.png"))), ipsui::toIpsImage(picture(8)),
                       {{"parameters", "a castle, (masterpiece:1.2)\nNegative prompt: lowres\nSteps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, "
                                       "Seed: 987654, Size: 512x768, Model: anything-v5, IP-Adapter: ip-adapter_sd15.safetensors (scale 0.6, style transfer), Version: v1.6"}},
                       false);
        ResultLibrary library(freshFolder());
        QString error;
        QVERIFY(library.open(&error));
        QCOMPARE(library.importFolder(source, &error), 2);
        const auto a1111 = library.index().query(LibraryFilter::parse(QStringLiteral("castle")), 0, 10);
        QCOMPARE(a1111.size(), 1);
        QCOMPARE(a1111[0].prompt, QStringLiteral("a castle, (masterpiece:1.2)"));
        QCOMPARE(a1111[0].negative, QStringLiteral("lowres"));
        QCOMPARE(a1111[0].steps, 25);
        QCOMPARE(a1111[0].seed, QStringLiteral("987654"));
        QCOMPARE(a1111[0].width, 512);
        QCOMPARE(a1111[0].height, 768);
        QCOMPARE(a1111[0].sampler, QStringLiteral("DPM++ 2M Karras"));
        QCOMPARE(a1111[0].adapters, QStringLiteral("ip-adapter_sd15.safetensors"));
        QCOMPARE(library.index().count({}), 2);  // the plain one too, with no prompt
    }

    void aFolderThatCannotBeWrittenIsSaidClearly() {
        QFile blocker(dir.filePath(QStringLiteral("not-a-folder")));
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        ResultLibrary library(dir.filePath(QStringLiteral("not-a-folder/library")));
        QString error;
        QVERIFY(!library.open(&error));
        QVERIFY2(error.contains(QStringLiteral("not-a-folder/library")) && error.contains(QStringLiteral("cannot be created")), qPrintable(error));
        QVERIFY(!library.add(requestWithInputs(QStringLiteral("x")), picture(1), 1, &error));
        QVERIFY2(error.contains(QStringLiteral("not open")), qPrintable(error));
    }
};

QTEST_MAIN(TestLibrary)
#include "test_library.moc"
