#pragma once
// One LoRA of the list: on/off, its name (path in the tooltip), weight slider and box kept in step,
// remove, and its trigger words as chips that go into the prompt. A file that is missing or made for
// another base is shown greyed with the reason and never sent.
#include <QFrame>
#include <QList>

#include "lora_library.h"

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QToolButton;

namespace ipsui {

class LoraRow : public QFrame {
    Q_OBJECT
public:
    static constexpr double kMinWeight = -2.0, kMaxWeight = 2.0, kWeightStep = 0.05;

    LoraRow(const LoraFile& file, const LoraEntry& entry, QWidget* parent = nullptr);

    LoraEntry entry() const;  // what the list keeps (a missing file keeps its on/off)
    const LoraFile& file() const { return file_; }
    bool usable() const { return file_.problem.isEmpty(); }
    bool missing() const;
    bool sent() const;  // on, and usable
    void setWeight(double weight);
    double weight() const;

    QCheckBox* enabledBox() const { return enabled_; }
    QSlider* weightSlider() const { return slider_; }
    QDoubleSpinBox* weightBox() const { return weight_; }
    QToolButton* removeButton() const { return remove_; }
    QList<QToolButton*> triggerChips() const { return chips_; }

Q_SIGNALS:
    void changed();
    void removeRequested(ipsui::LoraRow* row);
    void triggerWordClicked(QString word);

private:
    QWidget* buildChips();

    LoraFile file_;
    bool storedEnabled_;  // the on/off a row that cannot be sent keeps for later
    QCheckBox* enabled_;
    QSlider* slider_;
    QDoubleSpinBox* weight_;
    QToolButton* remove_;
    QList<QToolButton*> chips_;
};

}  // namespace ipsui
