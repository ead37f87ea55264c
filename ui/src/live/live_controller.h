#pragma once
// Live mode: while on, every edit (prompt, references, IP scale, masks, sketches, LoRAs, the init image)
// replaces the running frame at its next step with one made from the new state. Edits coalesce: a new frame
// starts at once while frames are quick, and 0.25 s after the last edit once a frame takes over 1.5 s; that
// wait is not idle: the worker encodes the edited prompt in it, so the frame starts with its text ready. A job
// still loading models is never cancelled (its models would never arrive); the newest edit waits for it.
#include <QElapsedTimer>
#include <QImage>
#include <QObject>
#include <QTimer>
#include <functional>
#include <optional>

#include "generation_worker.h"
#include "live_request.h"

namespace ipsui {

class WorkerHost;

class LiveController : public QObject {
    Q_OBJECT
public:
    // `fullRequest` gives what Generate would run (nothing, with the reason, when the window cannot run).
    using RequestSource = std::function<std::optional<ips::GenerationRequest>(QString* error)>;
    // `threads` gives the window's compute threads: frames run with the same (a different count would make the
    // worker build its engine again, models and all).
    LiveController(WorkerHost* host, RequestSource fullRequest, std::function<int()> threads, QObject* parent = nullptr);

    bool enabled() const { return enabled_; }
    // Turning Live on fixes the seed (`seed`, or a new random one) and makes a first frame.
    void setEnabled(bool on, std::optional<std::uint64_t> seed = std::nullopt);
    const LiveSettings& settings() const { return settings_; }
    void setSettings(const LiveSettings& settings);  // a change of settings is an edit
    std::uint64_t seed() const { return seed_; }

    // Something the frame depends on changed.
    void edited();
    // Whether `job` (or the host's active job) is a live frame: the window then neither adds it to the
    // history nor shows its step previews. (The host passes on only the active job's news, so a replaced
    // frame never reaches the window.)
    bool ownsJob(quint64 job) const { return job != 0 && job == job_; }
    bool ownsActiveJob() const;
    // The newest finished frame (request, picture, seed): what Keep adds to the history.
    const std::optional<GenerationOutcome>& lastFrame() const { return lastFrame_; }
    bool stale() const { return dirty_ || frameRunning(); }
    double lastFrameSeconds() const { return lastFrameSeconds_; }

    static constexpr int kSlowFrameMs = 1500;  // frames slower than this make edits coalesce
    static constexpr int kCoalesceMs = 250;
    // Tests make tiny models' frames count as slow.
    void setCoalescing(int slowFrameMs, int waitMs) {
        slowFrameMs_ = slowFrameMs;
        coalesceMs_ = waitMs;
    }

Q_SIGNALS:
    void frameShown(const QImage& image, double editToFrameSeconds);
    void stateChanged();  // enabled, stale or fresh: the indicator reads it
    void problem(const QString& message);  // the window cannot make a request (a failed frame: the host says so)

private:
    void startFrame();
    void preparePrompts();  // while edits coalesce
    bool frameRunning() const;
    void onFinished(const GenerationOutcome& outcome);
    void onIdle();

    WorkerHost* host_;
    RequestSource fullRequest_;
    std::function<int()> threads_;
    int slowFrameMs_ = kSlowFrameMs;
    int coalesceMs_ = kCoalesceMs;
    QString preparedPrompts_;  // the prompt and negative prompt last sent ahead
    LiveSettings settings_;
    bool enabled_ = false;
    bool dirty_ = false;          // an edit no submitted frame includes yet
    bool loading_ = false;        // the active job is still loading models
    std::uint64_t seed_ = 0;
    quint64 job_ = 0;             // the live frame running (or last run)
    quint64 shownJob_ = 0;        // the frame whose picture is shown
    std::optional<GenerationOutcome> lastFrame_;
    double lastFrameSeconds_ = 0;
    QTimer coalesce_;
    QElapsedTimer clock_;
    qint64 firstEditMs_ = -1;     // the oldest edit no frame includes yet
    qint64 jobEditMs_ = -1;       // the oldest edit the running frame answers
};

}  // namespace ipsui
