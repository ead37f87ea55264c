// Live mode: the live request made from the window's, frames that follow edits (replacing the running one),
// Keep and Refine, Generate while Live runs, and Live without a model.
#include <QAction>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include "canvas_view.h"
#include "ips/weight_packing.h"
#include "history_panel.h"
#include "init_image_panel.h"
#include "qt_convert.h"
#include "live_bar.h"
#include "live_controller.h"
#include "live_request.h"
#include "settings_panel.h"
#include "ui_test_env.h"
#include "worker_host.h"

namespace {

ips::GenerationRequest windowRequest() {
    ips::GenerationRequest q;
    q.model = "/models/sd15";
    q.prompt = "a lighthouse";
    q.width = 512;
    q.height = 768;
    q.num_inference_steps = 30;
    q.guidance_scale = 7.5;
    q.scheduler = "dpmpp_2m";
    q.num_images_per_prompt = 3;
    return q;
}

}  // namespace

class TestLive : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::unique_ptr<ipsui::MainWindow> window;

    // Waits for the next frame shown, up to `ms`; returns its request's prompt.
    bool waitFrame(QSignalSpy& frames, int count, int ms = 120000) {
        QElapsedTimer t;
        t.start();
        while (frames.count() < count && t.elapsed() < ms) QTest::qWait(20);
        return frames.count() >= count;
    }
    QString framePrompt() const {
        return QString::fromStdString(window->live()->lastFrame() ? window->live()->lastFrame()->request.prompt : std::string());
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
        window = std::make_unique<ipsui::MainWindow>(ipstest::testContext(dir));
        window->setModelConfig(ipstest::tinyModels());
        window->settings()->widthBox()->setValue(64);
        window->settings()->heightBox()->setValue(64);
        window->resize(1400, 900);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
    }

    void liveRequestTakesThePresetSizeAndSeed() {
        ipsui::LiveSettings s;
        s.preset = QStringLiteral("lcm4");
        s.size = 384;
        const auto q = ipsui::liveRequest(windowRequest(), s, 42);
        QCOMPARE(q.scheduler, std::string("lcm"));
        QCOMPARE(q.num_inference_steps, 4);
        QCOMPARE(q.guidance_scale, 1.0);
        QCOMPARE(*q.seed, std::uint64_t(42));
        QCOMPARE(q.num_images_per_prompt, 1);
        // 512x768 to a longer side of 384, aspect kept, multiples of 8.
        QCOMPARE(q.width, 256);
        QCOMPARE(q.height, 384);
        QCOMPARE(q.prompt, std::string("a lighthouse"));
        QVERIFY(!q.deep_cache);

        s.preset = QStringLiteral("hyper8cfg");
        s.size = 0;
        s.deepCache = true;
        const auto hyper = ipsui::liveRequest(windowRequest(), s, 1);
        QCOMPARE(hyper.scheduler, std::string("euler"));
        QCOMPARE(hyper.timestep_spacing, std::string("trailing"));
        QCOMPARE(hyper.num_inference_steps, 8);
        QCOMPARE(hyper.guidance_scale, 3.5);
        QCOMPARE(hyper.width, 512);  // size 0: the output size
        QVERIFY(hyper.deep_cache && hyper.deep_cache->interval == 2);

        // TAESD frames only where a preview decoder is installed.
        QVERIFY(!hyper.draft_decode);
        auto withDecoder = windowRequest();
        withDecoder.preview_decoder = "/models/taesd";
        QVERIFY(ipsui::liveRequest(withDecoder, s, 1).draft_decode);
        s.tinyFrames = false;
        QVERIFY(!ipsui::liveRequest(withDecoder, s, 1).draft_decode);

        s.preset = QStringLiteral("own");
        const auto own = ipsui::liveRequest(windowRequest(), s, 1);
        QCOMPARE(own.scheduler, std::string("dpmpp_2m"));
        QCOMPARE(own.num_inference_steps, 30);
    }

    void liveStrengthForImg2imgOnly() {
        ipsui::LiveSettings s;
        s.strength = 0.3;
        auto full = windowRequest();
        full.init_image = ips::ImageSource{"/pictures/sketch.png", nullptr};
        full.strength = 0.8;
        QCOMPARE(*ipsui::liveRequest(full, s, 1).strength, 0.3);
        // LCM picks 4 steps among 50 x strength timesteps: a strength under 4/50 is raised to it.
        s.strength = 0.05;
        QCOMPARE(*ipsui::liveRequest(full, s, 1).strength, 0.08);
        // Inpainting keeps the window's strength.
        full.mask_image = ips::ImageSource{"/pictures/mask.png", nullptr};
        QCOMPARE(*ipsui::liveRequest(full, s, 1).strength, 0.8);
    }

    void framesFollowEditsAndStayOutOfHistory() {
        window->promptEdit()->setPlainText(QStringLiteral("a red fox"));
        QSignalSpy frames(window->live(), &ipsui::LiveController::frameShown);
        const int historyBefore = window->history()->count();
        window->liveAction()->setChecked(true);
        QVERIFY(window->live()->enabled());
        QVERIFY(waitFrame(frames, 1));
        QCOMPARE(framePrompt(), QStringLiteral("a red fox"));
        QCOMPARE(window->live()->lastFrame()->request.scheduler, std::string("lcm"));
        QCOMPARE(window->history()->count(), historyBefore);
        const auto seed = window->live()->seed();
        QCOMPARE(window->live()->lastFrame()->seed, seed);
        QVERIFY(window->liveBar()->indicatorText().contains(QStringLiteral("live")));

        // Typing: each keystroke is an edit; the last frame shows the whole word, with the same seed.
        for (const QString& text : {QStringLiteral("a blue"), QStringLiteral("a blue fox"), QStringLiteral("a blue fox, night")}) {
            window->promptEdit()->setPlainText(text);
            QTest::qWait(5);
        }
        QElapsedTimer t;
        t.start();
        while ((framePrompt() != QStringLiteral("a blue fox, night") || window->live()->stale()) && t.elapsed() < 120000) QTest::qWait(20);
        QCOMPARE(framePrompt(), QStringLiteral("a blue fox, night"));
        QCOMPARE(window->live()->lastFrame()->seed, seed);
        QCOMPARE(window->history()->count(), historyBefore);
        QVERIFY(!window->isGenerating());
        QVERIFY(frames.count() <= 4);  // coalesced or replaced: never more frames than edits

        // Keep: the frame goes to the history with its request.
        window->liveBar()->keepButton()->click();
        QCOMPARE(window->history()->count(), historyBefore + 1);
        QCOMPARE(window->history()->entry(window->history()->count() - 1).request.prompt, std::string("a blue fox, night"));
    }

    void refineRunsTheFullSettingsWithTheLiveSeed() {
        QVERIFY(window->live()->enabled());
        window->settings()->stepsBox()->setValue(3);
        const int before = window->history()->count();
        QSignalSpy ended(window.get(), &ipsui::MainWindow::generationEnded);
        window->liveBar()->refineButton()->click();
        QElapsedTimer t;
        t.start();
        while (window->history()->count() == before && t.elapsed() < 120000) QTest::qWait(20);
        QCOMPARE(window->history()->count(), before + 1);
        const auto& refined = window->history()->entry(before);
        QCOMPARE(refined.seed, window->live()->seed());
        QCOMPARE(refined.request.num_inference_steps, 3);
        QCOMPARE(refined.request.scheduler, window->settingsRequest().scheduler);
    }

    void keepDecodesATaesdFrameWithTheVae() {
        auto models = ipstest::tinyModels();
        models.previewDecoder = ipstest::dataFile("tiny-taesd");
        window->setModelConfig(models);
        QSignalSpy frames(window->live(), &ipsui::LiveController::frameShown);
        window->promptEdit()->setPlainText(QStringLiteral("a green door"));
        QVERIFY(waitFrame(frames, 1));
        QElapsedTimer t;
        t.start();
        while ((framePrompt() != QStringLiteral("a green door") || window->live()->stale()) && t.elapsed() < 120000) QTest::qWait(20);
        QVERIFY(window->live()->lastFrame()->request.draft_decode);
        const int before = window->history()->count();
        window->liveBar()->keepButton()->click();
        t.restart();
        while (window->history()->count() == before && t.elapsed() < 120000) QTest::qWait(20);
        QCOMPARE(window->history()->count(), before + 1);
        const auto& kept = window->history()->entry(before);
        QVERIFY(!kept.request.draft_decode);
        QCOMPARE(kept.seed, window->live()->seed());
        QCOMPARE(kept.request.prompt, std::string("a green door"));
        QCOMPARE(kept.request.num_inference_steps, window->live()->lastFrame()->request.num_inference_steps);
        window->setModelConfig(ipstest::tinyModels());
    }

    void paintingOnTheInitImageDrivesLive() {
        // Live on while the init image is being painted: the tab stays, the frame shows in the canvas's corner,
        // and a colour stroke makes an img2img frame from the painted picture at the live strength.
        window->liveAction()->setChecked(false);
        window->canvasTabs()->setCurrentWidget(window->initImage());
        window->initImage()->newBlankCanvas({64, 64});
        window->initImage()->setBrushDiameter(8);
        window->initImage()->setPaintColour(QColor(0, 0, 255));
        QSignalSpy frames(window->live(), &ipsui::LiveController::frameShown);
        window->liveAction()->setChecked(true);
        QVERIFY(waitFrame(frames, 1));
        QCOMPARE(window->canvasTabs()->currentWidget(), static_cast<QWidget*>(window->initImage()));
        QVERIFY(window->initImage()->livePreview()->isVisible());

        ipsui::CanvasView* canvas = window->initImage()->canvas();
        const QPoint from = canvas->toWidget({8, 32}).toPoint(), to = canvas->toWidget({56, 32}).toPoint();
        QTest::mousePress(canvas, Qt::LeftButton, Qt::NoModifier, from);
        for (int i = 1; i <= 6; ++i) QTest::mouseMove(canvas, from + (to - from) * i / 6);
        QTest::mouseRelease(canvas, Qt::LeftButton, Qt::NoModifier, to);
        auto paintedFrame = [&] {
            const auto& frame = window->live()->lastFrame();
            return frame && frame->request.init_image && frame->request.init_image->image &&
                   ipsui::toQImage(*frame->request.init_image->image).pixelColor(32, 32) == QColor(0, 0, 255);
        };
        QElapsedTimer t;
        t.start();
        while ((!paintedFrame() || window->live()->stale()) && t.elapsed() < 120000) QTest::qWait(20);
        QVERIFY(paintedFrame());
        QCOMPARE(*window->live()->lastFrame()->request.strength, window->liveBar()->settings().strength);
        window->liveAction()->setChecked(false);
        QVERIFY(!window->initImage()->livePreview()->isVisible());
        window->initImage()->clearInitImage();
    }

    // While edits coalesce (frames slower than the threshold) the worker encodes the edited prompt in the wait:
    // the frame then finds it cached. Frames run with the window's thread count, so switching between Generate
    // and Live never rebuilds the engine (and reloads every model).
    void editsPreparePromptsWhileTheyCoalesce() {
        auto* live = window->live();
        auto* worker = window->worker()->worker();
        window->liveAction()->setChecked(false);
        window->settings()->setThreads(1);
        QSignalSpy frames(live, &ipsui::LiveController::frameShown);
        window->promptEdit()->setPlainText(QStringLiteral("a grey heron"));
        window->liveAction()->setChecked(true);
        QVERIFY(waitFrame(frames, 1));
        const int engines = worker->pipelinesBuilt();
        live->setCoalescing(0, 400);  // every frame counts as slow: edits wait 0.4 s
        const int prepared = worker->promptsPrepared();
        QTRY_VERIFY(!live->stale());
        window->promptEdit()->setPlainText(QStringLiteral("a grey heron at dawn"));
        // Encoded while the edit waits, before any frame starts.
        QTRY_COMPARE_WITH_TIMEOUT(worker->promptsPrepared(), prepared + 1, 5000);
        QVERIFY(live->stale());
        QVERIFY(waitFrame(frames, 2));
        QCOMPARE(framePrompt(), QStringLiteral("a grey heron at dawn"));
        // Same prompts again (another kind of edit): nothing to encode ahead.
        live->edited();
        QVERIFY(waitFrame(frames, 3));
        QCOMPARE(worker->promptsPrepared(), prepared + 1);
        live->setCoalescing(ipsui::LiveController::kSlowFrameMs, ipsui::LiveController::kCoalesceMs);
        window->liveAction()->setChecked(false);
        QTRY_VERIFY_WITH_TIMEOUT(!window->isGenerating(), 60000);
        // Generate with the same thread count: the engine (and its models) stays.
        QSignalSpy ended(window.get(), &ipsui::MainWindow::generationEnded);
        window->generate();
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 120000);
        QCOMPARE(worker->pipelinesBuilt(), engines);
        window->settings()->setThreads(0);
    }

    // Live packs convolution weights while it runs (where the CPU has the kernel) and frees them after.
    void livePacksWeightsWhileOn() {
        window->liveAction()->setChecked(false);
        ips::set_weight_packing(true);
        const bool cpuPacks = ips::weight_packing();
        ips::set_weight_packing(false);
        QVERIFY(!ips::weight_packing());
        window->liveAction()->setChecked(true);
        QCOMPARE(ips::weight_packing(), cpuPacks);
        window->liveAction()->setChecked(false);
        QVERIFY(!ips::weight_packing());
    }

    void liveOffStopsFrames() {
        window->liveAction()->setChecked(false);
        QVERIFY(!window->live()->enabled());
        QSignalSpy frames(window->live(), &ipsui::LiveController::frameShown);
        window->promptEdit()->setPlainText(QStringLiteral("no frame for this"));
        QTest::qWait(300);
        QCOMPARE(frames.count(), 0);
        QVERIFY(window->liveBar()->indicatorText().contains(QStringLiteral("off")));
    }

    void liveWithoutAModelSaysSo() {
        ipsui::MainWindow bare(ipstest::testContext(dir));
        bare.show();
        bare.liveAction()->setChecked(true);
        QTest::qWait(50);
        QVERIFY(bare.banner()->isVisible());
        QVERIFY(bare.messageText().contains(QStringLiteral("No base model")));
        QVERIFY(!bare.isGenerating());
        bare.liveAction()->setChecked(false);
    }
};

QTEST_MAIN(TestLive)
#include "test_live.moc"
