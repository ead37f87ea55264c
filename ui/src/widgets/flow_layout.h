#pragma once
// A layout that places its items left to right and wraps to a new line when the width runs out (Qt's
// Flow Layout example, trimmed): small chips of varying width in a narrow column.
#include <QLayout>
#include <QList>

namespace ipsui {

class FlowLayout : public QLayout {
public:
    explicit FlowLayout(QWidget* parent = nullptr, int spacing = 4);
    ~FlowLayout() override;

    void addItem(QLayoutItem* item) override;
    int count() const override { return static_cast<int>(items_.size()); }
    QLayoutItem* itemAt(int index) const override { return items_.value(index); }
    QLayoutItem* takeAt(int index) override;
    Qt::Orientations expandingDirections() const override { return {}; }
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override { return arrange(QRect(0, 0, width, 0), false); }
    void setGeometry(const QRect& rect) override;
    QSize sizeHint() const override { return minimumSize(); }
    QSize minimumSize() const override;

private:
    int arrange(const QRect& rect, bool apply) const;  // the height used
    QList<QLayoutItem*> items_;
    int spacing_;
};

}  // namespace ipsui
