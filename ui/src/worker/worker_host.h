#pragma once
// Owns the worker thread and the GenerationWorker on it. The UI thread only posts requests and reads
// the host's signals, which carry only the active job's news (a cancelled job's late messages are
// dropped) and end with `idle` after the job's own ending signal. The UI never waits on the worker
// (except once, at shutdown, after cancelling).
#include <QObject>
#include <QThread>

#include "generation_worker.h"

namespace ipsui {

class WorkerHost : public QObject {
    Q_OBJECT
public:
    explicit WorkerHost(ips::PipelineOptions options, QObject* parent = nullptr);
    ~WorkerHost() override;

    GenerationWorker* worker() const { return worker_; }
    bool busy() const { return activeJob_ != 0; }
    quint64 activeJob() const { return activeJob_; }

    // Copies `request` to the worker; returns the job id.
    quint64 submit(const ips::GenerationRequest& request, int threads);
    void cancel();
    void unloadModels();
    // Encodes `request`'s prompts on the worker ahead of its generation (see GenerationWorker::preparePrompts).
    void preparePrompts(const ips::GenerationRequest& request) { worker_->preparePrompts(request); }

Q_SIGNALS:
    void stageChanged(QString stage);
    void progress(int step, int total, double elapsedSeconds);
    void loadingProgress(quint64 bytesLoaded);
    void preview(QImage image);  // the receiver shows it, then calls worker()->previewShown()
    void finished(ipsui::GenerationOutcome outcome);
    void failed(QString message);
    void cancelled();
    void idle();  // after finished, failed or cancelled

private:
    bool isActive(quint64 job) const { return job != 0 && job == activeJob_; }
    void end(quint64 job);

    QThread thread_;
    GenerationWorker* worker_;
    quint64 nextJob_ = 1;
    quint64 activeJob_ = 0;
};

}  // namespace ipsui
