#pragma once
// The object that owns the engine. It lives on the worker thread (see WorkerHost): models load and run
// only there. Requests arrive as values; results, progress and errors leave as signals carrying values.
// Nothing throws out of it.
#include <QImage>
#include <QList>
#include <QStringList>
#include <QObject>
#include <QString>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "ips/generation.h"

namespace ipsui {

struct GenerationOutcome {
    quint64 job = 0;
    ips::GenerationRequest request;  // as run, with the seed that was used
    QList<QImage> images;
    quint64 seed = 0;
    double seconds = 0;
    QStringList warnings;  // what the engine changed or doubted (GenerationResult::warnings)
};

class GenerationWorker : public QObject {
    Q_OBJECT
public:
    explicit GenerationWorker(ips::PipelineOptions options, QObject* parent = nullptr);
    ~GenerationWorker() override;

    // Thread-safe: stops every job up to `upToJob`, the running one at its next step, queued ones
    // before they start.
    void cancel(quint64 upToJob);
    // Thread-safe: the receiver of `preview` calls this when it has shown the picture; until then newer
    // previews are dropped (only the latest matters), so the UI's queue never backs up.
    void previewShown() { previewInFlight_.store(false); }

    // Runs on the worker thread (invoke queued). `threads` 0 = all cores; a change rebuilds the engine.
    void generate(quint64 job, ips::GenerationRequest request, int threads);
    void unload();

    // Thread-safe: encode `request`'s prompts on the worker thread when it gets there, if its models are loaded
    // (Live, while it waits for the artist to pause). Only the newest waiting request is kept; no signal, and
    // an error is left for the generation to report.
    void preparePrompts(const ips::GenerationRequest& request);
    int promptsPrepared() const { return promptsPrepared_.load(); }  // how many encoded something (tests)
    int pipelinesBuilt() const { return pipelinesBuilt_.load(); }    // engines made (a thread count change makes one)

Q_SIGNALS:
    void stageChanged(quint64 job, QString stage);
    void progress(quint64 job, int step, int total, double elapsedSeconds);
    void loadingProgress(quint64 job, quint64 bytesLoaded);  // weights read so far while loading models
    void preview(quint64 job, QImage image);
    void finished(ipsui::GenerationOutcome outcome);
    void failed(quint64 job, QString message);
    void cancelled(quint64 job);

private:
    ips::Pipeline& pipeline(int threads);
    void prepareWaitingPrompts();  // worker thread

    ips::PipelineOptions options_;
    std::unique_ptr<ips::Pipeline> pipeline_;
    ips::CancelToken cancel_;
    std::atomic<quint64> cancelledUpTo_{0};
    // The job generate() works on (or last worked on). A cancel that arrives between jobs only sets the
    // token, which the next job resets before checking cancelledUpTo_.
    std::atomic<quint64> running_{0};
    std::atomic<bool> previewInFlight_{false};
    std::mutex waitingMutex_;
    std::optional<ips::GenerationRequest> waitingPrompts_;
    std::atomic<int> promptsPrepared_{0};
    std::atomic<int> pipelinesBuilt_{0};
};

}  // namespace ipsui

Q_DECLARE_METATYPE(ipsui::GenerationOutcome)
