#pragma once
// A one-line label that shortens its text with "…" in the middle to the width it is given, instead of
// widening its column (a long file name must never push the window wider). The full text is the tooltip.
#include <QLabel>

namespace ipsui {

class ElidedLabel : public QLabel {
    Q_OBJECT
public:
    explicit ElidedLabel(const QString& text = {}, QWidget* parent = nullptr);

    void setFullText(const QString& text);
    QString fullText() const { return full_; }
    QSize minimumSizeHint() const override;
    QSize sizeHint() const override;

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void updateElided();
    QString full_;
};

}  // namespace ipsui
