#include "reference_panel.h"

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMimeData>
#include <QPushButton>
#include <QSlider>
#include <QToolButton>
#include <cmath>
#include <utility>
#include <vector>

#include "elided_label.h"
#include "ips/errors.h"
#include "ips/image_tools.h"
#include "ips/ip_adapter_options.h"
#include "qt_convert.h"
#include "recent_folders.h"
#include "region_dialog.h"
#include "step_range_edit.h"

namespace ipsui {

namespace {
constexpr int kThumb = 72;

QPixmap thumbnail(const QImage& image) {
    return QPixmap::fromImage(image.scaled(kThumb, kThumb, Qt::KeepAspectRatio, Qt::SmoothTransformation));
}

QString referenceFilter() { return RecentFolders::pictureFilter() + QStringLiteral(";;Image embeddings (*.safetensors)"); }
}  // namespace

// ---------------------------------------------------------------------------------------------------------
ReferenceRow::ReferenceRow(LoadedImage image, QWidget* parent) : QWidget(parent), image_(std::move(image)) {
    if (image_.path.isEmpty() && !image_.image.isNull())
        memoryImage_ = std::make_shared<const ips::Image>(toIpsImage(image_.image));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 2, 0, 2);

    auto* thumb = new QLabel;
    thumb->setFixedSize(kThumb, kThumb);
    thumb->setAlignment(Qt::AlignCenter);
    thumb->setFrameShape(QFrame::StyledPanel);
    if (image_.isEmbedding) thumb->setText(QStringLiteral("embedding"));
    else thumb->setPixmap(thumbnail(image_.image));
    const QString name = image_.path.isEmpty() ? tr("pasted picture") : QFileInfo(image_.path).fileName();
    thumb->setToolTip(image_.path.isEmpty() ? name : image_.path);
    layout->addWidget(thumb);

    preview_ = new QLabel;
    preview_->setFixedSize(kThumb, kThumb);
    preview_->setAlignment(Qt::AlignCenter);
    preview_->setFrameShape(QFrame::StyledPanel);
    preview_->setToolTip(tr("Encoder view: the 224\u00d7224 square the image encoder sees with this crop mode "
                            "(computed by the engine's own preprocessing)"));
    layout->addWidget(preview_);

    auto* fields = new QFormLayout;
    fields->setContentsMargins(4, 0, 0, 0);
    auto* title = new ElidedLabel(name);
    if (!image_.path.isEmpty()) title->setToolTip(image_.path);
    fields->addRow(title);
    weight_ = new QDoubleSpinBox;
    weight_->setRange(0.0, 2.0);
    weight_->setSingleStep(0.05);
    weight_->setValue(1.0);
    weight_->setToolTip(tr("How much this picture counts among the references (1 = as diffusers)"));
    fields->addRow(tr("Weight"), weight_);
    crop_ = new QComboBox;
    crop_->addItem(tr("Center crop"), QStringLiteral("center"));
    crop_->addItem(tr("Pad (keep all)"), QStringLiteral("pad"));
    crop_->addItem(tr("Squash"), QStringLiteral("squash"));
    crop_->setEnabled(!image_.isEmbedding);
    fields->addRow(tr("Crop"), crop_);
    auto* regionRow = new QHBoxLayout;
    regionChip_ = new QLabel;
    regionChip_->setFixedSize(12, 12);
    regionLabel_ = new ElidedLabel;
    regionButton_ = new QToolButton;
    regionButton_->setText(tr("Paint…"));
    regionButton_->setToolTip(tr("Paint where this reference applies on the picture (its region); the menu loads "
                                 "a region from a file or clears it (everywhere again)"));
    regionButton_->setPopupMode(QToolButton::MenuButtonPopup);
    auto* menu = new QMenu(regionButton_);
    menu->addAction(tr("Paint region…"), this, [this] { Q_EMIT regionPaintRequested(this); });
    menu->addAction(tr("Load region from file…"), this, &ReferenceRow::chooseRegionFile);
    auto* clearRegion = menu->addAction(tr("Everywhere (clear the region)"), this, [this] { setRegion({}); });
    auto* restore = menu->addAction(tr("Restore the previous region"), this, &ReferenceRow::restorePreviousRegion);
    connect(menu, &QMenu::aboutToShow, this, [this, clearRegion, restore] {
        clearRegion->setEnabled(!region_.isNull());
        restore->setEnabled(hasPrevious_);
    });
    regionButton_->setMenu(menu);
    connect(regionButton_, &QToolButton::clicked, this, [this] { Q_EMIT regionPaintRequested(this); });
    regionRow->addWidget(regionChip_);
    regionRow->addWidget(regionLabel_, 1);
    regionRow->addWidget(regionButton_);
    fields->addRow(tr("Region"), regionRow);
    layout->addLayout(fields, 1);

    auto* remove = new QToolButton;
    remove->setText(QStringLiteral("\u2715"));
    remove->setToolTip(tr("Remove this reference"));
    remove->setAutoRaise(true);
    layout->addWidget(remove, 0, Qt::AlignTop);

    connect(remove, &QToolButton::clicked, this, [this] { Q_EMIT removeRequested(this); });
    connect(weight_, &QDoubleSpinBox::valueChanged, this, &ReferenceRow::changed);
    connect(crop_, &QComboBox::currentIndexChanged, this, [this] {
        updatePreview();
        Q_EMIT cropChanged(crop());
        Q_EMIT changed();
    });
    updatePreview();
    updateRegionLabel();
}

void ReferenceRow::setRegion(const QImage& region) {
    previousRegion_ = region_;
    hasPrevious_ = true;
    region_ = region.isNull() ? QImage() : region.convertToFormat(QImage::Format_Grayscale8);
    updateRegionLabel();
    Q_EMIT changed();
}

void ReferenceRow::restorePreviousRegion() {
    if (!hasPrevious_) return;
    setRegion(QImage(previousRegion_));  // and the one replaced becomes the previous: restore toggles
}

void ReferenceRow::setRegionColor(QColor color) {
    color_ = color;
    updateRegionLabel();
}

void ReferenceRow::updateRegionLabel() {
    QPixmap chip(12, 12);
    chip.fill(region_.isNull() ? QColor(Qt::transparent) : color_);
    regionChip_->setPixmap(chip);
    if (region_.isNull()) {
        regionLabel_->setFullText(tr("all"));
        regionLabel_->setToolTip(tr("No region: this reference applies to the whole picture"));
        return;
    }
    // The share of the picture painted, so an empty region is seen before generating.
    std::int64_t on = 0;
    for (int y = 0; y < region_.height(); ++y) {
        const uchar* row = region_.constScanLine(y);
        for (int x = 0; x < region_.width(); ++x) on += row[x] >= 128;
    }
    const double area = std::max(1.0, double(region_.width()) * region_.height());
    regionLabel_->setFullText(on == 0 ? tr("empty") : tr("%1 %").arg(std::lround(100.0 * on / area)));
    regionLabel_->setToolTip(on == 0 ? tr("The painted region is empty: this reference has no effect")
                                     : tr("Painted region: %1 % of the %2\u00d7%3 picture, shown in this colour when painting")
                                           .arg(std::lround(100.0 * on / area))
                                           .arg(region_.width())
                                           .arg(region_.height()));
}

void ReferenceRow::chooseRegionFile() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Region for this reference (white = here)"),
                                                      RecentFolders::get(RecentFolders::kPictures), RecentFolders::pictureFilter());
    if (file.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kPictures, file);
    const LoadedImage loaded = loadImageFile(file);
    if (!loaded.ok()) {
        Q_EMIT problem(loaded.error);
        return;
    }
    setRegion(loaded.image);
}

ips::ImageSource ReferenceRow::source() const {
    if (!image_.path.isEmpty()) return {toFsPath(image_.path), nullptr};
    return {{}, memoryImage_};
}

double ReferenceRow::weight() const { return weight_->value(); }
void ReferenceRow::setWeight(double weight) { weight_->setValue(weight); }

ips::CropMode ReferenceRow::crop() const {
    return ips::parse_crop_mode(crop_->currentData().toString().toStdString()).value_or(ips::CropMode::Center);
}

void ReferenceRow::setCrop(ips::CropMode mode) {
    crop_->setCurrentIndex(crop_->findData(QString::fromLatin1(ips::crop_mode_name(mode).data(), ips::crop_mode_name(mode).size())));
}

void ReferenceRow::updatePreview() {
    if (image_.isEmbedding || image_.image.isNull()) {
        preview_->setText(QStringLiteral("\u2014"));
        return;
    }
    // Computed by the engine's own preprocessing, so the preview is exactly the encoder's input.
    const ips::Image view = ips::reference_encoder_view(memoryImage_ ? *memoryImage_ : toIpsImage(image_.image), crop());
    encoderPreview_ = toQImage(view);
    preview_->setPixmap(thumbnail(encoderPreview_));
}

// ---------------------------------------------------------------------------------------------------------
ReferencePanel::ReferencePanel(QWidget* parent) : QWidget(parent) {
    setAcceptDrops(true);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);

    auto* header = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add\u2026"));
    add->setToolTip(tr("Choose reference pictures (Ctrl+Shift+O)"));
    auto* paste = new QPushButton(tr("Paste"));
    paste->setToolTip(tr("Paste a picture from the clipboard (Ctrl+V)"));
    auto* clear = new QPushButton(tr("Clear"));
    clear->setObjectName(QStringLiteral("clearReferences"));
    header->addWidget(add);
    header->addWidget(paste);
    header->addWidget(clear);
    header->addStretch();
    layout->addLayout(header);

    emptyHint_ = new QLabel(tr("Drop reference pictures here, paste one with Ctrl+V, or click Add."));
    emptyHint_->setWordWrap(true);
    emptyHint_->setAlignment(Qt::AlignCenter);
    emptyHint_->setMinimumHeight(70);
    emptyHint_->setStyleSheet(QStringLiteral("QLabel { border: 2px dashed palette(mid); border-radius: 6px; color: palette(mid); }"));
    layout->addWidget(emptyHint_);
    rows_ = new QVBoxLayout;
    layout->addLayout(rows_);

    auto* form = new QFormLayout;
    auto* negativeRow = new QHBoxLayout;
    negativeThumb_ = new QLabel(tr("none"));
    negativeThumb_->setFixedSize(40, 40);
    negativeThumb_->setAlignment(Qt::AlignCenter);
    negativeThumb_->setFrameShape(QFrame::StyledPanel);
    auto* chooseNegative = new QPushButton(tr("Choose\u2026"));
    auto* clearNegative = new QPushButton(tr("Clear"));
    negativeRow->addWidget(negativeThumb_);
    negativeRow->addWidget(chooseNegative);
    negativeRow->addWidget(clearNegative);
    negativeRow->addStretch();
    form->addRow(tr("Negative"), negativeRow);

    adapter_ = new QComboBox;
    adapter_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    adapter_->setMinimumContentsLength(16);
    form->addRow(tr("Adapter"), adapter_);

    auto* scaleRow = new QHBoxLayout;
    scaleSlider_ = new QSlider(Qt::Horizontal);
    scaleSlider_->setRange(0, 150);
    scaleSlider_->setValue(100);
    scaleSlider_->setToolTip(tr("Image prompt strength: 0 ignores the references, 1 is the adapter's training strength"));
    scaleBox_ = new QDoubleSpinBox;
    scaleBox_->setRange(0.0, 1.5);
    scaleBox_->setSingleStep(0.05);
    scaleBox_->setDecimals(2);
    scaleBox_->setValue(1.0);
    scaleRow->addWidget(scaleSlider_, 1);
    scaleRow->addWidget(scaleBox_);
    form->addRow(tr("IP scale"), scaleRow);

    // ComfyUI_IPAdapter_plus's weight types. The modes they replace come first with their old ids
    // (full, style, composition: same places, and sessions saved before still find them; the core
    // takes both names), then the others in ComfyUI's order.
    mode_ = new QComboBox;
    auto addWeightType = [this](const ips::IpChoice& c, const QString& id) {
        mode_->addItem(QString::fromUtf8(c.name), id);
        mode_->setItemData(mode_->count() - 1, QString::fromUtf8(c.description), Qt::ToolTipRole);
    };
    const std::vector<std::pair<std::string, QString>> replaced{
        {"linear", QStringLiteral("full")}, {"style transfer", QStringLiteral("style")}, {"composition", QStringLiteral("composition")}};
    for (const auto& [name, id] : replaced)
        for (const ips::IpChoice& c : ips::ip_weight_types())
            if (name == c.name) addWeightType(c, id);
    for (const ips::IpChoice& c : ips::ip_weight_types())
        if (mode_->findText(QString::fromUtf8(c.name)) < 0) addWeightType(c, QString::fromUtf8(c.name));
    mode_->setToolTip(tr("How the adapter's weight spreads over the UNet's layers (ComfyUI's weight type): which "
                         "layers take the style, which the composition"));
    form->addRow(tr("Weight type"), mode_);

    auto fillChoices = [](QComboBox* box, const std::vector<ips::IpChoice>& choices) {
        for (const ips::IpChoice& c : choices) {
            box->addItem(QString::fromUtf8(c.name), QString::fromUtf8(c.name));
            box->setItemData(box->count() - 1, QString::fromUtf8(c.description), Qt::ToolTipRole);
        }
    };
    combine_ = new QComboBox;
    fillChoices(combine_, ips::ip_combine_embeds_modes());
    combine_->setToolTip(tr("How several references of this adapter become one image prompt (two or more references)"));
    scaling_ = new QComboBox;
    fillChoices(scaling_, ips::ip_embeds_scaling_modes());
    scaling_->setToolTip(tr("Where the weight acts in the image attention (ComfyUI's embeds scaling)"));
    form->addRow(tr("Combine"), combine_);
    form->addRow(tr("Scaling"), scaling_);

    range_ = new StepRangeEdit;
    form->addRow(tr("Active"), range_);
    layout->addLayout(form);

    connect(add, &QPushButton::clicked, this, &ReferencePanel::chooseFiles);
    connect(paste, &QPushButton::clicked, this, [this] { addFromMime(QApplication::clipboard()->mimeData()); });
    connect(clear, &QPushButton::clicked, this, [this] {
        if (rows_->count() == 0) return;
        Q_EMIT aboutToDiscard(tr("clear references"));
        clearReferences();
    });
    connect(chooseNegative, &QPushButton::clicked, this, &ReferencePanel::chooseNegative);
    connect(clearNegative, &QPushButton::clicked, this, [this] {
        if (negative_.path.isEmpty() && negative_.image.isNull()) return;
        Q_EMIT aboutToDiscard(tr("clear the negative reference"));
        setNegative({});
    });
    // Slider and box stay in step; the box is the value (two decimals), the slider its coarse handle.
    connect(scaleSlider_, &QSlider::valueChanged, this, [this](int v) {
        if (std::lround(scaleBox_->value() * 100) != v) scaleBox_->setValue(v / 100.0);
    });
    connect(scaleBox_, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        const QSignalBlocker block(scaleSlider_);
        scaleSlider_->setValue(static_cast<int>(std::lround(v * 100)));
        Q_EMIT changed();
    });
    connect(range_, &StepRangeEdit::changed, this, &ReferencePanel::changed);
    connect(mode_, &QComboBox::currentIndexChanged, this, &ReferencePanel::changed);
    connect(combine_, &QComboBox::currentIndexChanged, this, &ReferencePanel::changed);
    connect(scaling_, &QComboBox::currentIndexChanged, this, &ReferencePanel::changed);
    updateEmptyHint();
}

ReferenceRow* ReferencePanel::row(int index) const {
    auto* item = rows_->itemAt(index);
    return item ? qobject_cast<ReferenceRow*>(item->widget()) : nullptr;
}

int ReferencePanel::referenceCount() const { return rows_->count(); }

QColor ReferencePanel::regionColor(int index) {
    static const QColor colors[] = {{255, 140, 0}, {0, 190, 255}, {120, 220, 40}, {235, 60, 200}, {255, 225, 40}, {150, 110, 255}};
    return colors[index % (sizeof colors / sizeof colors[0])];
}

void ReferencePanel::recolorRows() {
    for (int i = 0; i < rows_->count(); ++i) row(i)->setRegionColor(regionColor(i));
}

void ReferencePanel::paintRegion(int index) {
    ReferenceRow* target = row(index);
    if (!target) return;
    const RegionCanvas canvas = regionCanvas_ ? regionCanvas_() : RegionCanvas{};
    QList<OtherRegion> others;
    for (int i = 0; i < rows_->count(); ++i)
        if (i != index && !row(i)->region().isNull()) others.push_back({row(i)->region(), row(i)->regionColor()});
    RegionDialog dialog(canvas.size, canvas.background, target->region(), target->regionColor(), others,
                        tr("Region of reference %1").arg(index + 1), this);
    if (dialog.exec() == QDialog::Accepted) target->setRegion(dialog.region());
}

void ReferencePanel::updateEmptyHint() {
    recolorRows();
    emptyHint_->setVisible(rows_->count() == 0);
    combine_->setEnabled(rows_->count() >= 2);  // combining needs several references
}

int ReferencePanel::addLoaded(const QList<LoadedImage>& items) {
    int added = 0;
    for (const LoadedImage& item : items) {
        if (!item.ok()) {
            Q_EMIT problem(item.error);
            continue;
        }
        auto* row = new ReferenceRow(item);
        if (!item.isEmbedding) row->setCrop(defaultCrop_);  // the crop mode last set (or loaded from a preset)
        connect(row, &ReferenceRow::removeRequested, this, [this](ReferenceRow* r) {
            Q_EMIT aboutToDiscard(tr("remove reference %1").arg(rows_->indexOf(r) + 1));
            rows_->removeWidget(r);
            r->deleteLater();
            updateEmptyHint();
            Q_EMIT changed();
        });
        connect(row, &ReferenceRow::changed, this, &ReferencePanel::changed);
        connect(row, &ReferenceRow::cropChanged, this, [this](ips::CropMode mode) { defaultCrop_ = mode; });
        connect(row, &ReferenceRow::problem, this, &ReferencePanel::problem);
        connect(row, &ReferenceRow::regionPaintRequested, this, [this](ReferenceRow* r) { paintRegion(rows_->indexOf(r)); });
        rows_->addWidget(row);
        ++added;
    }
    updateEmptyHint();
    if (added) Q_EMIT changed();
    return added;
}

int ReferencePanel::addFromMime(const QMimeData* mime) {
    const QList<LoadedImage> items = imagesFromMime(mime, true);
    if (items.isEmpty()) {
        Q_EMIT problem(tr("Nothing to add: the clipboard or drop holds no picture"));
        return 0;
    }
    return addLoaded(items);
}

void ReferencePanel::clearReferences() {
    while (auto* item = rows_->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    updateEmptyHint();
    Q_EMIT changed();
}

void ReferencePanel::setNegative(const LoadedImage& image) {
    if (!image.ok()) {
        Q_EMIT problem(image.error);
        return;
    }
    negative_ = image;
    if (image.isEmbedding) negativeThumb_->setText(QStringLiteral("emb"));
    else if (image.image.isNull()) negativeThumb_->setText(tr("none"));
    else negativeThumb_->setPixmap(QPixmap::fromImage(image.image.scaled(40, 40, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    Q_EMIT changed();
}

void ReferencePanel::chooseFiles() {
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add reference pictures"),
                                                            RecentFolders::get(RecentFolders::kPictures), referenceFilter());
    if (files.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kPictures, files.first());
    QList<LoadedImage> items;
    for (const QString& f : files) {
        if (f.endsWith(QStringLiteral(".safetensors"), Qt::CaseInsensitive)) items.append(LoadedImage{f, {}, {}, true});
        else items.append(loadImageFile(f));
    }
    addLoaded(items);
}

void ReferencePanel::chooseNegative() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Negative reference"), RecentFolders::get(RecentFolders::kPictures),
                                                      referenceFilter());
    if (file.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kPictures, file);
    setNegative(file.endsWith(QStringLiteral(".safetensors"), Qt::CaseInsensitive) ? LoadedImage{file, {}, {}, true} : loadImageFile(file));
}

void ReferencePanel::setAdapterFiles(const QStringList& paths) {
    const QString current = adapterFile();
    const QSignalBlocker block(adapter_);
    adapter_->clear();
    for (const QString& p : paths) adapter_->addItem(QFileInfo(p).fileName(), p);
    if (paths.isEmpty()) adapter_->addItem(tr("(none installed \u2014 Settings \u25b8 Models)"), QString());
    const int index = adapter_->findData(current);
    if (index >= 0) adapter_->setCurrentIndex(index);
}

QString ReferencePanel::adapterFile() const { return adapter_->currentData().toString(); }

void ReferencePanel::setScale(double scale) { scaleBox_->setValue(scale); }
double ReferencePanel::scale() const { return scaleBox_->value(); }

ips::IpAdapterSettings ReferencePanel::knobs() const {
    ips::IpAdapterSettings s;
    s.path = toFsPath(adapterFile());
    s.scale = scale();
    s.mode = mode_->currentData().toString().toStdString();
    s.combine_embeds = combine_->currentData().toString().toStdString();
    s.embeds_scaling = scaling_->currentData().toString().toStdString();
    s.start = range_->start();
    s.end = range_->end();
    // Presets keep the crop mode the window shows: the first reference's (the one new pictures get).
    s.crop = rows_->count() > 0 ? row(0)->crop() : defaultCrop_;
    return s;
}

std::optional<ips::IpAdapterSettings> ReferencePanel::settings(const QString& imageEncoder) const {
    if (rows_->count() == 0) return std::nullopt;
    ips::IpAdapterSettings s = knobs();
    s.image_encoder = toFsPath(imageEncoder);
    bool weighted = false, sameCrop = true;
    for (int i = 0; i < rows_->count(); ++i) {
        const ReferenceRow* r = row(i);
        s.images.push_back(r->source());
        s.image_weights.push_back(r->weight());
        s.image_crops.push_back(r->crop());
        weighted = weighted || r->weight() != 1.0;
        sameCrop = sameCrop && r->crop() == row(0)->crop();
    }
    // Keep requests minimal (and identical to what a user would write) when nothing differs per image.
    if (!weighted) s.image_weights.clear();
    // Regions: one per image once any is painted; the others are all white at the same size (everywhere, though
    // now attended on their own, as with every region).
    QSize regionSize;
    for (int i = 0; i < rows_->count() && regionSize.isEmpty(); ++i) regionSize = row(i)->region().size();
    if (!regionSize.isEmpty()) {
        for (int i = 0; i < rows_->count(); ++i) {
            QImage region = row(i)->region();
            if (region.isNull()) {
                region = QImage(regionSize, QImage::Format_Grayscale8);
                region.fill(255);
            }
            s.regions.push_back(ips::ImageSource{{}, std::make_shared<const ips::Image>(toIpsImage(region))});
        }
    }
    s.crop = row(0)->crop();
    if (sameCrop) s.image_crops.clear();
    if (!negative_.path.isEmpty()) s.negative_image = ips::ImageSource{toFsPath(negative_.path), nullptr};
    else if (!negative_.image.isNull())
        s.negative_image = ips::ImageSource{{}, std::make_shared<const ips::Image>(toIpsImage(negative_.image))};
    return s;
}

void ReferencePanel::applyKnobs(const ips::IpAdapterSettings& s) {
    if (!s.path.empty()) {
        const QString path = fromFsPath(s.path);
        if (adapter_->findData(path) < 0) adapter_->addItem(QFileInfo(path).fileName(), path);
        adapter_->setCurrentIndex(adapter_->findData(path));
    }
    setScale(s.scale);
    defaultCrop_ = s.crop;
    // A preset (no pictures) sets the crop of the references already there; a full restore has set each already.
    if (s.images.empty())
        for (int i = 0; i < rows_->count(); ++i)
            if (!row(i)->image().isEmbedding) row(i)->setCrop(s.crop);
    // Old and new names of a weight type find the same entry.
    for (int i = 0; i < mode_->count(); ++i)
        if (ips::canonical_ip_weight_type(mode_->itemData(i).toString().toStdString()) == ips::canonical_ip_weight_type(s.mode))
            mode_->setCurrentIndex(i);
    if (const int i = combine_->findData(QString::fromStdString(s.combine_embeds)); i >= 0) combine_->setCurrentIndex(i);
    if (const int i = scaling_->findData(QString::fromStdString(s.embeds_scaling)); i >= 0) scaling_->setCurrentIndex(i);
    range_->setRange(s.start, s.end);
}

void ReferencePanel::applySettings(const ips::IpAdapterSettings& s) {
    auto load = [](const ips::ImageSource& source) {
        if (source.image) return LoadedImage{{}, toQImage(*source.image), {}, false};
        const QString path = fromFsPath(source.path);
        if (path.endsWith(QStringLiteral(".safetensors"), Qt::CaseInsensitive)) return LoadedImage{path, {}, {}, true};
        return loadImageFile(path);
    };
    clearReferences();
    for (std::size_t i = 0; i < s.images.size(); ++i) {
        if (addLoaded({load(s.images[i])}) == 0) continue;
        ReferenceRow* r = row(rows_->count() - 1);
        r->setWeight(i < s.image_weights.size() ? s.image_weights[i] : 1.0);
        r->setCrop(i < s.image_crops.size() ? s.image_crops[i] : s.crop);
        if (i < s.regions.size()) {
            const LoadedImage region = load(s.regions[i]);
            if (region.ok()) r->setRegion(region.image);
            else Q_EMIT problem(region.error);
        }
    }
    setNegative({});  // cleared first: a negative that fails to load must not leave the old one showing
    if (s.negative_image) setNegative(load(*s.negative_image));
    applyKnobs(s);
}

void ReferencePanel::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls() || event->mimeData()->hasImage()) event->acceptProposedAction();
}

void ReferencePanel::dropEvent(QDropEvent* event) {
    addFromMime(event->mimeData());
    event->setDropAction(Qt::CopyAction);
    event->accept();
}

}  // namespace ipsui
