#include "worker_host.h"

namespace ipsui {

WorkerHost::WorkerHost(ips::PipelineOptions options, QObject* parent)
    : QObject(parent), worker_(new GenerationWorker(std::move(options))) {
    thread_.setObjectName(QStringLiteral("generation"));
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    GenerationWorker* w = worker_;
    connect(w, &GenerationWorker::stageChanged, this, [this](quint64 job, const QString& stage) {
        if (isActive(job)) Q_EMIT stageChanged(stage);
    });
    connect(w, &GenerationWorker::progress, this, [this](quint64 job, int step, int total, double elapsed) {
        if (isActive(job)) Q_EMIT progress(step, total, elapsed);
    });
    connect(w, &GenerationWorker::loadingProgress, this, [this](quint64 job, quint64 bytes) {
        if (isActive(job)) Q_EMIT loadingProgress(bytes);
    });
    connect(w, &GenerationWorker::preview, this, [this, w](quint64 job, const QImage& image) {
        if (isActive(job)) Q_EMIT preview(image);
        else w->previewShown();  // nobody will show a stale one
    });
    connect(w, &GenerationWorker::finished, this, [this](const GenerationOutcome& o) {
        if (!isActive(o.job)) return;
        Q_EMIT finished(o);
        end(o.job);
    });
    connect(w, &GenerationWorker::failed, this, [this](quint64 job, const QString& message) {
        if (!isActive(job)) return;
        Q_EMIT failed(message);
        end(job);
    });
    connect(w, &GenerationWorker::cancelled, this, [this](quint64 job) {
        if (!isActive(job)) return;
        Q_EMIT cancelled();
        end(job);
    });
    thread_.start();
}

WorkerHost::~WorkerHost() {
    worker_->cancel(nextJob_);
    thread_.quit();
    thread_.wait();  // the running step finishes, then the thread ends and deletes the worker
}

quint64 WorkerHost::submit(const ips::GenerationRequest& request, int threads) {
    const quint64 job = nextJob_++;
    activeJob_ = job;
    GenerationWorker* worker = worker_;
    QMetaObject::invokeMethod(
        worker_, [worker, job, request, threads]() { worker->generate(job, request, threads); }, Qt::QueuedConnection);
    return job;
}

void WorkerHost::cancel() { worker_->cancel(nextJob_ - 1); }

void WorkerHost::unloadModels() {
    GenerationWorker* worker = worker_;
    QMetaObject::invokeMethod(worker_, [worker]() { worker->unload(); }, Qt::QueuedConnection);
}

void WorkerHost::end(quint64 job) {
    if (job != activeJob_) return;
    activeJob_ = 0;
    Q_EMIT idle();
}

}  // namespace ipsui
