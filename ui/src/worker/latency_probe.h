#pragma once
// Measures how late the UI thread's event loop runs a timer that asks to fire every few milliseconds:
// the delay a user would feel on a click or a repaint while the worker computes.
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <vector>

namespace ipsui {

class LatencyProbe : public QObject {
    Q_OBJECT
public:
    explicit LatencyProbe(int intervalMs = 5, QObject* parent = nullptr);

    void start();
    void stop();
    int samples() const { return static_cast<int>(delays_.size()); }
    double maxMs() const;
    double percentileMs(double p) const;  // p in [0, 1]
    QString summary() const;

private:
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 last_ = 0;
    int interval_;
    std::vector<double> delays_;  // lateness of each tick beyond the interval, ms
};

}  // namespace ipsui
