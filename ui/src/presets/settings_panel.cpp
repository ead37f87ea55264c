#include "settings_panel.h"

#include <algorithm>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpressionValidator>
#include <QSettings>
#include <QSpinBox>
#include <QThread>

#include "ips/samplers.h"
#include "ips/system_info.h"

namespace ipsui {

namespace {
// 256 and 384 for drafts and Live; the rest are SD1.5's trained sizes and common formats.
const QList<QSize> kSizes{{256, 256}, {384, 384}, {512, 512}, {512, 768}, {768, 512}, {640, 640}, {768, 768}, {448, 640}, {640, 448}};
const QString kLastSeedKey = QStringLiteral("session/lastSeed");
}

SettingsPanel::SettingsPanel(QWidget* parent) : QWidget(parent) {
    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);

    sizePreset_ = new QComboBox;
    for (const QSize& s : kSizes) sizePreset_->addItem(QStringLiteral("%1 \u00d7 %2").arg(s.width()).arg(s.height()), s);
    sizePreset_->addItem(tr("Custom"));
    form->addRow(tr("Size"), sizePreset_);
    auto* dims = new QHBoxLayout;
    width_ = new QSpinBox;
    height_ = new QSpinBox;
    for (auto* box : {width_, height_}) {
        box->setRange(64, 2048);
        box->setSingleStep(8);
        box->setValue(512);
        box->setToolTip(tr("A multiple of 8"));
    }
    dims->addWidget(width_);
    dims->addWidget(new QLabel(QStringLiteral("\u00d7")));
    dims->addWidget(height_);
    form->addRow(QString(), dims);

    steps_ = new QSpinBox;
    steps_->setRange(1, 150);
    steps_->setValue(30);
    form->addRow(tr("Steps"), steps_);
    guidance_ = new QDoubleSpinBox;
    guidance_->setRange(0.0, 30.0);
    guidance_->setSingleStep(0.5);
    guidance_->setValue(7.5);
    guidance_->setToolTip(tr("Classifier-free guidance: how strongly the prompt is followed (1 = off)"));
    form->addRow(tr("Guidance"), guidance_);
    sampler_ = new QComboBox;
    for (const auto& choice : ips::sampler_choices())
        sampler_->addItem(QString::fromStdString(choice.label), QString::fromStdString(choice.id));
    form->addRow(tr("Sampler"), sampler_);
    spacing_ = new QComboBox;
    spacing_->addItem(tr("Model's own"), QString());
    spacing_->addItem(tr("Trailing (few-step LoRAs)"), QStringLiteral("trailing"));
    spacing_->addItem(tr("Leading"), QStringLiteral("leading"));
    spacing_->addItem(tr("Linspace"), QStringLiteral("linspace"));
    spacing_->setToolTip(tr("Which timesteps the sampler visits. Hyper-SD and other few-step LoRAs are made for "
                            "\"trailing\" (the last step starts from pure noise); the model's own is its scheduler config's."));
    form->addRow(tr("Timesteps"), spacing_);

    auto* seedRow = new QHBoxLayout;
    seed_ = new QLineEdit;
    seed_->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{1,20}")), seed_));
    seed_->setPlaceholderText(tr("seed"));
    randomSeed_ = new QCheckBox(tr("Random"));
    randomSeed_->setChecked(true);
    auto* reuse = new QPushButton(tr("Reuse last"));
    reuse->setToolTip(tr("Fix the seed of the last result (Ctrl+R)"));
    seedRow->addWidget(seed_, 1);
    seedRow->addWidget(randomSeed_);
    seedRow->addWidget(reuse);
    form->addRow(tr("Seed"), seedRow);
    seed_->setEnabled(false);

    batch_ = new QSpinBox;
    batch_->setRange(1, 16);
    batch_->setToolTip(tr("Pictures per run, all from one seed (diffusers' num_images_per_prompt)"));
    form->addRow(tr("Batch count"), batch_);
    precision_ = new QComboBox;
    // Named by what the artist gets; the default follows the CPU (bfloat16 is emulated, and slower, without
    // native support).
    const bool fastBf16 = ips::cpu_has_fast_bfloat16();
    precision_->addItem(fastBf16 ? tr("Fast (bfloat16)") : tr("Fast (bfloat16, slow on this CPU)"), QStringLiteral("bfloat16"));
    precision_->addItem(tr("Exact reference (float32)"), QStringLiteral("float32"));
    precision_->setCurrentIndex(precision_->findData(defaultPrecision()));
    precision_->setToolTip(tr("Fast: about 1.6-1.8x quicker on CPUs with bfloat16, pictures within 42-48 dB PSNR of the reference.\n"
                              "Exact reference: the numbers diffusers computes, within float rounding."));
    form->addRow(tr("Precision"), precision_);
    threads_ = new QSpinBox;
    threads_->setRange(0, 256);
    threads_->setSpecialValueText(tr("all cores (%1)").arg(QThread::idealThreadCount()));
    form->addRow(tr("Threads"), threads_);
    promptSyntax_ = new QCheckBox(tr("A1111 prompt syntax"));
    promptSyntax_->setChecked(true);
    promptSyntax_->setToolTip(tr("(word:1.3), (word), [word], BREAK and prompts of any length, read as AUTOMATIC1111 reads them.\n"
                                 "Off: the prompt is plain text as diffusers reads it, and only its first 75 tokens count."));
    form->addRow(tr("Prompt"), promptSyntax_);
    connect(promptSyntax_, &QCheckBox::toggled, this, [this] { Q_EMIT promptSyntaxChanged(promptSyntax()); });

    connect(sizePreset_, &QComboBox::activated, this, [this](int index) {
        if (index >= kSizes.size()) return;
        width_->setValue(kSizes[index].width());
        height_->setValue(kSizes[index].height());
    });
    for (auto* box : {width_, height_})
        connect(box, &QSpinBox::valueChanged, this, [this] {
            syncSizePreset();
            Q_EMIT outputSizeChanged(outputSize());
        });
    connect(randomSeed_, &QCheckBox::toggled, this, [this](bool random) { seed_->setEnabled(!random); });
    connect(reuse, &QPushButton::clicked, this, [this] {
        if (!reuseLastSeed()) Q_EMIT notice(tr("There is no last seed yet: generate a picture first (its seed is remembered, also after a restart)."));
    });
    syncSizePreset();
}

void SettingsPanel::syncSizePreset() {
    const int index = kSizes.indexOf(outputSize());
    const QSignalBlocker block(sizePreset_);
    sizePreset_->setCurrentIndex(index >= 0 ? index : sizePreset_->count() - 1);
}

QSize SettingsPanel::outputSize() const { return {width_->value(), height_->value()}; }

QString SettingsPanel::problem() const {
    bool ok = false;
    seed_->text().toULongLong(&ok);
    if (!randomSeed_->isChecked() && !ok)
        return tr("Seed '%1' is not a whole number from 0 to 18446744073709551615; type one or tick Random").arg(seed_->text());
    return {};
}

QString SettingsPanel::problemWith(const ips::GenerationRequest& r) const {
    auto outside = [](const auto* box, double v) { return v < box->minimum() || v > box->maximum(); };
    if (outside(width_, r.width) || outside(height_, r.height))
        return tr("size %1x%2 is outside %3-%4").arg(r.width).arg(r.height).arg(width_->minimum()).arg(width_->maximum());
    if (outside(steps_, r.num_inference_steps))
        return tr("num_inference_steps %1 is outside %2-%3").arg(r.num_inference_steps).arg(steps_->minimum()).arg(steps_->maximum());
    if (outside(guidance_, r.guidance_scale))
        return tr("guidance_scale %1 is outside %2-%3").arg(r.guidance_scale).arg(guidance_->minimum()).arg(guidance_->maximum());
    if (outside(batch_, r.num_images_per_prompt))
        return tr("num_images_per_prompt %1 is outside %2-%3").arg(r.num_images_per_prompt).arg(batch_->minimum()).arg(batch_->maximum());
    if (sampler_->findData(QString::fromStdString(r.scheduler)) < 0)
        return tr("unknown scheduler '%1'").arg(QString::fromStdString(r.scheduler));
    if (spacing_->findData(QString::fromStdString(r.timestep_spacing)) < 0)
        return tr("unknown timestep_spacing '%1' (leading, trailing or linspace)").arg(QString::fromStdString(r.timestep_spacing));
    if (precision_->findData(QString::fromStdString(r.dtype)) < 0) return tr("unknown dtype '%1'").arg(QString::fromStdString(r.dtype));
    return {};
}

std::optional<quint64> SettingsPanel::seed() const {
    bool ok = false;
    const quint64 value = seed_->text().toULongLong(&ok);
    if (randomSeed_->isChecked() || !ok) return std::nullopt;
    return value;
}

QString SettingsPanel::defaultPrecision() {
    return ips::cpu_has_fast_bfloat16() ? QStringLiteral("bfloat16") : QStringLiteral("float32");
}

void SettingsPanel::setLastSeed(quint64 seed) {
    lastSeed_ = seed;
    QSettings().setValue(kLastSeedKey, QString::number(seed));  // "Reuse last" works after a restart too
    if (randomSeed_->isChecked()) seed_->setText(QString::number(seed));  // shown greyed: what the last run used
}

std::optional<quint64> SettingsPanel::lastSeed() const {
    if (lastSeed_) return lastSeed_;
    bool ok = false;
    const quint64 saved = QSettings().value(kLastSeedKey).toString().toULongLong(&ok);
    return ok ? std::optional<quint64>(saved) : std::nullopt;
}

bool SettingsPanel::reuseLastSeed() {
    const auto last = lastSeed();
    if (!last) return false;
    seed_->setText(QString::number(*last));
    randomSeed_->setChecked(false);
    return true;
}

void SettingsPanel::writeTo(ips::GenerationRequest& r) const {
    r.width = width_->value();
    r.height = height_->value();
    r.num_inference_steps = steps_->value();
    r.guidance_scale = guidance_->value();
    r.scheduler = sampler_->currentData().toString().toStdString();
    r.timestep_spacing = spacing_->currentData().toString().toStdString();
    r.seed = seed();
    r.num_images_per_prompt = batch_->value();
    r.dtype = precision_->currentData().toString().toStdString();
    r.prompt_syntax = std::string(ips::prompt_syntax_name(promptSyntax()));
}

ips::PromptSyntax SettingsPanel::promptSyntax() const {
    return promptSyntax_->isChecked() ? ips::PromptSyntax::A1111 : ips::PromptSyntax::Plain;
}

void SettingsPanel::readFrom(const ips::GenerationRequest& r) {
    width_->setValue(r.width);
    height_->setValue(r.height);
    steps_->setValue(r.num_inference_steps);
    guidance_->setValue(r.guidance_scale);
    if (const int i = sampler_->findData(QString::fromStdString(r.scheduler)); i >= 0) sampler_->setCurrentIndex(i);
    spacing_->setCurrentIndex(std::max(0, spacing_->findData(QString::fromStdString(r.timestep_spacing))));
    if (r.seed) {
        seed_->setText(QString::number(*r.seed));
        randomSeed_->setChecked(false);
    } else {
        randomSeed_->setChecked(true);
    }
    batch_->setValue(r.num_images_per_prompt);
    if (const int i = precision_->findData(QString::fromStdString(r.dtype)); i >= 0) precision_->setCurrentIndex(i);
    promptSyntax_->setChecked(ips::parse_prompt_syntax(r.prompt_syntax) == ips::PromptSyntax::A1111);
}

int SettingsPanel::threads() const { return threads_->value(); }
void SettingsPanel::setThreads(int threads) { threads_->setValue(threads); }

}  // namespace ipsui
