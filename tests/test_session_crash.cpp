// Kills a window process with SIGKILL in the middle of its work (between autosaves, inside an autosave
// after the pictures and before state.json, at a random moment of an autosave, during a generation),
// then checks what the next start finds: a state that parses, every picture it names complete, the last
// autosaved work restored exactly and the artist told about it.
#include <QtTest>

#include <QJsonDocument>
#include <QPlainTextEdit>
#include <QProcess>
#include <QRandomGenerator>

#include "main_window.h"
#include "picture_store.h"
#include "reference_panel.h"
#include "ui_test_env.h"

class TestSessionCrash : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    int runs_ = 0;

    // Starts the child and reads its lines until `killAt` says to kill; returns every line read.
    QStringList runAndKill(const QStringList& args, const std::function<bool(const QString&)>& killAt) {
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(QStringLiteral(IPS_SESSION_CHILD), args);
        if (!child.waitForStarted(10000)) return {QStringLiteral("not started")};
        QStringList lines;
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 120000) {
            if (!child.canReadLine() && !child.waitForReadyRead(1000)) {
                if (child.state() == QProcess::NotRunning) break;
                continue;
            }
            while (child.canReadLine()) {
                const QString line = QString::fromUtf8(child.readLine()).trimmed();
                lines << line;
                if (killAt(line)) {
                    child.kill();  // SIGKILL: no handler, no cleanup, no flush
                    child.waitForFinished(10000);
                    return lines;
                }
            }
        }
        child.kill();
        child.waitForFinished(10000);
        lines << QStringLiteral("never reached the kill point");
        return lines;
    }

    // Everything state.json names is on disk, complete; returns the state.
    QJsonObject intactState(const QString& folder) {
        QFile file(QDir(folder).filePath(QStringLiteral("state.json")));
        if (!file.open(QIODevice::ReadOnly)) return {};
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
        if (!doc.isObject()) {
            qWarning() << "state.json does not parse:" << error.errorString();
            return {};
        }
        QSet<QString> names;
        ipsui::PictureStore::collectNames(doc.object(), names);
        for (const QString& name : names) {
            if (QImage(QDir(folder).filePath(QStringLiteral("pictures/") + name)).isNull()) {
                qWarning() << "state.json names" << name << "which is missing or does not decode";
                return {};
            }
        }
        // A finished picture file is complete: only writes' temporary files may be left half-written.
        const QDir pictures(QDir(folder).filePath(QStringLiteral("pictures")));
        for (const QString& name : pictures.entryList({QStringLiteral("*.png")}, QDir::Files))
            if (QImage(pictures.filePath(name)).isNull()) {
                qWarning() << name << "is a half-written picture";
                return {};
            }
        return doc.object();
    }

    // The next start restores the work and says that the last run ended unexpectedly.
    void restartAndCheck(const QString& folder, const QStringList& acceptablePrompts) {
        ipsui::AppContext context = ipstest::testContext(dir);
        context.sessionFolder = folder;
        ipsui::MainWindow window(context);
        QVERIFY2(acceptablePrompts.contains(window.promptEdit()->toPlainText()),
                 qPrintable(window.promptEdit()->toPlainText() + QStringLiteral(" not in ") + acceptablePrompts.join(QStringLiteral(", "))));
        QVERIFY2(window.messageText().contains(QStringLiteral("did not close properly")), qPrintable(window.messageText()));
        QCOMPARE(window.references()->referenceCount(), 1);
    }

    QString freshFolder() { return dir.filePath(QStringLiteral("session%1").arg(++runs_)); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
    }

    void killedBetweenAutosaves() {
        const QString folder = freshFolder();
        const QStringList lines = runAndKill({QStringLiteral("edit"), folder, QStringLiteral("50"), QStringLiteral("0")},
                                             [](const QString& l) { return l == QLatin1String("saved 3"); });
        QCOMPARE(lines.last(), QStringLiteral("saved 3"));
        QVERIFY(!intactState(folder).isEmpty());
        restartAndCheck(folder, {QStringLiteral("edit 3")});
    }

    void killedAfterThePicturesBeforeTheState() {
        const QString folder = freshFolder();
        const QStringList lines = runAndKill({QStringLiteral("edit"), folder, QStringLiteral("50"), QStringLiteral("5")},
                                             [](const QString& l) { return l == QLatin1String("mid-save 5"); });
        QCOMPARE(lines.last(), QStringLiteral("mid-save 5"));
        QVERIFY(!intactState(folder).isEmpty());
        restartAndCheck(folder, {QStringLiteral("edit 4")});  // save 5 had not replaced state.json
    }

    void killedAtRandomMomentsOfAnAutosave() {
        for (int attempt = 0; attempt < 6; ++attempt) {
            const QString folder = freshFolder();
            const int target = 2 + QRandomGenerator::global()->bounded(6);
            const int delayUs = QRandomGenerator::global()->bounded(20000);
            const QStringList lines = runAndKill({QStringLiteral("edit"), folder, QStringLiteral("50"), QStringLiteral("0")}, [&](const QString& l) {
                if (l != QStringLiteral("saving %1").arg(target)) return false;
                QThread::usleep(delayUs);  // somewhere inside (or just after) that save
                return true;
            });
            QCOMPARE(lines.last(), QStringLiteral("saving %1").arg(target));
            QVERIFY2(!intactState(folder).isEmpty(), qPrintable(QStringLiteral("kill %1 us into save %2").arg(delayUs).arg(target)));
            restartAndCheck(folder, {QStringLiteral("edit %1").arg(target - 1), QStringLiteral("edit %1").arg(target)});
        }
    }

    void killedWhileGenerating() {
        const QString folder = freshFolder();
        const QStringList lines = runAndKill({QStringLiteral("generate"), folder}, [](const QString& l) {
            return l.startsWith(QLatin1String("step 2")) || l.startsWith(QLatin1String("failed"));
        });
        QVERIFY2(lines.last().startsWith(QLatin1String("step")), qPrintable(lines.join(QLatin1Char('\n'))));
        QVERIFY(!intactState(folder).isEmpty());
        restartAndCheck(folder, {QStringLiteral("killed while generating")});  // saved as the run started
    }

    void terminatedWhileGeneratingClosesCleanly() {
        // SIGTERM (a logout, `kill`) is not a crash: the window closes as if asked, the run stops, the work is
        // saved, and the next start restores it without the "did not close properly" banner.
        const QString folder = freshFolder();
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(QStringLiteral(IPS_SESSION_CHILD), {QStringLiteral("generate"), folder});
        QVERIFY(child.waitForStarted(10000));
        QElapsedTimer clock;
        clock.start();
        QString line;
        while (!line.startsWith(QLatin1String("step 2")) && clock.elapsed() < 120000)
            if (child.canReadLine() || child.waitForReadyRead(1000)) line = QString::fromUtf8(child.readLine()).trimmed();
        QVERIFY2(line.startsWith(QLatin1String("step 2")), qPrintable(line));
        child.terminate();  // SIGTERM
        QVERIFY(child.waitForFinished(60000));
        QCOMPARE(child.exitStatus(), QProcess::NormalExit);
        QCOMPARE(child.exitCode(), 0);

        QVERIFY(!intactState(folder).isEmpty());
        ipsui::AppContext context = ipstest::testContext(dir);
        context.sessionFolder = folder;
        ipsui::MainWindow window(context);
        QCOMPARE(window.promptEdit()->toPlainText(), QStringLiteral("killed while generating"));
        QVERIFY2(!window.messageText().contains(QStringLiteral("did not close properly")), qPrintable(window.messageText()));
    }
};

QTEST_MAIN(TestSessionCrash)
#include "test_session_crash.moc"
