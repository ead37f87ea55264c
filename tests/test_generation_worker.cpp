// The worker thread with the tiny fixture model: previews, results identical to the CLI's, cancel,
// errors as messages, and a UI thread that stays responsive while it works.
#include <QApplication>
#include <QProcess>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include "generation_worker.h"
#include "canvas_view.h"
#include "history_panel.h"
#include "ips/request_json.h"
#include "latency_probe.h"
#include "main_window.h"
#include "qt_convert.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "ui_test_env.h"
#include "worker_host.h"

using ipstest::dataFile;
using ipstest::dataPath;

namespace {

ips::GenerationRequest tinyRequest(int size, int steps) {
    ips::GenerationRequest q;
    q.model = dataPath("tiny-sd15");
    q.prompt = "a red cube on a table";
    q.negative_prompt = "blurry";
    q.width = q.height = size;
    q.num_inference_steps = steps;
    q.seed = 1234;
    q.scheduler = "dpmpp_2m_karras";
    ips::IpAdapterSettings ip;
    ip.path = dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors");
    ip.image_encoder = dataPath("tiny-sd15/image_encoder");
    ip.images = {{dataPath("images/shapes_100x75.png"), nullptr}};
    ip.scale = 0.7;
    q.ip_adapters = {ip};
    return q;
}

struct Recorder {
    int previews = 0, progress = 0, lastStep = 0;
    QStringList stages;
    std::optional<ipsui::GenerationOutcome> outcome;
    QString failure;
    bool cancelled = false;
    bool done = false;
};

}  // namespace

class TestGenerationWorker : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::unique_ptr<ipsui::WorkerHost> host;
    Recorder rec;

    // Runs `request` on the worker and keeps the UI thread's event loop turning until it ends.
    void run(const ips::GenerationRequest& request) {
        rec = Recorder{};
        host->submit(request, 2);
        QTRY_VERIFY_WITH_TIMEOUT(rec.done, 300000);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
        host = std::make_unique<ipsui::WorkerHost>(ips::PipelineOptions{{}, 2});
        ipsui::GenerationWorker* w = host->worker();
        // Direct: counted on the worker thread, and acknowledged at once, so none is coalesced away.
        connect(w, &ipsui::GenerationWorker::preview, w, [this, w](quint64, const QImage& image) {
            if (!image.isNull()) ++rec.previews;
            w->previewShown();
        }, Qt::DirectConnection);
        connect(w, &ipsui::GenerationWorker::progress, this, [this](quint64, int step, int, double) {
            ++rec.progress;
            rec.lastStep = step;
        });
        connect(w, &ipsui::GenerationWorker::stageChanged, this, [this](quint64, const QString& s) { rec.stages << s; });
        connect(w, &ipsui::GenerationWorker::finished, this, [this](const ipsui::GenerationOutcome& o) {
            rec.outcome = o;
            rec.done = true;
        });
        connect(w, &ipsui::GenerationWorker::failed, this, [this](quint64, const QString& m) {
            rec.failure = m;
            rec.done = true;
        });
        connect(w, &ipsui::GenerationWorker::cancelled, this, [this](quint64) {
            rec.cancelled = true;
            rec.done = true;
        });
    }

    void onePreviewPerStepAndTheCliImage() {
        const auto request = tinyRequest(128, 6);
        run(request);
        QVERIFY2(rec.outcome, qPrintable(rec.failure));
        QCOMPARE(rec.previews, 6);
        QCOMPARE(rec.lastStep, 6);
        QVERIFY(rec.stages.contains(QStringLiteral("loading models")));
        QVERIFY(rec.stages.contains(QStringLiteral("denoising")));
        QCOMPARE(rec.outcome->seed, quint64(1234));
        QCOMPARE(rec.outcome->images.size(), 1);

        // The CLI, given the same request as a file, writes the same pixels.
        const QString requestFile = dir.filePath(QStringLiteral("request.json"));
        const QString png = dir.filePath(QStringLiteral("cli.png"));
        ips::write_request_file(ipsui::toFsPath(requestFile), request);
        QProcess cli;
        cli.start(QStringLiteral(IPS_CLI_PATH), {QStringLiteral("generate"), requestFile, QStringLiteral("--output"), png,
                                                 QStringLiteral("--quiet"), QStringLiteral("--threads"), QStringLiteral("2")});
        QVERIFY(cli.waitForFinished(300000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const QImage fromCli = QImage(png).convertToFormat(QImage::Format_RGB888);
        QCOMPARE(rec.outcome->images.front().convertToFormat(QImage::Format_RGB888), fromCli);
    }

    void previewsAreCoalescedWhenTheUiIsBusy() {
        // A receiver that never says it has shown a preview gets exactly one: nothing piles up.
        ipsui::WorkerHost other(ips::PipelineOptions{{}, 2});
        int previews = 0;
        bool done = false;
        QObject context;  // connections end with this scope
        connect(other.worker(), &ipsui::GenerationWorker::preview, &context, [&](quint64, const QImage&) { ++previews; });
        connect(other.worker(), &ipsui::GenerationWorker::finished, &context, [&](const ipsui::GenerationOutcome&) { done = true; });
        connect(other.worker(), &ipsui::GenerationWorker::failed, &context, [&](quint64, const QString&) { done = true; });
        other.submit(tinyRequest(64, 5), 2);
        QTRY_VERIFY_WITH_TIMEOUT(done, 300000);
        QCOMPARE(previews, 1);
    }

    void cancelStopsWithinAStep() {
        // Cancel from the worker's own progress report after step 1 (direct, so the step is exact):
        // the step running then may finish, no later one starts.
        std::atomic<int> stepAtCancel{-1};
        std::atomic<int> lastStep{0};
        {
            QObject context;  // the connection dies with it, even when a check below fails
            // The job id comes with the signal: the host's activeJob() belongs to the UI thread and is not read here.
            connect(host->worker(), &ipsui::GenerationWorker::progress, &context, [&](quint64 job, int step, int, double) {
                lastStep = step;
                if (step == 1 && stepAtCancel < 0) {
                    stepAtCancel = step;
                    host->worker()->cancel(job);
                }
            }, Qt::DirectConnection);
            run(tinyRequest(128, 40));
        }
        QVERIFY(rec.cancelled);
        QVERIFY(!rec.outcome);
        QCOMPARE(stepAtCancel.load(), 1);
        QVERIFY2(lastStep <= 2, qPrintable(QString::number(lastStep)));
        // The worker is reusable: the next request finishes.
        run(tinyRequest(64, 2));
        QVERIFY2(rec.outcome, qPrintable(rec.failure));
    }

    void cancelWhileQueuedNeverStarts() {
        // Hold the worker thread, queue a job, cancel it, release: it must end without starting.
        QSemaphore hold;
        QMetaObject::invokeMethod(host->worker(), [&hold] { hold.acquire(); }, Qt::QueuedConnection);
        rec = Recorder{};
        host->submit(tinyRequest(64, 3), 2);
        host->cancel();
        hold.release();
        QTRY_VERIFY_WITH_TIMEOUT(rec.done, 300000);
        QVERIFY(rec.cancelled);
        QVERIFY(!rec.outcome);
        QVERIFY2(rec.stages.isEmpty(), qPrintable(rec.stages.join(QStringLiteral(", "))));  // no stage began
        QCOMPARE(rec.progress, 0);
    }

    void errorsBecomeMessages() {
        const QString corrupt = dir.filePath(QStringLiteral("corrupt.safetensors"));
        QFile f(corrupt);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":", 13);
        f.close();
        auto request = tinyRequest(64, 2);
        request.ip_adapters.front().path = ipsui::toFsPath(corrupt);
        run(request);
        QVERIFY(!rec.outcome);
        QVERIFY2(rec.failure.contains(QStringLiteral("corrupt.safetensors")), qPrintable(rec.failure));
        // Still working afterwards.
        run(tinyRequest(64, 2));
        QVERIFY2(rec.outcome, qPrintable(rec.failure));
    }

    // The same measurement at 512x512 with a full-size model: `ipstudio-ui-bench` (docs/performance.md).
    void windowStaysResponsiveWhileGenerating() {
        ipsui::MainWindow window(ipstest::testContext(dir));
        window.setModelConfig(ipstest::tinyModels());
        window.show();
        window.references()->addLoaded({ipsui::loadImageFile(dataFile("images/scene_128x128.png"))});
        window.settings()->stepsBox()->setValue(8);
        window.settings()->widthBox()->setValue(192);
        window.settings()->heightBox()->setValue(128);
        QSignalSpy ended(&window, &ipsui::MainWindow::generationEnded);
        ipsui::LatencyProbe probe;
        probe.start();
        QElapsedTimer clock;
        clock.start();
        window.generate();
        QVERIFY(window.isGenerating());
        QTRY_VERIFY_WITH_TIMEOUT(ended.count() == 1, 300000);
        probe.stop();
        QVERIFY2(window.messageText().isEmpty(), qPrintable(window.messageText()));
        QCOMPARE(window.history()->count(), 1);
        QCOMPARE(window.history()->entry(0).image.size(), QSize(192, 128));
        QVERIFY(!window.resultCanvas()->image().isNull());
        // Reported, not asserted: timing depends on the machine.
        qInfo().noquote() << QStringLiteral("192x128, 8 steps, tiny model: %1 ms; UI %2").arg(clock.elapsed()).arg(probe.summary());
        QVERIFY(probe.samples() > 10);  // the event loop kept turning
    }

    void cleanupTestCase() { host.reset(); }
};

QTEST_MAIN(TestGenerationWorker)
#include "test_generation_worker.moc"
