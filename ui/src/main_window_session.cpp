// The window's work in progress as one state: autosaved (debounced after each change, periodically, and
// before each run) into the session folder, restored at start, and kept as undo steps before an action
// that would throw away what the artist made.
#include <QAction>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QScopedValueRollback>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>

#include "control_panel.h"
#include "init_image_panel.h"
#include "ips/errors.h"
#include "ips/request_json.h"
#include "lora_panel.h"
#include "main_window.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "work_session.h"

namespace ipsui {

namespace {
constexpr int kStateSchema = 1;
constexpr int kUndoSteps = 20;           // whole-window steps (the mask brush has its own, longer history)
constexpr int kAutosaveDelayMs = 800;    // after the last edit: typing does not write on every key
constexpr int kAutosavePeriodMs = 10000;  // catches the knobs that send no change signal
}  // namespace

QJsonObject MainWindow::workState(QString* error) {
    QString problem;
    PictureStore& store = session_->pictures();
    ips::GenerationRequest knobs;
    settings_->writeTo(knobs);
    QJsonObject settings;
    try {
        settings = QJsonDocument::fromJson(QByteArray::fromStdString(ips::request_to_json(knobs, {}))).object();
    } catch (const ips::Error& e) {
        problem = QString::fromStdString(e.what());
    }
    QJsonObject state{
        {QStringLiteral("schema"), kStateSchema},
        {QStringLiteral("prompt"), prompt_->toPlainText()},
        {QStringLiteral("negative"), negative_->toPlainText()},
        {QStringLiteral("settings"), settings},
        {QStringLiteral("threads"), settings_->threads()},
        {QStringLiteral("loras"), QJsonDocument::fromJson(lorasToJson(loras_->entries()).toUtf8()).array()},
        {QStringLiteral("references"), references_->saveState(store, &problem)},
        {QStringLiteral("controlnets"), controls_->saveState(store, &problem)},
        {QStringLiteral("init"), init_->saveState(store, &problem)},
        {QStringLiteral("tab"), canvasTabs_->currentIndex()},
    };
    if (error) *error = problem;
    return state;
}

void MainWindow::applyWorkState(const QJsonObject& state) {
    const QScopedValueRollback guard(applyingState_, true);
    const PictureStore& store = session_->pictures();
    prompt_->setPlainText(state.value(QStringLiteral("prompt")).toString());
    negative_->setPlainText(state.value(QStringLiteral("negative")).toString());
    try {
        const QByteArray text = QJsonDocument(state.value(QStringLiteral("settings")).toObject()).toJson();
        const ips::GenerationRequest knobs = ips::parse_request_json(text.toStdString(), {}, "the autosaved session");
        if (settings_->problemWith(knobs).isEmpty()) settings_->readFrom(knobs);
    } catch (const ips::Error& e) {
        showMessage(tr("The autosaved settings could not be restored: %1").arg(QString::fromStdString(e.what())), false);
    }
    settings_->setThreads(state.value(QStringLiteral("threads")).toInt(settings_->threads()));
    restoreLoras(lorasFromJson(QString::fromUtf8(QJsonDocument(state.value(QStringLiteral("loras")).toArray()).toJson())));
    references_->restoreState(state.value(QStringLiteral("references")).toObject(), store);
    controls_->restoreState(state.value(QStringLiteral("controlnets")).toObject(), store);
    init_->restoreState(state.value(QStringLiteral("init")).toObject(), store);
    canvasTabs_->setCurrentIndex(state.value(QStringLiteral("tab")).toInt(0));
}

bool MainWindow::autosaveNow() {
    autosaveTimer_->stop();
    if (!session_->owned()) return false;
    QString problem;
    const QJsonObject state = workState(&problem);
    QSet<QString> keep;
    for (const UndoStep& step : undoSteps_) PictureStore::collectNames(step.state, keep);
    if (problem.isEmpty() && session_->save(state, keep, &problem)) return true;
    // The disk is full or read-only: say so once per problem; the work is still in the window.
    if (problem != lastAutosaveProblem_) showMessage(tr("Autosave failed: %1. Your work is still here; free some space or check the folder.").arg(problem));
    lastAutosaveProblem_ = problem;
    return false;
}

void MainWindow::scheduleAutosave() {
    if (!applyingState_ && session_->owned()) autosaveTimer_->start(kAutosaveDelayMs);
}

void MainWindow::startWorkSession() {
    autosaveTimer_ = new QTimer(this);
    autosaveTimer_->setSingleShot(true);
    connect(autosaveTimer_, &QTimer::timeout, this, &MainWindow::autosaveNow);
    const bool persistent = !context_.sessionFolder.isEmpty();
    // Without a session folder the store still holds the undo steps' pictures, for this run only.
    session_ = std::make_unique<WorkSession>(persistent ? context_.sessionFolder : context_.cacheFolder + QStringLiteral("/unsaved-session"));

    connect(references_, &ReferencePanel::changed, this, &MainWindow::scheduleAutosave);
    connect(controls_, &ControlPanel::changed, this, &MainWindow::scheduleAutosave);
    connect(loras_, &LoraPanel::changed, this, &MainWindow::scheduleAutosave);
    connect(init_, &InitImagePanel::changed, this, &MainWindow::scheduleAutosave);
    connect(settings_, &SettingsPanel::outputSizeChanged, this, &MainWindow::scheduleAutosave);
    connect(prompt_, &QPlainTextEdit::textChanged, this, &MainWindow::scheduleAutosave);
    connect(negative_, &QPlainTextEdit::textChanged, this, &MainWindow::scheduleAutosave);
    connect(references_, &ReferencePanel::aboutToDiscard, this, &MainWindow::rememberForUndo);
    connect(controls_, &ControlPanel::aboutToDiscard, this, &MainWindow::rememberForUndo);
    connect(init_, &InitImagePanel::aboutToDiscard, this, &MainWindow::rememberForUndo);

    if (!persistent) return;
    if (!session_->claim()) {
        showMessage(tr("Another IP Studio is using %1: this window does not autosave its work.").arg(context_.sessionFolder), false);
        return;
    }
    auto* periodic = new QTimer(this);
    connect(periodic, &QTimer::timeout, this, &MainWindow::autosaveNow);
    periodic->start(kAutosavePeriodMs);

    QString problem;
    QDateTime savedAt;
    const std::optional<QJsonObject> saved = session_->load(&problem, &savedAt);
    if (!problem.isEmpty()) {
        // Never replaced silently: the damaged file stays beside the new one for whoever wants to look.
        QFile::rename(session_->stateFile(), session_->stateFile() + QStringLiteral(".damaged"));
        showMessage(tr("The autosaved work could not be read (%1); it was kept as state.json.damaged.").arg(problem));
        return;
    }
    if (!saved) return;
    applyWorkState(*saved);
    const QString when = QLocale().toString(savedAt, QLocale::ShortFormat);
    if (session_->lastRunEndedUnexpectedly())
        showMessage(tr("IP Studio did not close properly last time. Your work in progress was restored as it was autosaved at %1.").arg(when), false);
    else stage_->setText(tr("Work in progress restored (saved %1)").arg(when));
}

void MainWindow::rememberForUndo(const QString& what) {
    if (applyingState_) return;
    undoSteps_.append({what, workState()});
    while (undoSteps_.size() > kUndoSteps) undoSteps_.removeFirst();
    undoAction_->setText(tr("&Undo %1").arg(what));
    stage_->setText(tr("%1 \u00b7 Ctrl+Z puts it back").arg(what.left(1).toUpper() + what.mid(1)));
    scheduleAutosave();
}

bool MainWindow::undoLastAction() {
    if (undoSteps_.isEmpty()) return false;
    const UndoStep step = undoSteps_.takeLast();
    applyWorkState(step.state);
    undoAction_->setText(undoSteps_.isEmpty() ? tr("&Undo") : tr("&Undo %1").arg(undoSteps_.last().what));
    stage_->setText(tr("Undone: %1").arg(step.what));
    scheduleAutosave();
    return true;
}

QString MainWindow::undoText() const { return undoSteps_.isEmpty() ? QString() : undoSteps_.last().what; }

}  // namespace ipsui
