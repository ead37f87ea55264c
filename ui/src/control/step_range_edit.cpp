#include "step_range_edit.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>

namespace ipsui {

StepRangeEdit::StepRangeEdit(QWidget* parent) : QWidget(parent), start_(new QDoubleSpinBox), end_(new QDoubleSpinBox) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    // Shown in percent of the denoising steps (the request keeps fractions, as diffusers does).
    for (auto* box : {start_, end_}) {
        box->setRange(0.0, 100.0);
        box->setDecimals(1);
        box->setSingleStep(5.0);
        box->setSuffix(QStringLiteral(" %"));
        connect(box, &QDoubleSpinBox::valueChanged, this, &StepRangeEdit::changed);
    }
    start_->setToolTip(tr("Starts acting after this share of the denoising steps (0 % = from the first step)"));
    end_->setToolTip(tr("Stops acting after this share of the denoising steps (100 % = until the last step)"));
    end_->setValue(100.0);
    layout->addWidget(new QLabel(tr("from")));
    layout->addWidget(start_);
    layout->addWidget(new QLabel(tr("to")));
    layout->addWidget(end_);
    layout->addStretch();
}

double StepRangeEdit::start() const { return start_->value() / 100.0; }
double StepRangeEdit::end() const { return end_->value() / 100.0; }

void StepRangeEdit::setRange(double start, double end) {
    start_->setValue(start * 100.0);
    end_->setValue(end * 100.0);
}

}  // namespace ipsui
