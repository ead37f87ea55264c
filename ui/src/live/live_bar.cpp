#include "live_bar.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QToolButton>

namespace ipsui {

LiveBar::LiveBar(QWidget* parent) : QWidget(parent) {
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    row->setSpacing(4);  // the row fits a 1280-pixel window
    live_ = new QToolButton;
    live_->setText(tr("Live"));
    live_->setCheckable(true);
    live_->setToolTip(tr("Live (Ctrl+L): every edit makes a new picture within seconds, with a fixed seed and a fast "
                         "sampler. Add the speed LoRA the sampler is made for (LCM-LoRA, Hyper-SD, TCD) in the LoRA panel."));
    live_->setStyleSheet(QStringLiteral("QToolButton { font-weight: bold; padding: 2px 10px; } "
                                        "QToolButton:checked { background: #c0392b; color: white; }"));
    preset_ = new QComboBox;
    for (const auto& p : livePresets()) {
        preset_->addItem(p.label, p.id);
        preset_->setItemData(preset_->count() - 1, p.tooltip, Qt::ToolTipRole);
    }
    preset_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    preset_->setToolTip(tr("The sampler of live frames"));
    size_ = new QComboBox;
    for (int s : {256, 384, 512, 768}) size_->addItem(tr("%1 px").arg(s), s);
    size_->addItem(tr("Output"), 0);
    size_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    size_->setToolTip(tr("The longer side of a live frame (the aspect ratio is the output's)"));
    strength_ = new QDoubleSpinBox;
    strength_->setRange(0.05, 1.0);
    strength_->setSingleStep(0.05);
    strength_->setDecimals(2);
    strength_->setToolTip(tr("img2img strength: how much a live frame may change the init image (with an init image and no mask)"));
    deepCache_ = new QCheckBox(tr("DeepCache"));
    deepCache_->setToolTip(tr("Reuse the UNet's deep features every other step: faster, slightly different"));
    tinyFrames_ = new QCheckBox(tr("TAESD"));
    tinyFrames_->setToolTip(tr("Decode live frames with the TAESD preview decoder when one is installed (much faster than "
                               "the VAE, a little less exact); Keep decodes the frame with the full VAE"));
    indicator_ = new QLabel;
    indicator_->setMinimumWidth(80);
    keep_ = new QPushButton(tr("Keep"));
    keep_->setToolTip(tr("Add the live frame to the history and the gallery"));
    refine_ = new QPushButton(tr("Refine"));
    refine_->setToolTip(tr("The same seed and inputs through the full settings (sampler, steps, size)"));
    row->addWidget(live_);
    row->addWidget(preset_);
    row->addWidget(size_);
    strengthLabel_ = new QLabel(tr("Strength"));
    row->addWidget(strengthLabel_);
    row->addWidget(strength_);
    row->addWidget(deepCache_);
    row->addWidget(tinyFrames_);
    row->addWidget(indicator_, 1);  // Keep and Refine go where the window puts them (beside Generate)
    setSettings(LiveSettings{});
    setState(State::Off);

    connect(live_, &QToolButton::toggled, this, &LiveBar::liveToggled);
    connect(preset_, &QComboBox::currentIndexChanged, this, &LiveBar::settingsChanged);
    connect(size_, &QComboBox::currentIndexChanged, this, &LiveBar::settingsChanged);
    connect(strength_, &QDoubleSpinBox::valueChanged, this, &LiveBar::settingsChanged);
    connect(deepCache_, &QCheckBox::toggled, this, &LiveBar::settingsChanged);
    connect(tinyFrames_, &QCheckBox::toggled, this, &LiveBar::settingsChanged);
    connect(keep_, &QPushButton::clicked, this, &LiveBar::keepRequested);
    connect(refine_, &QPushButton::clicked, this, &LiveBar::refineRequested);
}

LiveSettings LiveBar::settings() const {
    LiveSettings s;
    s.preset = preset_->currentData().toString();
    s.size = size_->currentData().toInt();
    s.strength = strength_->value();
    s.deepCache = deepCache_->isChecked();
    s.tinyFrames = tinyFrames_->isChecked();
    return s;
}

void LiveBar::setSettings(const LiveSettings& s) {
    const QSignalBlocker a(preset_), b(size_), c(strength_), d(deepCache_), e(tinyFrames_);
    const int preset = preset_->findData(s.preset);
    preset_->setCurrentIndex(preset >= 0 ? preset : 0);
    const int size = size_->findData(s.size);
    size_->setCurrentIndex(size >= 0 ? size : 1);
    strength_->setValue(s.strength);
    deepCache_->setChecked(s.deepCache);
    tinyFrames_->setChecked(s.tinyFrames);
}

void LiveBar::setState(State state, double frameSeconds) {
    const bool on = state != State::Off;
    for (QWidget* w : std::initializer_list<QWidget*>{preset_, size_, strengthLabel_, strength_, deepCache_, tinyFrames_, keep_, refine_}) w->setVisible(on);
    switch (state) {
    case State::Off:
        indicator_->setText(tr("Live is off (Ctrl+L)"));
        indicator_->setToolTip({});
        indicator_->setStyleSheet(QStringLiteral("color: palette(mid);"));
        break;
    case State::Stale:
        indicator_->setText(tr("\u25cf updating\u2026"));
        indicator_->setToolTip(tr("The frame shown is older than the last edit; a new one is on its way"));
        indicator_->setStyleSheet(QStringLiteral("color: #b9770e;"));
        break;
    case State::Fresh:
        indicator_->setText(tr("\u25cf live \u00b7 %1 s").arg(frameSeconds, 0, 'f', 1));
        indicator_->setToolTip(tr("The frame shown answers every edit; it took %1 s").arg(frameSeconds, 0, 'f', 1));
        indicator_->setStyleSheet(QStringLiteral("color: #1e8449;"));
        break;
    }
}

QString LiveBar::indicatorText() const { return indicator_->text(); }

}  // namespace ipsui
