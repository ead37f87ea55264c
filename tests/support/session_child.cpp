// The window with an autosaved session, driven as an artist would, for test_session_crash to kill with
// SIGKILL at chosen points. It prints what it has done, one line each, flushed, so the parent knows where
// the kill landed:
//   session_child edit FOLDER N PAUSE   edits N times, autosaving after each ("saving k", "saved k");
//                                       in save PAUSE it stops between the pictures and state.json ("mid-save k")
//   session_child generate FOLDER       sets up a generation with the tiny models, starts it ("step k" per step);
//                                       SIGTERM closes it as the app does
#include <QApplication>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QThread>
#include <cstdio>

#include "init_image_panel.h"
#include "main_window.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "termination_signals.h"
#include "ui_test_env.h"
#include "work_session.h"
#include "worker_host.h"

namespace {

void say(const QByteArray& line) {
    std::fputs((line + '\n').constData(), stdout);
    std::fflush(stdout);
}

// A picture that differs at every edit, large enough that writing it takes a moment.
QImage pictureFor(int k) {
    QImage image(384, 384, QImage::Format_RGB888);
    for (int y = 0; y < image.height(); ++y) {
        uchar* row = image.scanLine(y);
        for (int x = 0; x < image.width() * 3; ++x) row[x] = uchar((x * 31 + y * 17 + k * 101) ^ (x * y + k));
    }
    return image;
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 3) return 2;
    QTemporaryDir scratch;
    ipstest::isolateSettings(scratch);
    ipsui::AppContext context = ipstest::testContext(scratch);
    context.sessionFolder = args[2];
    ipsui::MainWindow window(context);
    window.setModelConfig(ipstest::tinyModels());

    if (args[1] == QLatin1String("edit") && args.size() >= 5) {
        const int edits = args[3].toInt(), pauseAt = args[4].toInt();
        int current = 0;
        window.workSession()->setBeforeStateWriteHook([&] {
            say("mid-save " + QByteArray::number(current));
            if (current == pauseAt) QThread::sleep(3600);  // killed here
        });
        window.initImage()->setInitImage({{}, pictureFor(0), {}, false});
        for (current = 1; current <= edits; ++current) {
            window.promptEdit()->setPlainText(QStringLiteral("edit %1").arg(current));
            window.references()->clearReferences();
            window.references()->addLoaded({{{}, pictureFor(current), {}, false}});
            ipsui::MaskLayer& mask = window.initImage()->mask();
            mask.beginStroke(QPointF(current * 9 % 384, 10), 7, false);
            mask.extendStroke(QPointF(200, current * 13 % 384));
            mask.endStroke();
            say("saving " + QByteArray::number(current));
            if (!window.autosaveNow()) return 3;
            say("saved " + QByteArray::number(current));
        }
        return 0;
    }
    if (args[1] == QLatin1String("generate")) {
        window.promptEdit()->setPlainText(QStringLiteral("killed while generating"));
        window.references()->addLoaded({{{}, pictureFor(7), {}, false}});
        window.settings()->widthBox()->setValue(64);
        window.settings()->heightBox()->setValue(64);
        window.settings()->stepsBox()->setValue(50);
        QObject::connect(window.worker(), &ipsui::WorkerHost::progress, [](int step, int, double) { say("step " + QByteArray::number(step)); });
        QObject::connect(window.worker(), &ipsui::WorkerHost::failed, [](const QString& m) { say("failed " + m.toUtf8()); });
        ipsui::onTerminationSignals(&window, [&window] { window.closeWithoutAsking(); });
        window.show();  // the last window closing ends app.exec(), as in the app
        window.generate();
        return app.exec();
    }
    return 2;
}
