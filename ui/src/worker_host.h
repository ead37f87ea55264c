#pragma once
// Owns the worker thread and the GenerationWorker on it. The UI thread only posts requests and reads
// signals; it never waits on the worker (except once, at shutdown, after cancelling).
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

    // Copies `request` to the worker; returns the job id its signals will carry.
    quint64 submit(const ips::GenerationRequest& request, int threads);
    void cancel();
    void unloadModels();

Q_SIGNALS:
    void idle();  // the active job ended (finished, failed or cancelled)

private:
    void jobEnded(quint64 job);

    QThread thread_;
    GenerationWorker* worker_;
    quint64 nextJob_ = 1;
    quint64 activeJob_ = 0;
};

}  // namespace ipsui
