// What a newcomer's walk-through asked of the window: presets that keep every setting, a preset box that
// never shows a preset as active before it is loaded, defaults by CPU, the last seed after a restart,
// the init image's size, the newest result of a batch, banners that neither move controls nor go stale,
// long names that never widen the window, and a layout that works at 1280x720.
#include <QtTest>

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSlider>
#include <QSpinBox>
#include <QAction>
#include <QTabWidget>

#include "canvas_view.h"
#include "control_panel.h"
#include "generation_worker.h"
#include "history_panel.h"
#include "init_image_panel.h"
#include "main_window.h"
#include "qt_convert.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "step_range_edit.h"
#include "ui_test_env.h"

using ipstest::dataFile;

namespace {

// The CPU's flags as the kernel lists them: an expectation independent of the app's cpuid reading.
bool procCpuinfoHasNativeBf16() {
    QFile info(QStringLiteral("/proc/cpuinfo"));
    if (!info.open(QIODevice::ReadOnly)) return false;
    const QByteArray text = info.readAll();
    for (const QByteArray& line : text.split('\n'))
        if (line.startsWith("flags")) {
            const QList<QByteArray> flags = line.split(' ');
            return flags.contains("avx512_bf16") || flags.contains("amx_bf16");
        }
    return false;
}

}  // namespace

class TestWalkthrough : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::unique_ptr<ipsui::MainWindow> window;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
        window = std::make_unique<ipsui::MainWindow>(ipstest::testContext(dir));
        window->setModelConfig(ipstest::tinyModels());
        window->resize(1600, 1000);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
    }

    void init() {
        window->references()->clearReferences();
        window->initImage()->clearInitImage();
        window->controls()->clearUnits();
    }

    void presetBoxShowsNoPresetUntilOneIsLoaded() {
        ipsui::MainWindow fresh(ipstest::testContext(dir));
        QCOMPARE(fresh.presetBox()->currentIndex(), 0);
        QVERIFY(fresh.presetBox()->currentData().toString().isEmpty());
        QVERIFY(fresh.loadedPreset().isEmpty());
        // Picking a name loads it at once.
        const int style = fresh.presetBox()->findData(QStringLiteral("style transfer"));
        QVERIFY(style > 0);
        fresh.presetBox()->setCurrentIndex(style);
        Q_EMIT fresh.presetBox()->activated(style);
        QCOMPARE(fresh.loadedPreset(), QStringLiteral("style transfer"));
        QCOMPARE(fresh.references()->modeBox()->currentData().toString(), QStringLiteral("style"));
    }

    void presetKeepsEverySettingTheWindowShows() {
        ipsui::SettingsPanel* s = window->settings();
        ipsui::ReferencePanel* refs = window->references();
        QCOMPARE(refs->addLoaded({ipsui::loadImageFile(dataFile("images/scene_128x128.png"))}), 1);
        refs->row(0)->setCrop(ips::CropMode::Squash);
        refs->setScale(0.45);
        refs->modeBox()->setCurrentIndex(refs->modeBox()->findData(QStringLiteral("composition")));
        window->promptEdit()->setPlainText(QStringLiteral("a red kite"));
        window->negativeEdit()->setPlainText(QStringLiteral("blurry"));
        s->widthBox()->setValue(384);
        s->heightBox()->setValue(256);
        s->stepsBox()->setValue(13);
        s->guidanceBox()->setValue(4.5);
        s->samplerBox()->setCurrentIndex(s->samplerBox()->findData(QStringLiteral("euler_a")));
        s->randomSeedBox()->setChecked(false);
        s->seedEdit()->setText(QStringLiteral("777"));
        s->precisionBox()->setCurrentIndex(s->precisionBox()->findData(QStringLiteral("float32")));
        window->initImage()->setStrength(0.35);
        ipsui::ControlUnit* unit = window->controls()->addUnit();
        ips::ControlNetSettings cn;
        cn.path = ipstest::dataPath("tiny-controlnet");
        cn.conditioning_scale = 0.6;
        cn.start = 0.1;
        cn.end = 0.8;
        unit->applyKnobs(cn);
        QVERIFY(window->savePreset(QStringLiteral("everything"), false));

        // Change every one of them, then pick the preset.
        refs->row(0)->setCrop(ips::CropMode::Center);
        refs->setScale(1.0);
        refs->modeBox()->setCurrentIndex(0);
        window->promptEdit()->setPlainText(QStringLiteral("other"));
        window->negativeEdit()->setPlainText(QString());
        s->widthBox()->setValue(512);
        s->heightBox()->setValue(512);
        s->stepsBox()->setValue(30);
        s->guidanceBox()->setValue(7.5);
        s->samplerBox()->setCurrentIndex(0);
        s->randomSeedBox()->setChecked(true);
        s->precisionBox()->setCurrentIndex(s->precisionBox()->findData(QStringLiteral("bfloat16")));
        window->initImage()->setStrength(0.8);
        window->controls()->clearUnits();
        const ips::GenerationRequest changed = window->settingsRequest();

        const int index = window->presetBox()->findData(QStringLiteral("everything"));
        QVERIFY(index > 0);
        Q_EMIT window->presetBox()->activated(index);
        QCOMPARE(window->presetBox()->currentData().toString(), QStringLiteral("everything"));
        QCOMPARE(refs->row(0)->crop(), ips::CropMode::Squash);
        QCOMPARE(refs->scale(), 0.45);
        QCOMPARE(refs->modeBox()->currentData().toString(), QStringLiteral("composition"));
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("a red kite"));
        QCOMPARE(window->negativeEdit()->toPlainText(), QStringLiteral("blurry"));
        QCOMPARE(s->outputSize(), QSize(384, 256));
        QCOMPARE(s->stepsBox()->value(), 13);
        QCOMPARE(s->guidanceBox()->value(), 4.5);
        QCOMPARE(s->samplerBox()->currentData().toString(), QStringLiteral("euler_a"));
        QCOMPARE(s->seed().value_or(0), quint64(777));
        QCOMPARE(s->precisionBox()->currentData().toString(), QStringLiteral("float32"));
        QCOMPARE(window->initImage()->strength(), 0.35);
        QCOMPARE(window->controls()->unitCount(), 1);
        const auto knobs = window->controls()->knobs();
        QCOMPARE(int(knobs.size()), 1);
        QCOMPARE(ipsui::fromFsPath(knobs[0].path), dataFile("tiny-controlnet"));
        QCOMPARE(knobs[0].conditioning_scale, 0.6);
        QCOMPARE(knobs[0].start, 0.1);
        QCOMPARE(knobs[0].end, 0.8);
        // A reference added now gets the preset's crop mode.
        QCOMPARE(refs->addLoaded({ipsui::loadImageFile(dataFile("images/wide_256x128.png"))}), 1);
        QCOMPARE(refs->row(1)->crop(), ips::CropMode::Squash);
        QVERIFY(window->messageText().contains(QStringLiteral("Undo")));

        // Undo puts back the settings from before the load.
        window->undoPresetLoad();
        const ips::GenerationRequest back = window->settingsRequest();
        QCOMPARE(back.width, changed.width);
        QCOMPARE(back.num_inference_steps, changed.num_inference_steps);
        QCOMPARE(back.scheduler, changed.scheduler);
        QCOMPARE(back.seed.has_value(), false);
        QCOMPARE(back.dtype, changed.dtype);
        QCOMPARE(back.prompt, changed.prompt);
        QCOMPARE(back.negative_prompt, changed.negative_prompt);
        QCOMPARE(back.ip_adapters.front().scale, 1.0);
        QCOMPARE(window->presetBox()->currentIndex(), 0);
        // The save dialog says what is kept and what is not.
        QVERIFY(ipsui::MainWindow::presetContentsText().contains(QStringLiteral("Not kept: pictures")));
    }

    void precisionDefaultFollowsTheCpu() {
        const bool native = procCpuinfoHasNativeBf16();
        QCOMPARE(ipsui::SettingsPanel::defaultPrecision(), native ? QStringLiteral("bfloat16") : QStringLiteral("float32"));
        ipsui::SettingsPanel fresh;
        QCOMPARE(fresh.precisionBox()->currentData().toString(), ipsui::SettingsPanel::defaultPrecision());
        // Labelled by what the artist gets.
        QVERIFY(fresh.precisionBox()->itemText(fresh.precisionBox()->findData(QStringLiteral("bfloat16"))).startsWith(QStringLiteral("Fast")));
        QVERIFY(fresh.precisionBox()->itemText(fresh.precisionBox()->findData(QStringLiteral("float32"))).startsWith(QStringLiteral("Exact")));
    }

    void lastSeedSurvivesARestart() {
        QSettings().remove(QStringLiteral("session/lastSeed"));
        {
            ipsui::SettingsPanel first;
            QVERIFY(!first.reuseLastSeed());  // nothing yet: the window says so (see below)
            first.setLastSeed(987654321);
        }
        ipsui::SettingsPanel second;
        QVERIFY(second.reuseLastSeed());
        QCOMPARE(second.seed().value_or(0), quint64(987654321));
        QSettings().remove(QStringLiteral("session/lastSeed"));
        ipsui::MainWindow fresh(ipstest::testContext(dir));
        
        fresh.show();
        QAction* reuse = nullptr;
        for (QAction* a : fresh.findChildren<QAction*>())
            if (a->shortcut() == QKeySequence(QStringLiteral("Ctrl+R"))) reuse = a;
        QVERIFY(reuse);
        reuse->trigger();
        QVERIFY2(fresh.messageText().contains(QStringLiteral("no last seed")), qPrintable(fresh.messageText()));
    }

    void initImageSizeIsOffered() {
        QCOMPARE(ipsui::InitImagePanel::generationSizeFor({320, 240}), QSize(320, 240));
        QCOMPARE(ipsui::InitImagePanel::generationSizeFor({1001, 333}), QSize(1000, 336));
        QCOMPARE(ipsui::InitImagePanel::generationSizeFor({20000, 10000}), QSize(2048, 1024));
        QCOMPARE(ipsui::InitImagePanel::generationSizeFor({30, 500}), QSize(64, 504));
        window->settings()->widthBox()->setValue(128);
        window->settings()->heightBox()->setValue(128);
        QVERIFY(window->initImage()->setInitImage(ipsui::loadImageFile(dataFile("images/pattern_320x240.png"))));
        QVERIFY2(window->initImage()->aspectNote().contains(QStringLiteral("320\u00d7240")), qPrintable(window->initImage()->aspectNote()));
        QPushButton* use = nullptr;
        for (auto* b : window->initImage()->findChildren<QPushButton*>())
            if (b->text().startsWith(QStringLiteral("Use its size"))) use = b;
        QVERIFY(use && use->isVisibleTo(window->initImage()));
        use->click();
        QCOMPARE(window->settings()->outputSize(), QSize(320, 240));
        QVERIFY(window->initImage()->aspectNote().isEmpty());
    }

    void batchShowsTheNewestResult() {
        ipsui::GenerationOutcome outcome;
        outcome.job = 7;
        outcome.seed = 5;
        outcome.request.model = ipstest::dataPath("tiny-sd15");
        QImage first(64, 64, QImage::Format_RGB888), second(64, 64, QImage::Format_RGB888);
        first.fill(Qt::red);
        second.fill(Qt::blue);
        outcome.images = {first, second};
        window->history()->add(outcome);
        QCOMPARE(window->history()->currentIndex(), window->history()->count() - 1);
        QCOMPARE(window->resultCanvas()->image().pixelColor(10, 10), QColor(Qt::blue));
    }

    void loadingIsItsOwnStage() {
        // The status bar during loading: bytes read and the stage's own clock (3.4 GB from disk take ~20 s).
        const QString text = ipsui::MainWindow::loadingText(quint64(3400) << 20, 20.2);
        QVERIFY2(text.startsWith(QStringLiteral("Loading models")) && text.contains(QStringLiteral("3.32 GiB read")) &&
                     text.contains(QStringLiteral("20 s")),
                 qPrintable(text));
        QVERIFY(!ipsui::MainWindow::loadingText(0, 3).contains(QStringLiteral("B read")));
    }

    void stepRangeReadsInPercent() {
        ipsui::StepRangeEdit range;
        range.setRange(0.25, 0.5);
        auto boxes = range.findChildren<QDoubleSpinBox*>();
        QCOMPARE(boxes.size(), 2);
        QCOMPARE(boxes[0]->text(), QStringLiteral("25.0 %"));
        QCOMPARE(boxes[1]->text(), QStringLiteral("50.0 %"));
        boxes[1]->setValue(80.0);
        QCOMPARE(range.end(), 0.8);
    }

    void bannersNeitherMoveControlsNorGoStale() {
        QPushButton* generate = nullptr;
        for (auto* b : window->findChildren<QPushButton*>())
            if (b->text() == QStringLiteral("Generate")) generate = b;
        QVERIFY(generate);
        window->banner()->hide();
        QApplication::processEvents();
        const QPoint before = generate->mapTo(window.get(), QPoint(0, 0));
        const QRect canvasBefore = window->canvasTabs()->geometry();
        // A ControlNet unit with a model but no map: Generate says so.
        ipsui::ControlUnit* unit = window->controls()->addUnit();
        ips::ControlNetSettings cn;
        cn.path = ipstest::dataPath("tiny-controlnet");
        unit->applyKnobs(cn);
        window->generate();
        QVERIFY2(window->messageText().contains(QStringLiteral("no map yet")), qPrintable(window->messageText()));
        QApplication::processEvents();
        QCOMPARE(generate->mapTo(window.get(), QPoint(0, 0)), before);
        QCOMPARE(window->canvasTabs()->geometry(), canvasBefore);
        QVERIFY(window->banner()->geometry().intersects(window->canvasTabs()->geometry().translated(window->canvasTabs()->parentWidget()->mapTo(window->centralWidget(), QPoint(0, 0)))));
        // Setting the map takes the banner down.
        QVERIFY(unit->setPicture(ipsui::loadImageFile(dataFile("images/control_edges_128x128.png"))));
        QTRY_VERIFY(window->messageText().isEmpty());
        window->controls()->clearUnits();
        // Model advice follows what is still missing (one thing: "it", not "them").
        ipsui::ModelConfig partial = ipstest::tinyModels();
        partial.imageEncoder.clear();
        window->setModelConfig(partial);
        QVERIFY2(window->messageText().contains(QStringLiteral("image encoder")) && window->messageText().contains(QStringLiteral("Download it")),
                 qPrintable(window->messageText()));
        window->setModelConfig(ipstest::tinyModels());
        QVERIFY(window->messageText().isEmpty());
    }

    void longNamesNeverWidenTheWindow() {
        window->resize(1500, 900);
        QApplication::processEvents();
        const int width = window->width();
        const QString longName = dir.filePath(QString(120, QLatin1Char('x')) + QStringLiteral("-result.png"));
        QVERIFY(QFile::copy(dataFile("images/scene_128x128.png"), longName));
        QCOMPARE(window->references()->addLoaded({ipsui::loadImageFile(longName)}), 1);
        QVERIFY(window->initImage()->setInitImage(ipsui::loadImageFile(longName)));
        ipsui::ControlUnit* unit = window->controls()->addUnit();
        QVERIFY(unit->setPicture(ipsui::loadImageFile(longName)));
        QApplication::processEvents();
        QCOMPARE(window->width(), width);
        QScrollArea* left = nullptr;
        for (QWidget* w = window->references(); w && !left; w = w->parentWidget()) left = qobject_cast<QScrollArea*>(w);
        QVERIFY(left);
        QVERIFY(!left->horizontalScrollBar()->isVisible());
        QVERIFY(window->minimumSizeHint().width() <= 1280);
    }

    void layoutWorksAt1280x720() {
        window->resize(1280, 720);
        QApplication::processEvents();
        QVERIFY2(window->minimumSizeHint().width() <= 1280 && window->minimumSizeHint().height() <= 720,
                 qPrintable(QStringLiteral("%1x%2").arg(window->minimumSizeHint().width()).arg(window->minimumSizeHint().height())));
        QCOMPARE(window->size(), QSize(1280, 720));
        // The mask toolbar keeps a usable brush slider, and the canvas keeps most of the middle.
        window->canvasTabs()->setCurrentWidget(window->initImage());
        QApplication::processEvents();
        auto* brush = window->initImage()->findChild<QSlider*>();
        QVERIFY(brush && brush->width() >= 70);
        QVERIFY2(window->initImage()->canvas()->height() >= 300, qPrintable(QString::number(window->initImage()->canvas()->height())));
        QVERIFY2(window->resultCanvas()->width() >= 450, qPrintable(QString::number(window->resultCanvas()->width())));
        window->canvasTabs()->setCurrentWidget(window->resultCanvas());
        window->resize(1600, 1000);
    }
};

QTEST_MAIN(TestWalkthrough)
#include "test_walkthrough.moc"
