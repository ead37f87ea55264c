#include "step_range_edit.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>

namespace ipsui {

StepRangeEdit::StepRangeEdit(QWidget* parent) : QWidget(parent), start_(new QDoubleSpinBox), end_(new QDoubleSpinBox) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    for (auto* box : {start_, end_}) {
        box->setRange(0.0, 1.0);
        box->setSingleStep(0.05);
        box->setToolTip(tr("Fraction of the denoising steps: 0 = the first, 1 = the last"));
        connect(box, &QDoubleSpinBox::valueChanged, this, &StepRangeEdit::changed);
    }
    end_->setValue(1.0);
    layout->addWidget(start_);
    layout->addWidget(new QLabel(QStringLiteral("\u2013")));
    layout->addWidget(end_);
    layout->addStretch();
}

double StepRangeEdit::start() const { return start_->value(); }
double StepRangeEdit::end() const { return end_->value(); }

void StepRangeEdit::setRange(double start, double end) {
    start_->setValue(start);
    end_->setValue(end);
}

}  // namespace ipsui
