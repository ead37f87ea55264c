// Live mode in the window (live/live_controller.h): the Live switch and its row, the edits that make a new
// frame, Keep and Refine.
#include <QAction>
#include <QMenu>
#include <QPlainTextEdit>
#include <QSettings>
#include <QTabWidget>
#include <QToolButton>
#include <QLabel>

#include "canvas_view.h"
#include "control_panel.h"
#include "history_panel.h"
#include "init_image_panel.h"
#include "live_bar.h"
#include "live_controller.h"
#include "lora_panel.h"
#include "main_window.h"
#include "reference_panel.h"
#include "settings_panel.h"
#include "worker_host.h"

namespace ipsui {

namespace {
LiveSettings readLiveSettings() {
    QSettings s;
    LiveSettings l;
    l.preset = s.value(QStringLiteral("live/preset"), l.preset).toString();
    l.size = s.value(QStringLiteral("live/size"), l.size).toInt();
    l.strength = s.value(QStringLiteral("live/strength"), l.strength).toDouble();
    l.deepCache = s.value(QStringLiteral("live/deepCache"), l.deepCache).toBool();
    l.tinyFrames = s.value(QStringLiteral("live/tinyFrames"), l.tinyFrames).toBool();
    return l;
}

void writeLiveSettings(const LiveSettings& l) {
    QSettings s;
    s.setValue(QStringLiteral("live/preset"), l.preset);
    s.setValue(QStringLiteral("live/size"), l.size);
    s.setValue(QStringLiteral("live/strength"), l.strength);
    s.setValue(QStringLiteral("live/deepCache"), l.deepCache);
    s.setValue(QStringLiteral("live/tinyFrames"), l.tinyFrames);
}
}  // namespace

void MainWindow::setupLive() {
    live_ = new LiveController(
        host_, [this](QString* error) { return buildRequest(error); }, [this] { return settings_->threads(); }, this);
    liveBar_->setSettings(readLiveSettings());
    live_->setSettings(liveBar_->settings());

    liveAction_ = new QAction(tr("&Live"), this);
    liveAction_->setCheckable(true);
    liveAction_->setShortcut(QKeySequence(tr("Ctrl+L")));
    liveAction_->setShortcutContext(Qt::WindowShortcut);
    liveBar_->liveButton()->setDefaultAction(liveAction_);
    generateMenu_->insertAction(generateMenu_->actions().value(2), liveAction_);  // after Generate and Cancel
    connect(liveAction_, &QAction::toggled, this, [this](bool on) {
        // A fixed seed in the settings is Live's seed too; otherwise Live picks one and keeps it.
        live_->setEnabled(on, settings_->seed());
        // Painting on the init image stays in view (the frame shows in its corner); otherwise the Result tab.
        if (on && !(canvasTabs_->currentWidget() == init_ && init_->hasInitImage())) canvasTabs_->setCurrentWidget(result_);
        if (!on) init_->setLivePreview({});
    });
    connect(liveBar_, &LiveBar::settingsChanged, this, [this] {
        writeLiveSettings(liveBar_->settings());
        live_->setSettings(liveBar_->settings());
    });
    connect(live_, &LiveController::stateChanged, this, [this] {
        const auto state = !live_->enabled() ? LiveBar::State::Off
                           : (live_->stale() || !live_->lastFrame()) ? LiveBar::State::Stale : LiveBar::State::Fresh;
        liveBar_->setState(state, live_->lastFrameSeconds());
    });
    connect(live_, &LiveController::frameShown, this, [this](const QImage& image, double) {
        result_->setImage(image);
        init_->setLivePreview(image);
        stage_->setText(tr("Live frame \u00b7 seed %1").arg(live_->seed()));
    });
    connect(live_, &LiveController::problem, this, [this](const QString& message) { showBanner(message, Banner::RequestProblem); });
    connect(liveBar_, &LiveBar::keepRequested, this, [this] {
        if (!live_->lastFrame()) {
            stage_->setText(tr("No live frame yet to keep"));
            return;
        }
        const GenerationOutcome& frame = *live_->lastFrame();
        if (!frame.request.draft_decode) {
            history_->add(frame);
            stage_->setText(tr("Live frame kept (seed %1)").arg(frame.seed));
            return;
        }
        // A TAESD frame is kept as the VAE decodes it: the same request (same latents) without the draft.
        ips::GenerationRequest full = frame.request;
        full.draft_decode = false;
        if (run(full)) stage_->setText(tr("Keeping the live frame: decoding it with the full VAE\u2026"));
    });
    connect(liveBar_, &LiveBar::refineRequested, this, &MainWindow::refineLive);

    // The same edits autosave follows (main_window_session.cpp).
    connect(references_, &ReferencePanel::changed, this, &MainWindow::liveEdited);
    connect(controls_, &ControlPanel::changed, this, &MainWindow::liveEdited);
    connect(loras_, &LoraPanel::changed, this, &MainWindow::liveEdited);
    connect(init_, &InitImagePanel::changed, this, &MainWindow::liveEdited);
    connect(settings_, &SettingsPanel::outputSizeChanged, this, &MainWindow::liveEdited);
    connect(prompt_, &QPlainTextEdit::textChanged, this, &MainWindow::liveEdited);
    connect(negative_, &QPlainTextEdit::textChanged, this, &MainWindow::liveEdited);
}

void MainWindow::liveEdited() {
    if (live_ && !applyingState_) live_->edited();
}

void MainWindow::refineLive() {
    // The live seed, fixed in the settings, through the full settings; a running frame gives way to it.
    settings_->setLastSeed(live_->seed());
    settings_->reuseLastSeed();
    generate();
}

}  // namespace ipsui
