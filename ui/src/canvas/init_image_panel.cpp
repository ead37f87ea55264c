#include "init_image_panel.h"

#include <QCheckBox>
#include <QColorDialog>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPixmap>
#include <QPushButton>
#include <QSlider>
#include <QToolButton>
#include <algorithm>
#include <cmath>

#include "canvas_view.h"
#include "elided_label.h"
#include "qt_convert.h"
#include "recent_folders.h"

namespace ipsui {

namespace {
QToolButton* toolButton(const QString& text, const QString& tip) {
    auto* b = new QToolButton;
    b->setText(text);
    b->setToolTip(tip);
    return b;
}
}  // namespace

InitImagePanel::InitImagePanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);

    auto* top = new QHBoxLayout;
    auto* open = new QPushButton(tr("Open init image\u2026"));
    auto* blank = new QPushButton(tr("Blank"));
    blank->setToolTip(tr("A white picture of the output size to sketch on with the colour brush"));
    auto* clear = new QPushButton(tr("Remove"));
    strength_ = new QDoubleSpinBox;
    strength_->setRange(0.01, 1.0);
    strength_->setSingleStep(0.05);
    strength_->setValue(0.8);
    strength_->setToolTip(tr("Denoising strength: how much of the init picture is repainted (1 = all)"));
    info_ = new ElidedLabel;
    top->addWidget(open);
    top->addWidget(blank);
    top->addWidget(clear);
    top->addSpacing(12);
    top->addWidget(new QLabel(tr("Strength")));
    top->addWidget(strength_);
    top->addWidget(info_, 1);
    layout->addLayout(top);

    aspectRow_ = new QWidget;
    auto* aspect = new QHBoxLayout(aspectRow_);
    aspect->setContentsMargins(0, 0, 0, 0);
    aspectNote_ = new QLabel;
    aspectNote_->setWordWrap(true);
    useSize_ = new QPushButton;
    useSize_->setToolTip(tr("Set the output size to the picture's (rounded to multiples of 8)"));
    aspect->addWidget(aspectNote_, 1);
    aspect->addWidget(useSize_);
    aspectRow_->hide();
    layout->addWidget(aspectRow_);
    connect(useSize_, &QPushButton::clicked, this, [this] { Q_EMIT useSizeRequested(generationSizeFor(init_.image.size())); });

    auto* tools = new QHBoxLayout;
    maskTool_ = toolButton(tr("Mask"), tr("The brush paints the inpainting mask (what to repaint)"));
    colourTool_ = toolButton(tr("Colour"), tr("The brush paints colour on the picture itself: sketch, then generate "
                                              "(img2img) or turn Live on. Alt+click picks a colour from the picture."));
    for (QToolButton* b : {maskTool_, colourTool_}) {
        b->setCheckable(true);
        b->setAutoExclusive(true);
        tools->addWidget(b);
    }
    maskTool_->setChecked(true);
    swatch_ = toolButton(QString(), tr("The brush colour (Alt+click on the picture picks one)"));
    swatch_->setFixedWidth(28);
    tools->addWidget(swatch_);
    brush_ = new QSlider(Qt::Horizontal);
    brush_->setRange(2, 256);
    brush_->setValue(32);
    brush_->setMinimumWidth(70);
    brush_->setMaximumWidth(140);
    brush_->setToolTip(tr("Brush size in picture pixels ([ and ] change it)"));
    eraser_ = toolButton(tr("Eraser"), tr("Erase the mask (or hold Shift while painting)"));
    eraser_->setCheckable(true);
    auto* clearMask = toolButton(tr("Clear"), tr("Clear the mask"));
    auto* invert = toolButton(tr("Invert"), tr("Repaint everything but the painted area"));
    undo_ = toolButton(QStringLiteral("\u21b6"), tr("Undo the last stroke (Ctrl+Z)"));
    redo_ = toolButton(QStringLiteral("\u21b7"), tr("Redo (Ctrl+Shift+Z)"));
    auto* loadMask = toolButton(tr("Load\u2026"), tr("Load a mask picture (white = repaint) of the init image's size"));
    showMask_ = new QCheckBox(tr("Show"));
    showMask_->setChecked(true);
    for (QWidget* w : std::initializer_list<QWidget*>{brush_, eraser_, clearMask, invert, undo_, redo_, loadMask, showMask_})
        tools->addWidget(w);
    maskOnly_ = {eraser_, clearMask, invert, loadMask, showMask_};
    tools->addStretch();
    layout->addLayout(tools);

    canvas_ = new CanvasView;
    canvas_->setPlaceholder(tr("No init image: generation starts from noise (text to image).\n\nOpen or drop a picture here "
                               "for image to image; then paint over it to inpaint only the painted part."));
    canvas_->setMask(&mask_);
    layout->addWidget(canvas_, 1);
    livePreview_ = new QLabel(canvas_);
    livePreview_->setToolTip(tr("The newest Live frame"));
    livePreview_->setStyleSheet(QStringLiteral("QLabel { border: 2px solid #c0392b; background: black; }"));
    livePreview_->setAttribute(Qt::WA_TransparentForMouseEvents);  // the brush paints under it
    livePreview_->hide();

    connect(open, &QPushButton::clicked, this, &InitImagePanel::chooseInitImage);
    connect(blank, &QPushButton::clicked, this, [this] { newBlankCanvas(outputSize_); });
    connect(colourTool_, &QToolButton::toggled, this, &InitImagePanel::setColourMode);
    connect(swatch_, &QToolButton::clicked, this, [this] {
        const QColor colour = QColorDialog::getColor(paintColour(), this, tr("Brush colour"));
        if (colour.isValid()) setPaintColour(colour);
    });
    connect(canvas_, &CanvasView::colourPicked, this, &InitImagePanel::setPaintColour);
    connect(clear, &QPushButton::clicked, this, [this] {
        if (!hasInitImage()) return;
        Q_EMIT aboutToDiscard(tr("remove the init image"));
        clearInitImage();
    });
    connect(brush_, &QSlider::valueChanged, canvas_, &CanvasView::setBrushDiameter);
    connect(eraser_, &QToolButton::toggled, canvas_, &CanvasView::setEraser);
    connect(clearMask, &QToolButton::clicked, this, [this] {
        mask_.clear();
        maskChanged();
    });
    connect(invert, &QToolButton::clicked, this, [this] {
        mask_.invert();
        maskChanged();
    });
    connect(undo_, &QToolButton::clicked, this, &InitImagePanel::undo);
    connect(redo_, &QToolButton::clicked, this, &InitImagePanel::redo);
    connect(loadMask, &QToolButton::clicked, this, &InitImagePanel::chooseMask);
    connect(showMask_, &QCheckBox::toggled, canvas_, &CanvasView::setMaskVisible);
    connect(canvas_, &CanvasView::maskEdited, this, &InitImagePanel::maskChanged);
    connect(canvas_, &CanvasView::picturesDropped, this, [this](const QList<LoadedImage>& pictures) {
        if (!pictures.isEmpty()) setInitImage(pictures.first());
    });
    setPaintColour(paint_.paintColour());
    maskChanged();
}

void InitImagePanel::setColourMode(bool colour) {
    colourMode_ = colour;
    if (colourTool_->isChecked() != colour) (colour ? colourTool_ : maskTool_)->setChecked(true);
    for (QWidget* w : maskOnly_) w->setEnabled(!colour);
    canvas_->setEraser(!colour && eraser_->isChecked());
    canvas_->setMask(&activeLayer());
    maskChanged();
}

void InitImagePanel::setPaintColour(QColor colour) {
    paint_.setPaintColour(colour);
    swatch_->setStyleSheet(QStringLiteral("QToolButton { background: %1; border: 1px solid palette(dark); }").arg(colour.name()));
    canvas_->update();
}

bool InitImagePanel::painted() const {
    return hasInitImage() && !paint_.isNull() && paint_.image() != paintStart_;
}

void InitImagePanel::newBlankCanvas(QSize size) {
    QImage white(size, QImage::Format_RGB32);
    white.fill(Qt::white);
    if (setInitImage(LoadedImage{{}, white, {}, false})) setColourMode(true);
}

void InitImagePanel::setLivePreview(const QImage& frame) {
    if (frame.isNull()) {
        livePreview_->hide();
        return;
    }
    const int side = std::max(96, std::min(canvas_->width(), canvas_->height()) / 3);
    livePreview_->setPixmap(QPixmap::fromImage(frame.scaled(side, side, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    livePreview_->adjustSize();
    livePreview_->move(canvas_->width() - livePreview_->width() - 8, canvas_->height() - livePreview_->height() - 8);
    livePreview_->show();
    livePreview_->raise();
}

bool InitImagePanel::canUndo() const { return activeLayer().canUndo(); }

bool InitImagePanel::setInitImage(const LoadedImage& image) {
    if (!image.ok() || image.image.isNull()) {
        Q_EMIT problem(image.ok() ? tr("no picture to use as init image") : image.error);
        return false;
    }
    // The painted mask goes with the old picture: the window keeps an undo step first.
    if (hasInitImage()) Q_EMIT aboutToDiscard(tr("replace the init image"));
    init_ = image;
    initMemory_ = image.path.isEmpty() ? std::make_shared<const ips::Image>(toIpsImage(image.image)) : nullptr;
    mask_.reset(image.image.size());
    paint_.reset(image.image.size(), image.image, MaskLayer::Kind::Colour);
    paintStart_ = paint_.image();  // shared until the first stroke changes the layer's copy
    canvas_->setImage(image.image);
    canvas_->setMask(&activeLayer());
    info_->setFullText(QStringLiteral("%1\u00d7%2 \u00b7 %3")
                           .arg(image.image.width())
                           .arg(image.image.height())
                           .arg(image.path.isEmpty() ? tr("pasted") : QFileInfo(image.path).fileName()));
    if (!image.path.isEmpty()) info_->setToolTip(image.path);
    maskChanged();
    updateAspectNote();
    return true;
}

void InitImagePanel::clearInitImage() {
    init_ = {};
    initMemory_.reset();
    mask_ = MaskLayer();
    const QColor colour = paint_.paintColour();
    paint_ = MaskLayer();
    paint_.setPaintColour(colour);
    paintStart_ = QImage();
    canvas_->setImage({});
    canvas_->setMask(&activeLayer());
    info_->setFullText({});
    maskChanged();
    updateAspectNote();
}

bool InitImagePanel::loadMask(const LoadedImage& mask) {
    if (!mask.ok()) {
        Q_EMIT problem(mask.error);
        return false;
    }
    const QString name = mask.path.isEmpty() ? tr("the mask") : QFileInfo(mask.path).fileName();
    if (!hasInitImage()) {
        Q_EMIT problem(tr("%1: open an init image first; a mask marks what to repaint in it").arg(name));
        return false;
    }
    if (mask.image.size() != init_.image.size()) {
        Q_EMIT problem(tr("%1 is %2\u00d7%3 but the init image is %4\u00d7%5; a mask must have the init image's size")
                           .arg(name)
                           .arg(mask.image.width())
                           .arg(mask.image.height())
                           .arg(init_.image.width())
                           .arg(init_.image.height()));
        return false;
    }
    mask_.assign(mask.image);
    setColourMode(false);  // shows the mask just loaded
    return true;
}

void InitImagePanel::chooseInitImage() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Init image"), RecentFolders::get(RecentFolders::kPictures),
                                                      RecentFolders::pictureFilter());
    if (file.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kPictures, file);
    setInitImage(loadImageFile(file));
}

void InitImagePanel::chooseMask() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Mask"), RecentFolders::get(RecentFolders::kPictures),
                                                      RecentFolders::pictureFilter());
    if (file.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kPictures, file);
    loadMask(loadImageFile(file));
}

void InitImagePanel::maskChanged() {
    undo_->setEnabled(activeLayer().canUndo());
    redo_->setEnabled(activeLayer().canRedo());
    canvas_->setMask(&activeLayer());  // rebuilds the overlay
    Q_EMIT changed();
}

void InitImagePanel::undo() {
    activeLayer().undo();
    maskChanged();
}

void InitImagePanel::redo() {
    activeLayer().redo();
    maskChanged();
}

double InitImagePanel::strength() const { return strength_->value(); }
void InitImagePanel::setStrength(double strength) { strength_->setValue(strength); }

void InitImagePanel::setBrushDiameter(int pixels) { brush_->setValue(pixels); }
int InitImagePanel::brushDiameter() const { return brush_->value(); }

void InitImagePanel::writeTo(ips::GenerationRequest& r) const {
    r.init_image.reset();
    r.mask_image.reset();
    r.strength.reset();
    if (!hasInitImage()) return;
    if (painted())  // the colour strokes are part of the picture the engine starts from
        r.init_image = ips::ImageSource{{}, std::make_shared<const ips::Image>(toIpsImage(paint_.image()))};
    else
        r.init_image = init_.path.isEmpty() ? ips::ImageSource{{}, initMemory_} : ips::ImageSource{toFsPath(init_.path), nullptr};
    r.strength = strength_->value();
    if (!mask_.isNull() && !mask_.isBlank())
        r.mask_image = ips::ImageSource{{}, std::make_shared<const ips::Image>(toIpsImage(mask_.image(), true))};
}

void InitImagePanel::readFrom(const ips::GenerationRequest& r) {
    if (!r.init_image) {
        clearInitImage();
        return;
    }
    const ips::ImageSource& s = *r.init_image;
    if (!setInitImage(s.image ? LoadedImage{{}, toQImage(*s.image), {}, false} : loadImageFile(fromFsPath(s.path)))) return;
    if (r.strength) strength_->setValue(*r.strength);
    if (r.mask_image) {
        const ips::ImageSource& m = *r.mask_image;
        loadMask(m.image ? LoadedImage{{}, toQImage(*m.image), {}, false} : loadImageFile(fromFsPath(m.path)));
    }
}

QSize InitImagePanel::generationSizeFor(QSize picture) {
    if (picture.isEmpty()) return {512, 512};
    static constexpr int kMax = 2048, kMin = 64;
    double w = picture.width(), h = picture.height();
    const double shrink = std::min(1.0, kMax / std::max(w, h));
    w *= shrink;
    h *= shrink;
    auto round8 = [](double v) { return std::clamp(int(std::lround(v / 8.0)) * 8, kMin, kMax); };
    return {round8(w), round8(h)};
}

void InitImagePanel::setOutputSize(QSize size) {
    outputSize_ = size;
    updateAspectNote();
}

QString InitImagePanel::aspectNote() const {
    if (!hasInitImage()) return {};
    const QSize p = init_.image.size();
    const double picture = double(p.width()) / p.height(), output = double(outputSize_.width()) / outputSize_.height();
    if (std::abs(picture / output - 1.0) < 0.02) return {};  // rounding to multiples of 8 is not a change of shape
    return tr("The picture (%1\u00d7%2) will be stretched to the output's %3\u00d7%4: another aspect ratio.")
        .arg(p.width())
        .arg(p.height())
        .arg(outputSize_.width())
        .arg(outputSize_.height());
}

void InitImagePanel::updateAspectNote() {
    const QString note = aspectNote();
    aspectRow_->setVisible(!note.isEmpty());
    aspectNote_->setText(note);
    const QSize fit = generationSizeFor(init_.image.size());
    useSize_->setText(tr("Use its size (%1\u00d7%2)").arg(fit.width()).arg(fit.height()));
}

}  // namespace ipsui
