// The work in progress survives a restart and a crash, exactly: every input kind (prompts, settings, LoRAs,
// references with weights, crops and regions, the negative reference, ControlNet units with maps, Canny
// thresholds and sketches, the init image and the mask with its undo steps). Actions that replace what the
// artist made are one Ctrl+Z away. (The SIGKILL test is test_session_crash.)
#include <QtTest>

#include <QAction>
#include <QCheckBox>
#include <QPushButton>
#include <QComboBox>
#include <QCryptographicHash>
#include <QDoubleSpinBox>
#include <QFile>
#include <QJsonDocument>
#include <QListWidget>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QTabWidget>

#include "canvas_view.h"
#include "control_panel.h"
#include "generation_worker.h"
#include "history_panel.h"
#include "init_image_panel.h"
#include "lora_panel.h"
#include "main_window.h"
#include "picture_store.h"
#include "preset_store.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "sketch_pad.h"
#include "ui_test_env.h"
#include "work_session.h"

using ipstest::dataFile;

namespace {

// Which lines differ, for a failure message that says where.
QByteArray firstDifference(const QJsonObject& actual, const QJsonObject& expected) {
    const QList<QByteArray> a = QJsonDocument(actual).toJson().split('\n'), e = QJsonDocument(expected).toJson().split('\n');
    for (qsizetype i = 0; i < std::min(a.size(), e.size()); ++i)
        if (a[i] != e[i]) return "line " + QByteArray::number(i) + ": " + a[i].trimmed() + " instead of " + e[i].trimmed();
    return a.size() == e.size() ? QByteArray() : QByteArray("different lengths");
}

QString sha256Of(const QString& file) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromLatin1(QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex());
}

bool samePixels(const QImage& a, const QImage& b) {
    return a.size() == b.size() && a.convertToFormat(QImage::Format_ARGB32) == b.convertToFormat(QImage::Format_ARGB32);
}

void stroke(ipsui::MaskLayer& layer, QPointF from, QPointF to, double diameter) {
    layer.beginStroke(from, diameter, false);
    layer.extendStroke(to);
    layer.endStroke();
}

QAction* undoAction(ipsui::MainWindow& w) {
    for (QAction* menu : w.menuBar()->actions())
        for (QAction* a : menu->menu() ? menu->menu()->actions() : QList<QAction*>{})
            if (a->shortcut() == QKeySequence(QKeySequence::Undo)) return a;
    return nullptr;
}

}  // namespace

class TestSession : public QObject {
    Q_OBJECT
    QTemporaryDir dir;

    ipsui::AppContext context(const QString& session = QStringLiteral("session")) const {
        ipsui::AppContext c = ipstest::testContext(dir);
        c.sessionFolder = dir.filePath(session);
        return c;
    }

    // A copy the test may move or delete, as an artist's file might be.
    QString copyOf(const QString& data, const QString& name) const {
        const QString to = dir.filePath(name);
        QFile::remove(to);
        return QFile::copy(dataFile(data.toStdString()), to) ? to : QString();
    }

    // Builds a window full of work: every input kind the session keeps.
    void fillWithWork(ipsui::MainWindow& w, const QString& referenceFile, const QString& initFile) {
        w.promptEdit()->setPlainText(QStringLiteral("a lighthouse, ünïcødé \u6d77"));
        w.negativeEdit()->setPlainText(QStringLiteral("blurry"));
        w.settings()->stepsBox()->setValue(13);
        w.settings()->widthBox()->setValue(128);
        w.settings()->heightBox()->setValue(96);
        w.loras()->setEntries({{dataFile("lora/kohya_alpha.safetensors"), 0.6, true}, {dataFile("lora/peft.safetensors"), -0.3, false}});

        QImage pasted(40, 30, QImage::Format_RGB888);
        pasted.fill(QColor(10, 200, 30));
        QVERIFY(w.references()->addLoaded({ipsui::loadImageFile(referenceFile), ipsui::LoadedImage{{}, pasted, {}, false}}) == 2);
        w.references()->row(0)->setWeight(0.7);
        w.references()->row(1)->setCrop(ips::CropMode::Squash);
        QImage region(128, 96, QImage::Format_Grayscale8);
        region.fill(0);
        for (int y = 0; y < 96; ++y) std::fill_n(region.scanLine(y) + 64, 64, uchar(255));  // the right half
        w.references()->row(1)->setRegion(region);
        w.references()->setNegative(ipsui::loadImageFile(dataFile("images/gradient_64x64.png")));
        w.references()->setScale(0.55);

        ipsui::ControlUnit* canny = w.controls()->addUnit();
        canny->setSource(ipsui::ControlUnit::Source::Canny);
        QVERIFY(canny->setPicture(ipsui::loadImageFile(dataFile("images/scene_128x128.png"))));
        canny->setCannyThresholds(40, 120);
        ipsui::ControlUnit* sketch = w.controls()->addUnit();
        sketch->setSource(ipsui::ControlUnit::Source::Sketch);
        sketch->sketchPad()->layer().reset(QSize(128, 96));
        stroke(sketch->sketchPad()->layer(), {10, 10}, {100, 80}, 5);
        stroke(sketch->sketchPad()->layer(), {10, 80}, {100, 10}, 3);
        sketch->findChild<QCheckBox*>()->setChecked(false);  // switched off, kept

        QVERIFY(w.initImage()->setInitImage(ipsui::loadImageFile(initFile)));
        w.initImage()->setStrength(0.4);
        stroke(w.initImage()->mask(), {5, 5}, {60, 60}, 9);
        stroke(w.initImage()->mask(), {100, 10}, {20, 100}, 4);
        stroke(w.initImage()->mask(), {64, 0}, {64, 127}, 12);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
    }

    void pictureStoreKeepsEachPictureOnceByContent() {
        ipsui::PictureStore store(dir.filePath(QStringLiteral("store")));
        const QString file = copyOf(QStringLiteral("images/shapes_100x75.png"), QStringLiteral("shapes \u00e9t\u00e9.png"));
        QString error;
        const QJsonObject a = store.put(ipsui::loadImageFile(file), &error);
        const QJsonObject b = store.put(ipsui::loadImageFile(file), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        // The file's own bytes, named by their SHA-256, stored once.
        QCOMPARE(a.value(QStringLiteral("picture")).toString(), sha256Of(file) + QStringLiteral(".png"));
        QCOMPARE(a, b);
        QCOMPARE(QDir(store.folder()).entryList(QDir::Files).size(), 1);
        QCOMPARE(sha256Of(QDir(store.folder()).filePath(a.value(QStringLiteral("picture")).toString())), sha256Of(file));
        // Unchanged: the original file comes back (with its name); moved: the kept copy, same pixels.
        QCOMPARE(store.take(a).path, file);
        const QImage original(file);
        QVERIFY(QFile::rename(file, file + QStringLiteral(".moved")));
        const ipsui::LoadedImage kept = store.take(a);
        QVERIFY(kept.ok());
        QVERIFY(kept.path.isEmpty());
        QVERIFY(samePixels(kept.image, original));

        // A painted picture: PNG, grayscale stays grayscale, the same painting gets the same name.
        QImage mask(33, 17, QImage::Format_Grayscale8);
        for (int y = 0; y < 17; ++y)
            for (int x = 0; x < 33; ++x) mask.setPixel(x, y, qGray(x * 7 % 256, y * 13 % 256, 0));
        const QJsonObject m = store.putImage(mask, &error);
        QCOMPARE(store.putImage(mask.copy(), &error), m);
        const QImage back = store.image(m);
        QCOMPARE(back.format(), QImage::Format_Grayscale8);
        QCOMPARE(back, mask);

        // Pruning keeps what a state names and removes the rest.
        QSet<QString> names;
        ipsui::PictureStore::collectNames(QJsonObject{{QStringLiteral("deep"), QJsonArray{m}}}, names);
        store.keepOnly(names);
        QCOMPARE(QDir(store.folder()).entryList(QDir::Files), QStringList{m.value(QStringLiteral("picture")).toString()});
    }

    void everyInputKindRoundTripsThroughARestart() {
        const QString reference = copyOf(QStringLiteral("images/portrait_48x80.png"), QStringLiteral("portrait.png"));
        const QString init = copyOf(QStringLiteral("images/scene_128x128.png"), QStringLiteral("init.png"));
        QJsonObject before;
        QImage maskBefore, maskOneStrokeEarlier, sketchBefore;
        {
            ipsui::MainWindow w(context(QStringLiteral("roundtrip")));
            w.setModelConfig(ipstest::tinyModels());
            fillWithWork(w, reference, init);
            maskBefore = w.initImage()->mask().image();
            maskOneStrokeEarlier = w.initImage()->mask().undoSteps().back();
            sketchBefore = w.controls()->unit(1)->sketchPad()->layer().image();
            QVERIFY(w.autosaveNow());
            before = w.workState();
        }
        ipsui::MainWindow w(context(QStringLiteral("roundtrip")));
        w.setModelConfig(ipstest::tinyModels());
        // The restored window describes exactly the same work (pictures compared by content hash)...
        QCOMPARE(firstDifference(w.workState(), before), QByteArray());
        // ...and, read directly: the words, the files by their own names, the painted pixels, the undo steps.
        QCOMPARE(w.promptEdit()->toPlainText(), QStringLiteral("a lighthouse, ünïcødé \u6d77"));
        QCOMPARE(w.settings()->stepsBox()->value(), 13);
        QCOMPARE(w.references()->referenceCount(), 2);
        QCOMPARE(w.references()->row(0)->image().path, reference);
        QCOMPARE(w.references()->row(0)->weight(), 0.7);
        QVERIFY(w.references()->row(1)->image().path.isEmpty());  // the pasted one stays a picture in memory
        QCOMPARE(w.references()->row(1)->crop(), ips::CropMode::Squash);
        QCOMPARE(w.references()->row(1)->region().pixel(100, 50), qRgb(255, 255, 255));
        QCOMPARE(w.references()->row(1)->region().pixel(10, 50), qRgb(0, 0, 0));
        QCOMPARE(w.controls()->unitCount(), 2);
        QCOMPARE(w.controls()->unit(0)->source(), ipsui::ControlUnit::Source::Canny);
        QVERIFY(!w.controls()->unit(1)->isOn());
        QCOMPARE(w.controls()->unit(1)->sketchPad()->layer().image(), sketchBefore);
        QVERIFY(w.controls()->unit(1)->sketchPad()->layer().canUndo());
        QCOMPARE(w.initImage()->mask().image(), maskBefore);
        w.initImage()->undo();
        QCOMPARE(w.initImage()->mask().image(), maskOneStrokeEarlier);
        QCOMPARE(w.loras()->entries().size(), 2);
        QVERIFY(!w.loras()->entries().at(1).enabled);
        // A clean close is not reported as a crash.
        QVERIFY(!w.workSession()->lastRunEndedUnexpectedly());
    }

    void movedFilesComeBackFromTheKeptCopies() {
        const QString reference = copyOf(QStringLiteral("images/portrait_48x80.png"), QStringLiteral("moving portrait.png"));
        const QString init = copyOf(QStringLiteral("images/scene_128x128.png"), QStringLiteral("moving init.png"));
        const QImage referencePixels(reference), initPixels(init);
        {
            ipsui::MainWindow w(context(QStringLiteral("moved")));
            fillWithWork(w, reference, init);
            QVERIFY(w.autosaveNow());
        }
        QVERIFY(QFile::remove(reference));
        QVERIFY(QFile::remove(init));
        ipsui::MainWindow w(context(QStringLiteral("moved")));
        QCOMPARE(w.references()->referenceCount(), 2);
        QVERIFY(samePixels(w.references()->row(0)->image().image, referencePixels));
        QVERIFY(w.initImage()->hasInitImage());
        QVERIFY(samePixels(w.initImage()->canvas()->image(), initPixels));
    }

    void anUnexpectedEndIsToldAndADamagedSaveIsKeptAside() {
        const QString folder = dir.filePath(QStringLiteral("crashy"));
        {
            ipsui::WorkSession first(folder);
            QVERIFY(first.claim());
            QString error;
            QVERIFY(first.save(QJsonObject{{QStringLiteral("prompt"), QStringLiteral("x")}}, {}, &error));
            // Destroyed without closeCleanly(): what a crash leaves.
        }
        {
            ipsui::WorkSession second(folder);
            QVERIFY(second.claim());
            QVERIFY(second.lastRunEndedUnexpectedly());
            ipsui::WorkSession other(folder);
            QVERIFY(!other.claim());  // one owner at a time
            second.closeCleanly();
        }
        ipsui::WorkSession third(folder);
        QVERIFY(third.claim());
        QVERIFY(!third.lastRunEndedUnexpectedly());
        third.closeCleanly();

        QFile state(QDir(folder).filePath(QStringLiteral("state.json")));
        QVERIFY(state.open(QIODevice::WriteOnly));
        state.write("{\"prompt\": \"cut in the mid");
        state.close();
        ipsui::MainWindow w(context(QStringLiteral("crashy")));
        QVERIFY2(w.messageText().contains(QStringLiteral("state.json")), qPrintable(w.messageText()));
        QVERIFY(QFile::exists(QDir(folder).filePath(QStringLiteral("state.json.damaged"))));
    }

    void eachDestructiveActionIsOneUndo() {
        const QString reference = copyOf(QStringLiteral("images/portrait_48x80.png"), QStringLiteral("undo portrait.png"));
        const QString init = copyOf(QStringLiteral("images/scene_128x128.png"), QStringLiteral("undo init.png"));
        ipsui::MainWindow w(context(QStringLiteral("undo")));
        w.setModelConfig(ipstest::tinyModels());
        w.resize(1600, 1000);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        fillWithWork(w, reference, init);
        QAction* undo = undoAction(w);
        QVERIFY(undo);
        w.canvasTabs()->setCurrentIndex(0);  // off the mask tab: Ctrl+Z is the window's

        auto undoes = [&](const char* what, const std::function<void()>& action) {
            const QJsonObject before = w.workState();
            action();
            QVERIFY2(!firstDifference(w.workState(), before).isEmpty(), what);
            w.canvasTabs()->setCurrentIndex(0);
            undo->trigger();
            QVERIFY2(firstDifference(w.workState(), before).isEmpty(), what + (": " + firstDifference(w.workState(), before)));
        };
        undoes("clear references", [&] { QTest::mouseClick(w.references()->findChild<QPushButton*>(QStringLiteral("clearReferences")), Qt::LeftButton); });
        undoes("remove reference", [&] { Q_EMIT w.references()->row(1)->removeRequested(w.references()->row(1)); });
        undoes("remove a ControlNet unit", [&] { Q_EMIT w.controls()->unit(0)->removeRequested(w.controls()->unit(0)); });
        undoes("new init image (the painted mask goes)", [&] { w.initImage()->setInitImage(ipsui::loadImageFile(dataFile("images/wide_256x128.png"))); });
        undoes("load preset", [&] { QVERIFY(w.loadPreset(w.presets().list().first().name)); });

        ipsui::GenerationOutcome outcome;
        outcome.job = 1;
        outcome.seed = 5;
        outcome.request.model = ipstest::dataPath("tiny-sd15");
        outcome.request.prompt = "from the history";
        outcome.request.num_inference_steps = 4;
        outcome.images = {QImage(dataFile("images/scene_128x128.png"))};
        w.history()->add(outcome);
        // A click only shows the result; nothing in the window changes.
        auto* list = w.history()->findChild<QListWidget*>();
        const QByteArray before = QJsonDocument(w.workState()).toJson();
        list->clearSelection();
        list->setCurrentRow(-1);
        QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualItemRect(list->item(0)).center());
        QCOMPARE(w.history()->currentIndex(), 0);  // the click landed
        QCOMPARE(QJsonDocument(w.workState()).toJson(), before);
        // "Restore settings" keeps the pictures; "everything" brings back the result's (none): both undoable.
        undoes("restore settings", [&] { Q_EMIT w.history()->restoreRequested(0, false); });
        Q_EMIT w.history()->restoreRequested(0, false);
        QCOMPARE(w.promptEdit()->toPlainText(), QStringLiteral("from the history"));
        QCOMPARE(w.references()->referenceCount(), 2);
        undo->trigger();
        undoes("restore everything", [&] { Q_EMIT w.history()->restoreRequested(0, true); });
    }
};

QTEST_MAIN(TestSession)
#include "test_session.moc"
