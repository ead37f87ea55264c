#include "lora_row.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

#include "elided_label.h"
#include "flow_layout.h"

namespace ipsui {

namespace {
constexpr int kMaxChips = 8;  // kohya records up to hundreds of tags; the most used say what the LoRA wants

int sliderSteps(double weight) { return static_cast<int>(std::lround(weight / LoraRow::kWeightStep)); }
}  // namespace

LoraRow::LoraRow(const LoraFile& file, const LoraEntry& entry, QWidget* parent)
    : QFrame(parent), file_(file), storedEnabled_(entry.enabled) {
    setFrameShape(QFrame::StyledPanel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 2, 4, 2);
    layout->setSpacing(2);

    auto* top = new QHBoxLayout;
    enabled_ = new QCheckBox;
    enabled_->setToolTip(tr("Use this LoRA (off: kept here, not sent)"));
    auto* name = new ElidedLabel(file.name());
    auto* status = new QLabel;
    remove_ = new QToolButton;
    remove_->setText(QStringLiteral("\u2715"));
    remove_->setAutoRaise(true);
    remove_->setToolTip(tr("Remove this LoRA from the list"));
    top->addWidget(enabled_);
    top->addWidget(name, 1);
    top->addWidget(status);
    top->addWidget(remove_);
    layout->addLayout(top);

    auto* weightRow = new QHBoxLayout;
    slider_ = new QSlider(Qt::Horizontal);
    slider_->setRange(sliderSteps(kMinWeight), sliderSteps(kMaxWeight));
    slider_->setToolTip(tr("LoRA weight: 1 is the strength it was trained at; negative pushes away from it"));
    weight_ = new QDoubleSpinBox;
    weight_->setRange(kMinWeight, kMaxWeight);
    weight_->setSingleStep(kWeightStep);
    weight_->setDecimals(2);
    weightRow->addWidget(slider_, 1);
    weightRow->addWidget(weight_);
    layout->addLayout(weightRow);
    if (!file.triggerWords.isEmpty()) layout->addWidget(buildChips());

    setWeight(entry.weight);
    QString tip = file.path;
    if (missing()) {
        status->setText(tr("missing"));
        status->setStyleSheet(QStringLiteral("color: #b3261e; font-weight: bold;"));
        tip = tr("%1\nThe file is missing: this LoRA is not used until it is back.").arg(file.path);
    } else if (!usable()) {
        status->setText(file.base.isEmpty() ? tr("unusable") : file.base);
        tip = tr("%1\nCannot be used: %2").arg(file.path, file.problem);
    }
    name->setToolTip(tip);
    status->setToolTip(tip);
    enabled_->setChecked(usable() && entry.enabled);
    if (!usable()) {
        // Greyed and unchangeable; removing it still works.
        for (QWidget* w : std::initializer_list<QWidget*>{enabled_, name, slider_, weight_}) w->setEnabled(false);
        enabled_->setToolTip(tip);
    }

    connect(slider_, &QSlider::valueChanged, this, [this](int steps) {
        if (sliderSteps(weight_->value()) != steps) weight_->setValue(steps * kWeightStep);
    });
    connect(weight_, &QDoubleSpinBox::valueChanged, this, [this](double w) {
        const QSignalBlocker block(slider_);
        slider_->setValue(sliderSteps(w));
        Q_EMIT changed();
    });
    connect(enabled_, &QCheckBox::toggled, this, [this](bool on) {
        if (usable()) storedEnabled_ = on;
        Q_EMIT changed();
    });
    connect(remove_, &QToolButton::clicked, this, [this] { Q_EMIT removeRequested(this); });
}

QWidget* LoraRow::buildChips() {
    auto* box = new QWidget;
    auto* flow = new FlowLayout(box, 3);
    for (const QString& word : file_.triggerWords.mid(0, kMaxChips)) {
        auto* chip = new QToolButton;
        chip->setText(word);
        chip->setToolTip(tr("Insert \u201c%1\u201d into the prompt at the cursor").arg(word));
        chip->setStyleSheet(QStringLiteral("QToolButton { border: 1px solid palette(mid); border-radius: 8px; padding: 0 6px; "
                                           "font-size: 8pt; background: palette(base); } "
                                           "QToolButton:hover { background: palette(highlight); color: palette(highlighted-text); }"));
        chip->setEnabled(usable());
        connect(chip, &QToolButton::clicked, this, [this, word] { Q_EMIT triggerWordClicked(word); });
        flow->addWidget(chip);
        chips_ << chip;
    }
    return box;
}

bool LoraRow::missing() const { return file_.problem == QLatin1String("missing"); }

bool LoraRow::sent() const { return usable() && enabled_->isChecked(); }

void LoraRow::setWeight(double weight) {
    // A preset may hold a weight beyond what the slider offers (the engine allows up to 10): the box widens
    // to keep it rather than change it silently.
    weight_->setRange(std::min(kMinWeight, weight), std::max(kMaxWeight, weight));
    weight_->setValue(weight);
    const QSignalBlocker block(slider_);
    slider_->setValue(sliderSteps(weight));
}

double LoraRow::weight() const { return weight_->value(); }

LoraEntry LoraRow::entry() const { return {file_.path, weight(), usable() ? enabled_->isChecked() : storedEnabled_}; }

}  // namespace ipsui
