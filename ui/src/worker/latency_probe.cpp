#include "latency_probe.h"

#include <algorithm>

namespace ipsui {

LatencyProbe::LatencyProbe(int intervalMs, QObject* parent) : QObject(parent), interval_(intervalMs) {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(intervalMs);
    connect(&timer_, &QTimer::timeout, this, [this] {
        const qint64 now = clock_.nsecsElapsed();
        delays_.push_back(std::max(0.0, (now - last_) / 1e6 - interval_));
        last_ = now;
    });
}

void LatencyProbe::start() {
    delays_.clear();
    clock_.start();
    last_ = clock_.nsecsElapsed();
    timer_.start();
}

void LatencyProbe::stop() { timer_.stop(); }

double LatencyProbe::maxMs() const { return delays_.empty() ? 0.0 : *std::max_element(delays_.begin(), delays_.end()); }

double LatencyProbe::percentileMs(double p) const {
    if (delays_.empty()) return 0.0;
    std::vector<double> sorted = delays_;
    std::sort(sorted.begin(), sorted.end());
    return sorted[static_cast<std::size_t>(std::clamp(p, 0.0, 1.0) * double(sorted.size() - 1))];
}

QString LatencyProbe::summary() const {
    return QStringLiteral("%1 ticks, event-loop delay median %2 ms, p99 %3 ms, max %4 ms")
        .arg(samples())
        .arg(percentileMs(0.5), 0, 'f', 2)
        .arg(percentileMs(0.99), 0, 'f', 2)
        .arg(maxMs(), 0, 'f', 2);
}

}  // namespace ipsui
