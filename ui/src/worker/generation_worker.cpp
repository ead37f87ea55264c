#include "generation_worker.h"

#include <exception>

#include "ips/errors.h"
#include "qt_convert.h"

namespace ipsui {

GenerationWorker::GenerationWorker(ips::PipelineOptions options, QObject* parent)
    : QObject(parent), options_(std::move(options)) {
    qRegisterMetaType<ipsui::GenerationOutcome>();
}

GenerationWorker::~GenerationWorker() = default;

ips::Pipeline& GenerationWorker::pipeline(int threads) {
    if (!pipeline_ || threads != options_.threads) {
        pipeline_.reset();  // free the old models before loading again
        options_.threads = threads;
        pipeline_ = std::make_unique<ips::Pipeline>(options_);
        pipelinesBuilt_.fetch_add(1);
    }
    return *pipeline_;
}

void GenerationWorker::cancel(quint64 upToJob) {
    quint64 current = cancelledUpTo_.load();
    while (current < upToJob && !cancelledUpTo_.compare_exchange_weak(current, upToJob)) {
    }
    const quint64 running = running_.load();
    if (running != 0 && running <= upToJob) cancel_.cancel();
}

void GenerationWorker::generate(quint64 job, ips::GenerationRequest request, int threads) {
    running_.store(job);
    cancel_.reset();
    if (cancelledUpTo_.load() >= job) {  // cancelled while queued (read after the reset: no lost cancel)
        Q_EMIT cancelled(job);
        return;
    }
    previewInFlight_.store(false);
    QString lastStage;
    const ips::ProgressCallback onProgress = [&](const ips::GenerationProgress& p) {
        const QString stage = QString::fromStdString(p.stage);
        if (stage != lastStage) {
            lastStage = stage;
            Q_EMIT stageChanged(job, stage);
        }
        if (p.total > 0) Q_EMIT progress(job, p.step, p.total, p.elapsed_seconds);
        if (p.bytes_loaded > 0) Q_EMIT loadingProgress(job, p.bytes_loaded);
        if (p.preview && !previewInFlight_.exchange(true)) Q_EMIT preview(job, toQImage(*p.preview));
    };
    try {
        ips::GenerationResult result = pipeline(threads).generate(request, onProgress, &cancel_);
        GenerationOutcome outcome;
        outcome.job = job;
        request.seed = result.seed;
        outcome.request = std::move(request);
        outcome.seed = result.seed;
        outcome.seconds = result.seconds;
        for (const auto& w : result.warnings) outcome.warnings.push_back(QString::fromStdString(w));
        for (const auto& image : result.images) outcome.images.push_back(toQImage(image));
        Q_EMIT finished(outcome);
    } catch (const ips::Cancelled&) {
        Q_EMIT cancelled(job);
    } catch (const ips::Error& e) {
        Q_EMIT failed(job, QString::fromStdString(e.what()));
    } catch (const std::bad_alloc&) {
        Q_EMIT failed(job, tr("Out of memory. Try a smaller size, fewer images per run or bfloat16."));
    } catch (const std::exception& e) {
        Q_EMIT failed(job, tr("Internal error: %1").arg(QString::fromStdString(e.what())));
    } catch (...) {
        Q_EMIT failed(job, tr("Internal error (unknown exception)"));
    }
}

void GenerationWorker::preparePrompts(const ips::GenerationRequest& request) {
    bool queued = false;
    {
        std::lock_guard<std::mutex> lock(waitingMutex_);
        queued = waitingPrompts_.has_value();
        waitingPrompts_ = request;
    }
    if (!queued) QMetaObject::invokeMethod(this, [this] { prepareWaitingPrompts(); }, Qt::QueuedConnection);
}

void GenerationWorker::prepareWaitingPrompts() {
    std::optional<ips::GenerationRequest> request;
    {
        std::lock_guard<std::mutex> lock(waitingMutex_);
        request.swap(waitingPrompts_);
    }
    if (!request || !pipeline_) return;  // nothing loaded yet: the generation encodes them
    try {
        if (pipeline_->prepare_prompts(*request)) promptsPrepared_.fetch_add(1);
    } catch (...) {
        // Speculative work: the generation meets the same problem and reports it.
    }
}

void GenerationWorker::unload() {
    if (pipeline_) pipeline_->unload();
}

}  // namespace ipsui
