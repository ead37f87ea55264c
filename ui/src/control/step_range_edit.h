#pragma once
// "From / to" fractions of the denoising steps (0-1) during which an adapter or ControlNet acts.
#include <QWidget>

class QDoubleSpinBox;

namespace ipsui {

class StepRangeEdit : public QWidget {
    Q_OBJECT
public:
    explicit StepRangeEdit(QWidget* parent = nullptr);

    double start() const;
    double end() const;
    void setRange(double start, double end);

Q_SIGNALS:
    void changed();

private:
    QDoubleSpinBox* start_;
    QDoubleSpinBox* end_;
};

}  // namespace ipsui
