#pragma once
// Generation settings: size (with common presets), steps, guidance, sampler, timestep spacing, seed (random / fixed /
// reuse the last one), batch count, precision, threads and the prompt syntax (A1111's by default). Writes them into a request and reads them back.
#include <QWidget>
#include <optional>

#include "ips/generation.h"
#include "ips/prompt_syntax.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace ipsui {

class SettingsPanel : public QWidget {
    Q_OBJECT
public:
    explicit SettingsPanel(QWidget* parent = nullptr);

    void writeTo(ips::GenerationRequest& request) const;  // size, steps, guidance, sampler, seed, batch, dtype
    void readFrom(const ips::GenerationRequest& request);  // seed: fixed to the request's when it has one
    int threads() const;
    void setThreads(int threads);

    std::optional<quint64> seed() const;  // nothing = random
    // Why the settings cannot make a request (a fixed seed that is not a 64-bit number); empty when fine.
    QString problem() const;
    // Why `request`'s values do not fit these controls (out of range, unknown sampler); empty when they do.
    QString problemWith(const ips::GenerationRequest& request) const;
    void setLastSeed(quint64 seed);       // shown so "reuse" can take it; remembered across restarts
    std::optional<quint64> lastSeed() const;
    bool reuseLastSeed();                 // false when no result was ever made
    // "bfloat16" on CPUs that run it natively (AVX-512-BF16, AMX), else "float32".
    static QString defaultPrecision();
    QSize outputSize() const;

    QSpinBox* stepsBox() const { return steps_; }
    QDoubleSpinBox* guidanceBox() const { return guidance_; }
    QComboBox* samplerBox() const { return sampler_; }
    QComboBox* spacingBox() const { return spacing_; }
    QLineEdit* seedEdit() const { return seed_; }
    QCheckBox* randomSeedBox() const { return randomSeed_; }
    QSpinBox* widthBox() const { return width_; }
    QSpinBox* heightBox() const { return height_; }
    QComboBox* precisionBox() const { return precision_; }
    QCheckBox* promptSyntaxBox() const { return promptSyntax_; }
    ips::PromptSyntax promptSyntax() const;

Q_SIGNALS:
    void outputSizeChanged(QSize size);
    void promptSyntaxChanged(ips::PromptSyntax syntax);
    void notice(QString message);  // something the artist should know (not an error)

private:
    void syncSizePreset();

    QComboBox* sizePreset_;
    QSpinBox* width_;
    QSpinBox* height_;
    QSpinBox* steps_;
    QDoubleSpinBox* guidance_;
    QComboBox* sampler_;
    QComboBox* spacing_;  // the request's timestep_spacing ("" = the scheduler config's)
    QLineEdit* seed_;
    QCheckBox* randomSeed_;
    QSpinBox* batch_;
    QComboBox* precision_;
    QSpinBox* threads_;
    QCheckBox* promptSyntax_;
    std::optional<quint64> lastSeed_;
};

}  // namespace ipsui
