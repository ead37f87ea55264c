// ipstudio-ui-bench: how responsive the window stays while it generates. Opens the real main window
// (offscreen works), starts one generation and measures how late the UI thread's event loop runs a
// 5 ms timer meanwhile. With --live N it turns Live on and types N prompt words, one every --edit-ms,
// and prints the time from each edit to the frame that shows it. Prints the figures; asserts nothing.
#include <QAction>
#include <QApplication>
#include <QPlainTextEdit>
#include <QTimer>
#include <algorithm>
#include <map>
#include <vector>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTextStream>
#include <QThread>

#include "config_root.h"
#include "ips/bench.h"
#include "image_loader.h"
#include "latency_probe.h"
#include "live_bar.h"
#include "live_controller.h"
#include "main_window.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "worker_host.h"

namespace {

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * double(v.size() - 1) + 0.5)];
}

// Live: a first frame (models load), then `edits` prompt words typed `editMs` apart; each frame shown reports
// how long ago the oldest edit it answers was made.
int runLiveBench(QApplication& app, ipsui::MainWindow& window, ipsui::LatencyProbe& probe, int edits, const QString& preset,
                 bool deepCache, int editMs, int size, QTextStream& out) {
    ipsui::LiveSettings settings;
    settings.preset = preset;
    settings.size = size;
    settings.deepCache = deepCache;
    window.liveBar()->setSettings(settings);
    window.live()->setSettings(settings);
    std::vector<double> editToFrame, frameSeconds;  // from the edit to the frame shown; the frame's generation alone
    bool warm = false;  // after the first frame (the models' cold load)
    // Where a frame's time goes: the worker's stage changes, timed on the UI thread.
    std::map<QString, std::vector<double>> stageSeconds;
    QElapsedTimer stageClock;
    QString stage;
    const auto stageEnds = [&] {
        if (warm && !stage.isEmpty()) stageSeconds[stage].push_back(stageClock.elapsed() / 1000.0);
        stageClock.restart();
    };
    QObject::connect(window.worker(), &ipsui::WorkerHost::stageChanged, &app, [&](const QString& next) {
        stageEnds();
        stage = next;
    });
    QObject::connect(window.worker(), &ipsui::WorkerHost::finished, &app, [&] {
        stageEnds();
        stage.clear();
    });
    int typed = 0;
    QTimer typing;
    QObject::connect(&typing, &QTimer::timeout, &app, [&] {
        if (typed == edits) {
            typing.stop();
            return;
        }
        window.promptEdit()->appendPlainText(QStringLiteral("word%1").arg(++typed));
    });
    QObject::connect(window.live(), &ipsui::LiveController::frameShown, &app, [&](const QImage&, double seconds) {
        if (!warm) {  // the first frame loads the models: not an edit's latency
            warm = true;
            out << "first frame (models loaded cold): " << seconds << " s\n";
            out.flush();
            probe.start();
            typing.start(editMs);
            return;
        }
        editToFrame.push_back(seconds);
        frameSeconds.push_back(window.live()->lastFrameSeconds());
        if (typed == edits && !window.live()->stale()) {
            probe.stop();
            out << "machine: " << QThread::idealThreadCount() << " cores; live " << preset << (deepCache ? " + DeepCache 2" : "") << " at "
                << size << " px, "
                << edits << " edits " << editMs << " ms apart, " << editToFrame.size() << " frames shown\n";
            out << "edit to frame: median " << percentile(editToFrame, 0.5) << " s, p90 " << percentile(editToFrame, 0.9)
                << " s (the frame's generation itself: median " << percentile(frameSeconds, 0.5) << " s)\n";
            out << "each frame, edit to frame / generation (s):";
            for (std::size_t i = 0; i < editToFrame.size(); ++i) out << " " << editToFrame[i] << "/" << frameSeconds[i];
            out << "\n";
            out << "frame stages (median s):";
            for (auto& [name, seconds] : stageSeconds) out << " " << name << " " << percentile(seconds, 0.5) << ";";
            out << "\n";
            out << "UI thread: " << probe.summary() << "\n";
            out << "peak RSS of the process: " << ips::process_peak_rss_mb() << " MB\n";
            out.flush();
            app.exit(0);
        }
    });
    QObject::connect(&window, &ipsui::MainWindow::generationEnded, &app, [&] {
        if (!window.messageText().isEmpty() && window.banner()->isVisible()) {
            out << "live frame failed: " << window.messageText() << "\n";
            app.exit(1);
        }
    });
    QTimer::singleShot(0, &app, [&] { window.liveAction()->setChecked(true); });
    return app.exec();
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("IPStudioBench"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Event-loop latency of the IP Studio window during a generation"));
    parser.addHelpOption();
    const QString tiny = QStringLiteral(IPS_TEST_DATA);
    parser.addOptions({
        {QStringLiteral("model"), QStringLiteral("base model (folder or .safetensors)"), QStringLiteral("path"), tiny + QStringLiteral("/tiny-sd15")},
        {QStringLiteral("ip-adapter"), QStringLiteral("IP-Adapter file"), QStringLiteral("file"),
         tiny + QStringLiteral("/tiny-ip-adapter/ip-adapter_sd15.safetensors")},
        {QStringLiteral("image-encoder"), QStringLiteral("CLIP image encoder folder"), QStringLiteral("path"), tiny + QStringLiteral("/tiny-sd15/image_encoder")},
        {QStringLiteral("reference"), QStringLiteral("reference picture"), QStringLiteral("file"), tiny + QStringLiteral("/images/scene_128x128.png")},
        {QStringLiteral("size"), QStringLiteral("output side in pixels"), QStringLiteral("n"), QStringLiteral("512")},
        {QStringLiteral("steps"), QStringLiteral("denoising steps"), QStringLiteral("n"), QStringLiteral("20")},
        {QStringLiteral("threads"), QStringLiteral("engine threads (0 = all cores)"), QStringLiteral("n"), QStringLiteral("0")},
        {QStringLiteral("live"), QStringLiteral("Live mode: this many scripted edits (prompt words)"), QStringLiteral("n"), QStringLiteral("0")},
        {QStringLiteral("live-preset"), QStringLiteral("Live sampler: lcm4, lcm2, hyper8cfg, tcd4"), QStringLiteral("id"), QStringLiteral("lcm2")},
        {QStringLiteral("edit-ms"), QStringLiteral("Live: milliseconds between edits"), QStringLiteral("n"), QStringLiteral("1000")},
        {QStringLiteral("live-deep-cache"), QStringLiteral("Live: DeepCache on (interval 2), as the Live row's switch")},
        {QStringLiteral("preview-decoder"), QStringLiteral("TAESD decoder folder (optional)"), QStringLiteral("path"), QString()},
    });
    parser.process(app);

    QTemporaryDir scratch;
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, scratch.path());
    ipsui::AppContext context;
    context.dataFolder = scratch.filePath(QStringLiteral("data"));
    context.cacheFolder = scratch.filePath(QStringLiteral("cache"));
    context.pipeline.config_root = ipsapp::default_config_root();
    ipsui::MainWindow window(context);
    ipsui::ModelConfig models;
    models.baseModel = parser.value(QStringLiteral("model"));
    models.ipAdapters = {parser.value(QStringLiteral("ip-adapter"))};
    models.imageEncoder = parser.value(QStringLiteral("image-encoder"));
    models.previewDecoder = parser.value(QStringLiteral("preview-decoder"));
    window.setModelConfig(models);
    window.show();
    window.references()->addLoaded({ipsui::loadImageFile(parser.value(QStringLiteral("reference")))});
    const int size = parser.value(QStringLiteral("size")).toInt();
    window.settings()->widthBox()->setValue(size);
    window.settings()->heightBox()->setValue(size);
    window.settings()->stepsBox()->setValue(parser.value(QStringLiteral("steps")).toInt());
    window.settings()->setThreads(parser.value(QStringLiteral("threads")).toInt());

    QTextStream out(stdout);
    ipsui::LatencyProbe probe;
    if (const int edits = parser.value(QStringLiteral("live")).toInt(); edits > 0)
        return runLiveBench(app, window, probe, edits, parser.value(QStringLiteral("live-preset")),
                            parser.isSet(QStringLiteral("live-deep-cache")), parser.value(QStringLiteral("edit-ms")).toInt(), size, out);
    QElapsedTimer clock;
    QObject::connect(&window, &ipsui::MainWindow::generationEnded, &app, [&] {
        probe.stop();
        const QString problem = window.messageText();
        out << "machine: " << QThread::idealThreadCount() << " cores; " << size << "x" << size << ", "
            << parser.value(QStringLiteral("steps")) << " steps, model " << models.baseModel << "\n";
        if (!problem.isEmpty()) out << "generation failed: " << problem << "\n";
        out << "generation " << clock.elapsed() / 1000.0 << " s (models loaded cold)\n";
        out << "UI thread: " << probe.summary() << "\n";
        out.flush();
        app.exit(problem.isEmpty() ? 0 : 1);
    });
    QTimer::singleShot(0, &app, [&] {
        probe.start();
        clock.start();
        window.generate();
    });
    return app.exec();
}
