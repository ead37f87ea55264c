// The History panel as the gallery of the library: every result kept across restarts, newest first, read
// page by page as the list scrolls, thumbnails made off the UI thread, search, favourites, boards, the
// trash; a library that cannot be used is said clearly and the results stay in the window.
#include <QtTest>

#include <QAbstractItemView>

#include <QComboBox>
#include <QLineEdit>
#include <QListWidget>
#include <QScrollBar>

#include "generation_worker.h"
#include "history_panel.h"
#include "main_window.h"
#include "qt_convert.h"
#include "result_library.h"
#include "ui_test_env.h"

namespace {

QImage picture(int k) {
    QImage image(40, 40, QImage::Format_RGB888);
    image.fill(QColor((k * 53) % 256, (k * 29) % 256, 120));
    return image;
}

ipsui::GenerationOutcome outcome(int k, const QString& prompt) {
    ipsui::GenerationOutcome o;
    o.job = quint64(k);
    o.seed = quint64(1000 + k);
    o.request.model = ipstest::dataPath("tiny-sd15");
    o.request.prompt = prompt.toStdString();
    o.request.num_inference_steps = 3;
    o.images = {picture(k)};
    return o;
}

}  // namespace

class TestGallery : public QObject {
    Q_OBJECT
    QTemporaryDir dir;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
    }

    void resultsAreKeptAcrossRestartsAndPaged() {
        const QString folder = dir.filePath(QStringLiteral("paged"));
        {
            ipsui::ResultLibrary library(folder);
            QString error;
            QVERIFY(library.open(&error));
            for (int k = 0; k < 300; ++k) {
                const auto o = outcome(k, k % 4 == 0 ? QStringLiteral("blue whale %1").arg(k) : QStringLiteral("red barn %1").arg(k));
                QVERIFY2(library.add(o.request, o.images[0], o.seed, &error), qPrintable(error));
            }
        }
        ipsui::ResultLibrary library(folder);
        QString error;
        QVERIFY(library.open(&error));
        ipsui::HistoryPanel panel(dir.filePath(QStringLiteral("cache")));
        panel.resize(340, 600);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        panel.setLibrary(&library);
        QCOMPARE(panel.matchingCount(), 300);
        // Not all at once: one page, the newest first.
        QVERIFY(panel.count() < 300);
        const int firstPage = panel.count();
        QCOMPARE(panel.entry(panel.list()->item(0)->data(Qt::UserRole).toInt()).request.prompt, std::string("red barn 299"));
        // Scrolling to the end reads the next pages, until every result is there, each once.
        for (int guard = 0; guard < 10 && panel.count() < 300; ++guard) {
            panel.list()->verticalScrollBar()->setValue(panel.list()->verticalScrollBar()->maximum());
            QCoreApplication::processEvents();
        }
        QVERIFY(panel.count() > firstPage);
        QCOMPARE(panel.count(), 300);
        QSet<QString> files;
        for (int i = 0; i < panel.count(); ++i) files.insert(panel.entry(i).cachedPng);
        QCOMPARE(files.size(), 300);
        // Thumbnails arrive from the worker threads, and are cached on disk for the next start.
        QTRY_VERIFY_WITH_TIMEOUT(!panel.list()->item(0)->icon().isNull(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(library.thumbnailOf(*panel.entry(panel.count() - 1).record)), 10000);

        // Search.
        panel.searchBox()->setText(QStringLiteral("whale"));
        QTRY_COMPARE(panel.matchingCount(), 75);
        panel.searchBox()->clear();
        QTRY_COMPARE(panel.matchingCount(), 300);
    }

    void favouritesBoardsAndTrash() {
        ipsui::ResultLibrary library(dir.filePath(QStringLiteral("marks")));
        QString error;
        QVERIFY(library.open(&error));
        ipsui::HistoryPanel panel(dir.filePath(QStringLiteral("cache")));
        panel.setLibrary(&library);
        for (int k = 0; k < 5; ++k) panel.add(outcome(k, QStringLiteral("study %1").arg(k)));
        QCOMPARE(panel.matchingCount(), 5);
        auto selectRows = [&](std::initializer_list<int> rows) {
            panel.list()->clearSelection();
            for (int row : rows) panel.list()->item(row)->setSelected(true);
        };
        selectRows({0, 1});
        panel.setSelectionFavourite(true);
        selectRows({2});
        panel.setSelectionBoard(QStringLiteral("hands"));
        QVERIFY(panel.viewBox()->findData(QStringLiteral("board:hands")) >= 0);
        // A long board name: its entry's tooltip is the whole name, and the list opens wide enough for it.
        const QString longName = QStringLiteral("reference sheets for the lighthouse keeper's daughter, autumn palette");
        selectRows({1});
        panel.setSelectionBoard(longName);
        const int longRow = panel.viewBox()->findData(QStringLiteral("board:") + longName);
        QVERIFY(longRow >= 0);
        QVERIFY(panel.viewBox()->itemData(longRow, Qt::ToolTipRole).toString().contains(longName));
        QVERIFY(panel.viewBox()->view()->minimumWidth() >= panel.viewBox()->view()->fontMetrics().horizontalAdvance(longName));
        panel.viewBox()->setCurrentIndex(longRow);
        QVERIFY(panel.viewBox()->toolTip().contains(longName));  // the box itself names what it shows
        panel.viewBox()->setCurrentIndex(panel.viewBox()->findData(QStringLiteral("favourites")));
        panel.reload();
        QCOMPARE(panel.count(), 2);
        panel.viewBox()->setCurrentIndex(panel.viewBox()->findData(QStringLiteral("board:hands")));
        panel.reload();
        QCOMPARE(panel.count(), 1);
        QCOMPARE(panel.entry(0).request.prompt, std::string("study 2"));

        // Trash: gone from the list, in the trash view, restorable, then emptied for good.
        panel.viewBox()->setCurrentIndex(0);
        panel.reload();
        selectRows({3, 4});
        const QString trashedFile = panel.entry(panel.list()->item(4)->data(Qt::UserRole).toInt()).cachedPng;
        panel.trashSelection();
        QCOMPARE(panel.matchingCount(), 3);
        QVERIFY(!QFileInfo::exists(trashedFile));
        panel.viewBox()->setCurrentIndex(panel.viewBox()->findData(QStringLiteral("trash")));
        panel.reload();
        QCOMPARE(panel.count(), 2);
        selectRows({0});
        panel.restoreSelectionFromTrash();
        QCOMPARE(panel.matchingCount(), 1);
        QCOMPARE(panel.emptyTrash(), 1);
        panel.viewBox()->setCurrentIndex(0);
        panel.reload();
        QCOMPARE(panel.matchingCount(), 4);
        // A new result while a search is shown: the list goes back to every result, with it on top.
        panel.searchBox()->setText(QStringLiteral("nothing matches this"));
        panel.reload();
        QCOMPARE(panel.count(), 0);
        panel.add(outcome(9, QStringLiteral("newest")));
        QVERIFY(panel.searchBox()->text().isEmpty());
        QCOMPARE(panel.count(), 5);
        QCOMPARE(panel.currentIndex(), panel.count() - 1);
    }

    void theWindowKeepsEveryResultAndSaysWhenItCannot() {
        ipsui::AppContext context = ipstest::testContext(dir);
        context.libraryFolder = dir.filePath(QStringLiteral("window-library"));
        {
            ipsui::MainWindow window(context);
            QCOMPARE(window.history()->count(), 0);
            window.history()->add(outcome(1, QStringLiteral("kept after closing")));
        }
        {
            ipsui::MainWindow window(context);
            QCOMPARE(window.history()->count(), 1);
            QCOMPARE(window.history()->entry(0).request.prompt, std::string("kept after closing"));
            QVERIFY(window.history()->entry(0).record.has_value());
        }
        // A library that cannot be written: a message naming the folder, and the result stays in the window.
        QFile blocker(dir.filePath(QStringLiteral("blocked")));
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        QSettings().remove(QStringLiteral("library/folder"));
        context.libraryFolder = dir.filePath(QStringLiteral("blocked/library"));
        ipsui::MainWindow window(context);
        QVERIFY2(window.messageText().contains(QStringLiteral("blocked/library")), qPrintable(window.messageText()));
        window.history()->add(outcome(2, QStringLiteral("still here")));
        QCOMPARE(window.history()->count(), 1);
        QVERIFY(!window.history()->entry(0).record);
        QVERIFY(QFileInfo::exists(window.history()->entry(0).cachedPng));  // the session copy
    }
};

QTEST_MAIN(TestGallery)
#include "test_gallery.moc"
