#pragma once
// Settings > Models: the base model, IP-Adapters, image encoder and ControlNets. Each file is checked
// when chosen (its detected kind shown); a file of the wrong kind is refused with the reason.
#include <QDialog>

#include "model_config.h"

class QLabel;
class QLineEdit;
class QListWidget;

namespace ipsui {

class ModelsDialog : public QDialog {
    Q_OBJECT
public:
    explicit ModelsDialog(ModelConfig config, QWidget* parent = nullptr);

    const ModelConfig& config() const { return config_; }
    // Validates and sets (or adds, for lists); false with the reason shown when refused. Public for tests.
    // A path typed or pasted into a field (quotes, ~ and file:// URLs accepted); checked like choose().
    bool chooseTyped(ModelRole role, const QString& text);
    QLineEdit* pathEdit(ModelRole role) const;
    bool choose(ModelRole role, const QString& path);
    QString lastError() const { return lastError_; }

private:
    QWidget* singleRow(ModelRole role, QLineEdit*& edit, QLabel*& status);
    QWidget* listRow(ModelRole role, QListWidget*& list);
    void browse(ModelRole role, bool folder);
    void refresh();

    ModelConfig config_;
    QString lastError_;
    QLineEdit* base_ = nullptr;
    QLabel* baseStatus_ = nullptr;
    QLineEdit* encoder_ = nullptr;
    QLabel* encoderStatus_ = nullptr;
    QListWidget* adapters_ = nullptr;
    QListWidget* controlNets_ = nullptr;
    QLineEdit* vae_ = nullptr;
    QLabel* vaeStatus_ = nullptr;
    QLineEdit* preview_ = nullptr;
    QLabel* previewStatus_ = nullptr;
    QLabel* message_ = nullptr;
};

}  // namespace ipsui
