#pragma once
// The Live row under the prompts: the Live switch, its settings (sampler preset, frame size, img2img strength,
// DeepCache), an indicator that says whether the frame shown is fresh or stale; and the Keep / Refine buttons,
// which the window places beside Generate (the row then fits a 1280-pixel window).
#include <QWidget>

#include "live_request.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QToolButton;

namespace ipsui {

class LiveBar : public QWidget {
    Q_OBJECT
public:
    explicit LiveBar(QWidget* parent = nullptr);

    QToolButton* liveButton() const { return live_; }
    LiveSettings settings() const;
    void setSettings(const LiveSettings& settings);
    // The indicator: off, "updating" (an edit the frame does not show yet), or fresh with the frame's time.
    enum class State { Off, Stale, Fresh };
    void setState(State state, double frameSeconds = 0);
    QString indicatorText() const;
    QPushButton* keepButton() const { return keep_; }
    QPushButton* refineButton() const { return refine_; }

Q_SIGNALS:
    void liveToggled(bool on);
    void settingsChanged();
    void keepRequested();
    void refineRequested();

private:
    QToolButton* live_;
    QComboBox* preset_;
    QComboBox* size_;
    QLabel* strengthLabel_;
    QDoubleSpinBox* strength_;
    QCheckBox* deepCache_;
    QCheckBox* tinyFrames_;
    QLabel* indicator_;
    QPushButton* keep_;
    QPushButton* refine_;
};

}  // namespace ipsui
