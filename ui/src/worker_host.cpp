#include "worker_host.h"

namespace ipsui {

WorkerHost::WorkerHost(ips::PipelineOptions options, QObject* parent)
    : QObject(parent), worker_(new GenerationWorker(std::move(options))) {
    thread_.setObjectName(QStringLiteral("generation"));
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &GenerationWorker::finished, this, [this](const GenerationOutcome& o) { jobEnded(o.job); });
    connect(worker_, &GenerationWorker::failed, this, [this](quint64 job, const QString&) { jobEnded(job); });
    connect(worker_, &GenerationWorker::cancelled, this, [this](quint64 job) { jobEnded(job); });
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

void WorkerHost::jobEnded(quint64 job) {
    if (job != activeJob_) return;
    activeJob_ = 0;
    Q_EMIT idle();
}

}  // namespace ipsui
