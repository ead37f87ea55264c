// ipstudio: the desktop application.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QMessageBox>
#include <QMimeData>
#include <QNetworkProxyFactory>
#include <QStandardPaths>
#include <QTimer>
#include <QUrl>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "app_icon.h"
#include "config_root.h"
#include "ips/version.h"
#include "main_window.h"
#include "termination_signals.h"
#include "reference_panel.h"

namespace {

// Last line of defence: an exception escaping an event handler becomes a message, not a crash.
class Application : public QApplication {
public:
    using QApplication::QApplication;

    // Shown by the UI thread, whichever thread's event handler threw.
    void report(const QString& text) {
        QMetaObject::invokeMethod(
            this, [text] { QMessageBox::critical(QApplication::activeWindow(), QStringLiteral("IP Studio"), text); }, Qt::QueuedConnection);
    }

    bool notify(QObject* receiver, QEvent* event) override {
        try {
            return QApplication::notify(receiver, event);
        } catch (const std::exception& e) {
            report(QStringLiteral("Unexpected error: %1\nThe application keeps running.").arg(QString::fromUtf8(e.what())));
        } catch (...) {
            report(QStringLiteral("Unexpected error; the application keeps running."));
        }
        return false;
    }
};

}  // namespace

int main(int argc, char** argv) {
    Application app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("IPStudio"));
    QApplication::setApplicationName(QStringLiteral("ipstudio"));
    QApplication::setApplicationDisplayName(QStringLiteral("IP Studio"));
    QApplication::setApplicationVersion(QString::fromLatin1(ips::version_string()));
    QApplication::setWindowIcon(ipsapp::appIcon());
    // Matches the window to its launcher (io.github.ipstudio.IPStudio.desktop) on Wayland.
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.ipstudio.IPStudio"));
    // Model downloads go through the system's proxy settings (http_proxy / https_proxy / no_proxy).
    QNetworkProxyFactory::setUseSystemConfiguration(true);

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("IP Studio: Stable Diffusion with image prompts (IP-Adapter)"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("pictures"), QStringLiteral("Reference pictures to start with."),
                                 QStringLiteral("[pictures...]"));
    const QCommandLineOption smokeTest(QStringLiteral("smoke-test"),
                                       QStringLiteral("Open the window, check the model configurations are found, exit (0 = fine)."));
    parser.addOption(smokeTest);
    parser.process(app);

    ipsui::AppContext context;
    context.dataFolder = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    context.cacheFolder = QDir(QStandardPaths::writableLocation(QStandardPaths::CacheLocation)).filePath(QStringLiteral("results"));
    context.sessionFolder = QDir(context.dataFolder).filePath(QStringLiteral("session"));  // the autosaved work in progress
    context.libraryFolder = QDir(context.dataFolder).filePath(QStringLiteral("library"));  // every result, kept
    context.pipeline.config_root = ipsapp::default_config_root();

    ipsui::MainWindow window(context);
    window.show();
    ipsui::onTerminationSignals(&window, [&window] { window.closeWithoutAsking(); });
    if (const QStringList pictures = parser.positionalArguments(); !pictures.isEmpty()) {
        // "Open with IP Studio": the pictures become references, checked like dropped files.
        QMimeData mime;
        QList<QUrl> urls;
        for (const QString& p : pictures) urls << QUrl::fromLocalFile(QFileInfo(p).absoluteFilePath());
        mime.setUrls(urls);
        window.references()->addFromMime(&mime);
    }
    if (parser.isSet(smokeTest)) {
        QTimer::singleShot(0, &app, [&] {
            std::error_code ec;
            const auto vocab = context.pipeline.config_root / "tokenizer" / "vocab.json";
            const bool configs = std::filesystem::exists(vocab, ec);
            std::printf("ipstudio %s smoke test: window %s, model configurations %s (%s)\n", ips::version_string(),
                        window.isVisible() ? "shown" : "NOT shown", configs ? "found" : "MISSING",
                        context.pipeline.config_root.string().c_str());
            app.exit(window.isVisible() && configs ? 0 : 1);
        });
    }
    return app.exec();
}
