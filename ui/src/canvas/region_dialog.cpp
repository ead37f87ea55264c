#include "region_dialog.h"

#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QShortcut>
#include <QSlider>
#include <QToolButton>
#include <QVBoxLayout>

#include "canvas_view.h"

namespace ipsui {

namespace {

QToolButton* tool(const QString& text, const QString& tip) {
    auto* b = new QToolButton;
    b->setText(text);
    b->setToolTip(tip);
    return b;
}

// The background with the other regions tinted over it (30% of their colour where they are white).
QImage composedBackground(QSize size, const QImage& background, const QList<OtherRegion>& others) {
    QImage out(size, QImage::Format_RGB32);
    out.fill(QColor(92, 92, 98));
    QPainter p(&out);
    if (!background.isNull()) p.drawImage(QRect(QPoint(0, 0), size), background);
    for (const auto& other : others) {
        if (other.mask.isNull()) continue;
        const QImage m = other.mask.convertToFormat(QImage::Format_Grayscale8).scaled(size);
        QImage tint(size, QImage::Format_ARGB32_Premultiplied);
        tintMask(m, other.color, 77, tint.rect(), tint);
        p.drawImage(0, 0, tint);
    }
    return out;
}

}  // namespace

RegionDialog::RegionDialog(QSize size, const QImage& background, const QImage& existing, QColor color,
                           const QList<OtherRegion>& others, const QString& title, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(title);
    auto* layout = new QVBoxLayout(this);
    auto* hint = new QLabel(tr("Paint where this reference applies (white in the request); outside it the reference has no "
                               "effect. The output is %1\u00d7%2. Other references' regions are shown faintly.")
                                .arg(size.width())
                                .arg(size.height()));
    hint->setWordWrap(true);
    layout->addWidget(hint);

    auto* tools = new QHBoxLayout;
    tools->addWidget(new QLabel(tr("Brush")));
    brush_ = new QSlider(Qt::Horizontal);
    brush_->setRange(2, 256);
    brush_->setValue(std::max(8, std::min(size.width(), size.height()) / 8));
    brush_->setMaximumWidth(160);
    brush_->setToolTip(tr("Brush size in output pixels"));
    eraser_ = tool(tr("Eraser"), tr("Erase (or hold Shift while painting)"));
    eraser_->setCheckable(true);
    auto* fill = tool(tr("Fill"), tr("The whole picture: this reference everywhere"));
    auto* invert = tool(tr("Invert"), tr("Swap painted and unpainted"));
    auto* clear = tool(tr("Clear"), tr("Nothing painted"));
    undo_ = tool(tr("Undo"), tr("Undo the last stroke or action (Ctrl+Z)"));
    redo_ = tool(tr("Redo"), tr("Redo (Ctrl+Shift+Z)"));
    for (QWidget* w : std::initializer_list<QWidget*>{brush_, eraser_, fill, invert, clear, undo_, redo_}) tools->addWidget(w);
    tools->addStretch(1);
    layout->addLayout(tools);

    mask_.reset(size, existing);  // the starting mask is not an undo step of this dialog
    canvas_ = new CanvasView;
    canvas_->setMinimumSize(420, 420);
    canvas_->setImage(composedBackground(size, background, others));
    canvas_->setOverlayColor(color);
    canvas_->setMask(&mask_);
    canvas_->setBrushDiameter(brush_->value());
    layout->addWidget(canvas_, 1);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    layout->addWidget(buttons);

    auto changed = [this] {
        canvas_->setMask(&mask_);  // rebuilds the overlay
        updateButtons();
    };
    connect(brush_, &QSlider::valueChanged, canvas_, &CanvasView::setBrushDiameter);
    connect(eraser_, &QToolButton::toggled, canvas_, &CanvasView::setEraser);
    connect(fill, &QToolButton::clicked, this, [this, changed] { mask_.fill(), changed(); });
    connect(invert, &QToolButton::clicked, this, [this, changed] { mask_.invert(), changed(); });
    connect(clear, &QToolButton::clicked, this, [this, changed] { mask_.clear(), changed(); });
    connect(undo_, &QToolButton::clicked, this, [this, changed] { mask_.undo(), changed(); });
    connect(redo_, &QToolButton::clicked, this, [this, changed] { mask_.redo(), changed(); });
    connect(new QShortcut(QKeySequence::Undo, this), &QShortcut::activated, undo_, &QToolButton::click);
    connect(new QShortcut(QKeySequence::Redo, this), &QShortcut::activated, redo_, &QToolButton::click);
    connect(canvas_, &CanvasView::maskEdited, this, &RegionDialog::updateButtons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    updateButtons();
    resize(640, 700);
}

void RegionDialog::updateButtons() {
    undo_->setEnabled(mask_.canUndo());
    redo_->setEnabled(mask_.canRedo());
}

}  // namespace ipsui
