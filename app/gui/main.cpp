// ipstudio: the desktop application.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QMessageBox>
#include <QStandardPaths>
#include <exception>

#include "app_icon.h"
#include "config_root.h"
#include "ips/version.h"
#include "main_window.h"

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

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("IP Studio: Stable Diffusion with image prompts (IP-Adapter)"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.process(app);

    ipsui::AppContext context;
    context.dataFolder = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    context.cacheFolder = QDir(QStandardPaths::writableLocation(QStandardPaths::CacheLocation)).filePath(QStringLiteral("results"));
    context.pipeline.config_root = ipsapp::default_config_root();

    ipsui::MainWindow window(context);
    window.show();
    return app.exec();
}
