#include "live_controller.h"

#include <random>

#include "ips/weight_packing.h"
#include "worker_host.h"

namespace ipsui {

LiveController::LiveController(WorkerHost* host, RequestSource fullRequest, std::function<int()> threads, QObject* parent)
    : QObject(parent), host_(host), fullRequest_(std::move(fullRequest)), threads_(std::move(threads)) {
    clock_.start();
    coalesce_.setSingleShot(true);
    connect(&coalesce_, &QTimer::timeout, this, &LiveController::startFrame);
    connect(host_, &WorkerHost::stageChanged, this, [this](const QString& stage) { loading_ = stage == QStringLiteral("loading models"); });
    connect(host_, &WorkerHost::finished, this, &LiveController::onFinished);
    connect(host_, &WorkerHost::idle, this, &LiveController::onIdle);
}

void LiveController::setEnabled(bool on, std::optional<std::uint64_t> seed) {
    if (on == enabled_) return;
    enabled_ = on;
    // Frames are batch-1 steps the artist waits for: packed convolution weights take LibTorch's per-call
    // weight reorders out of each (about 0.7 GB more memory while Live runs; freed when it stops).
    ips::set_weight_packing(on);
    if (on) {
        seed_ = seed ? *seed : std::random_device()();
        edited();
    } else {
        coalesce_.stop();
        dirty_ = false;
        firstEditMs_ = -1;
        if (ownsActiveJob()) host_->cancel();
    }
    Q_EMIT stateChanged();
}

void LiveController::setSettings(const LiveSettings& settings) {
    settings_ = settings;
    edited();
}

bool LiveController::ownsActiveJob() const { return host_->busy() && ownsJob(host_->activeJob()); }

// A frame is still on its way while a live job runs that has not delivered its picture yet (the host keeps a job
// active until just after its `finished`).
bool LiveController::frameRunning() const { return ownsActiveJob() && host_->activeJob() != shownJob_; }

void LiveController::edited() {
    if (!enabled_) return;
    if (!dirty_) firstEditMs_ = clock_.elapsed();
    dirty_ = true;
    // Quick frames: start now (a zero timer still merges the edits of one event). Slow ones: wait for a pause.
    const bool slow = lastFrameSeconds_ * 1000 > slowFrameMs_;
    coalesce_.start(slow ? coalesceMs_ : 0);
    if (slow) preparePrompts();
    Q_EMIT stateChanged();
}

// The text encoder runs in the pause edits wait for (an idle worker otherwise): the frame then starts with the
// prompt's embeddings cached. Only when the prompts changed and no job is running (a running frame is
// replaced at the end of the wait; the encoding then goes with the new frame).
void LiveController::preparePrompts() {
    if (host_->busy()) return;
    QString error;
    const auto full = fullRequest_(&error);
    if (!full) return;  // startFrame says why
    const QString prompts = QString::fromStdString(full->prompt + '\x1f' + full->negative_prompt);
    if (prompts == preparedPrompts_) return;
    preparedPrompts_ = prompts;
    host_->preparePrompts(liveRequest(*full, settings_, seed_));
}

void LiveController::startFrame() {
    if (!enabled_ || !dirty_) return;
    if (host_->busy()) {
        // A window job (Generate, Refine) and a frame still loading models run to their end; the edit waits
        // for `idle`. A frame that is denoising is replaced at its next step.
        if (!ownsActiveJob() || loading_) return;
        host_->cancel();
    }
    QString error;
    const auto full = fullRequest_(&error);
    if (!full) {
        dirty_ = false;
        Q_EMIT problem(error);
        Q_EMIT stateChanged();
        return;
    }
    jobEditMs_ = firstEditMs_;
    dirty_ = false;
    firstEditMs_ = -1;
    loading_ = false;
    job_ = host_->submit(liveRequest(*full, settings_, seed_), threads_ ? threads_() : 0);
    Q_EMIT stateChanged();
}

void LiveController::onFinished(const GenerationOutcome& outcome) {
    if (outcome.job != job_ || outcome.images.isEmpty()) return;
    lastFrame_ = outcome;
    shownJob_ = outcome.job;
    const double editToFrame = jobEditMs_ >= 0 ? (clock_.elapsed() - jobEditMs_) / 1000.0 : outcome.seconds;
    lastFrameSeconds_ = outcome.seconds;
    Q_EMIT frameShown(outcome.images.first(), editToFrame);
    Q_EMIT stateChanged();
}

void LiveController::onIdle() {
    Q_EMIT stateChanged();
    if (enabled_ && dirty_) coalesce_.start(0);
}

}  // namespace ipsui
