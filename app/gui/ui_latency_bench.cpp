// ipstudio-ui-bench: how responsive the window stays while it generates. Opens the real main window
// (offscreen works), starts one generation and measures how late the UI thread's event loop runs a
// 5 ms timer meanwhile. Prints the figures; asserts nothing.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTextStream>
#include <QThread>

#include "config_root.h"
#include "image_loader.h"
#include "latency_probe.h"
#include "main_window.h"
#include "reference_panel.h"
#include "settings_panel.h"

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
