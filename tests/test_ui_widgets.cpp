// The window's panels driven as a user drives them: drops, sliders, brush strokes, presets, history.
#include <QApplication>
#include <algorithm>
#include <QClipboard>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QSlider>
#include <QSpinBox>
#include <QTabWidget>
#include <QSettings>
#include <QtTest>

#include "canvas_view.h"
#include "control_panel.h"
#include "generation_worker.h"
#include "history_panel.h"
#include "init_image_panel.h"
#include "ips/image_tools.h"
#include "ips/png_file.h"
#include "ips/request_json.h"
#include "main_window.h"
#include "models_dialog.h"
#include "png_bytes.h"
#include "preset_store.h"
#include "prompt_token_counter.h"
#include "qt_convert.h"
#include "reference_panel.h"
#include "screen_fit.h"
#include "region_dialog.h"
#include "settings_panel.h"
#include "sketch_pad.h"
#include "ui_test_env.h"

using ipstest::dataFile;

namespace {

// Sends the drag-enter and drop a file manager would send.
void dropOn(QWidget* target, const QMimeData& mime) {
    const QPoint at = target->rect().center();
    QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(target, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(at), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(target, &drop);
}

QMimeData* filesMime(const QStringList& files) {
    auto* mime = new QMimeData;
    QList<QUrl> urls;
    for (const QString& f : files) urls << QUrl::fromLocalFile(f);
    mime->setUrls(urls);
    return mime;
}

int countNonZero(const QImage& gray) {
    int n = 0;
    for (int y = 0; y < gray.height(); ++y)
        for (int x = 0; x < gray.width(); ++x) n += gray.constScanLine(y)[x] != 0;
    return n;
}

}  // namespace

class TestUiWidgets : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::unique_ptr<ipsui::MainWindow> window;
    QStringList messages;

    QString scratch(const QString& name) const { return dir.filePath(name); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
        window = std::make_unique<ipsui::MainWindow>(ipstest::testContext(dir));
        window->setModelConfig(ipstest::tinyModels());
        window->show();
        connect(window->references(), &ipsui::ReferencePanel::problem, this, [this](const QString& m) { messages << m; });
    }

    void init() {
        messages.clear();
        window->references()->clearReferences();
        window->initImage()->clearInitImage();
        window->controls()->clearUnits();
    }

    void droppedFilesBecomeReferences() {
        // Two pictures, a text file, a corrupt PNG, a 20000x20000 PNG and a unicode name in one drop.
        QFile text(scratch(QStringLiteral("notes.txt")));
        QVERIFY(text.open(QIODevice::WriteOnly));
        text.write("not a picture");
        text.close();
        QFile huge(scratch(QStringLiteral("huge.png")));
        QVERIFY(huge.open(QIODevice::WriteOnly));
        huge.write(ipstest::pngHeader(20000, 20000));
        huge.close();
        QFile corrupt(scratch(QStringLiteral("corrupt.png")));
        QVERIFY(corrupt.open(QIODevice::WriteOnly));
        QFile original(dataFile("images/scene_128x128.png"));
        QVERIFY(original.open(QIODevice::ReadOnly));
        corrupt.write(original.readAll().left(200));  // header intact, pixel data cut off
        corrupt.close();
        const QString unicodeName = scratch(QStringLiteral("r\u00e9f\u00e9rence \u732b.png"));
        QVERIFY(QFile::copy(dataFile("images/portrait_48x80.png"), unicodeName));

        std::unique_ptr<QMimeData> mime(filesMime({dataFile("images/scene_128x128.png"), scratch(QStringLiteral("notes.txt")),
                                                   dataFile("images/wide_256x128.png"), scratch(QStringLiteral("huge.png")),
                                                   scratch(QStringLiteral("corrupt.png")), unicodeName}));
        dropOn(window->references(), *mime);
        QCOMPARE(window->references()->referenceCount(), 3);
        QCOMPARE(messages.size(), 3);
        QVERIFY2(messages[0].contains(QStringLiteral("notes.txt")), qPrintable(messages[0]));
        QVERIFY2(messages[1].contains(QStringLiteral("huge.png")) && messages[1].contains(QStringLiteral("20000x20000")), qPrintable(messages[1]));
        QVERIFY2(messages[2].contains(QStringLiteral("corrupt.png")), qPrintable(messages[2]));
        QCOMPARE(window->references()->row(2)->image().path, unicodeName);
        QCOMPARE(window->messageText().isEmpty(), false);  // the window shows the last problem

        // A picture without a file (dragged from a browser) is held in memory.
        QMimeData pasted;
        pasted.setImageData(QImage(dataFile("images/gradient_64x64.png")));
        dropOn(window->references(), pasted);
        QCOMPARE(window->references()->referenceCount(), 4);
        QVERIFY(window->references()->row(3)->source().image != nullptr);
        QVERIFY(window->references()->row(3)->source().path.empty());
        // A web address cannot be used.
        QMimeData remote;
        remote.setUrls({QUrl(QStringLiteral("https://example.com/cat.png"))});
        dropOn(window->references(), remote);
        QCOMPARE(window->references()->referenceCount(), 4);
        QVERIFY(messages.last().contains(QStringLiteral("only local files")));
    }

    // Regions: painted in the region dialog (brush, fill, invert, undo), one per reference once any is set (the
    // others all white), cleared and restored from the row, kept through applySettings, one colour per row.
    void referenceRegions() {
        auto* refs = window->references();
        QCOMPARE(refs->addLoaded({ipsui::loadImageFile(dataFile("images/scene_128x128.png")), ipsui::loadImageFile(dataFile("images/wide_256x128.png"))}), 2);
        QVERIFY(refs->settings({})->regions.empty());
        QCOMPARE(refs->row(1)->regionColor(), ipsui::ReferencePanel::regionColor(1));
        QVERIFY(refs->row(0)->regionColor() != refs->row(1)->regionColor());

        // The dialog paints at the output size; a stroke down the left side, then fill / invert / undo.
        ipsui::RegionDialog dialog(QSize(64, 48), QImage(), QImage(), ipsui::ReferencePanel::regionColor(0), {}, QStringLiteral("test"));
        QCOMPARE(dialog.region().size(), QSize(64, 48));
        QVERIFY(dialog.mask().isBlank());
        dialog.mask().beginStroke(QPointF(8, 0), 16, false);
        dialog.mask().extendStroke(QPointF(8, 47));
        dialog.mask().endStroke();
        const QImage stroke = dialog.region();
        QCOMPARE(qGray(stroke.pixel(8, 24)), 255);
        QCOMPARE(qGray(stroke.pixel(56, 24)), 0);
        dialog.mask().fill();
        QCOMPARE(qGray(dialog.region().pixel(56, 24)), 255);
        dialog.mask().undo();
        dialog.mask().invert();
        QCOMPARE(qGray(dialog.region().pixel(8, 24)), 0);
        QCOMPARE(qGray(dialog.region().pixel(56, 24)), 255);
        dialog.mask().undo();
        QVERIFY(dialog.region() == stroke);
        // Reopening starts from the region it is given, not as an undo step.
        ipsui::RegionDialog again(QSize(64, 48), QImage(), stroke, ipsui::ReferencePanel::regionColor(0), {{stroke, Qt::red}}, QStringLiteral("again"));
        QVERIFY(again.region() == stroke);
        QVERIFY(!again.mask().canUndo());

        refs->row(0)->setRegion(stroke);
        auto s = *refs->settings({});
        QCOMPARE(s.regions.size(), std::size_t(2));
        QVERIFY(s.regions[0].image && s.regions[1].image);
        QCOMPARE(s.regions[0].image->width, 64);
        QCOMPARE(int(s.regions[0].image->pixels[(24 * 64 + 8) * 3]), 255);
        QCOMPARE(int(s.regions[0].image->pixels[(24 * 64 + 56) * 3]), 0);
        // The unpainted reference is everywhere: all white at the same size.
        QCOMPARE(s.regions[1].image->width, 64);
        QVERIFY(std::all_of(s.regions[1].image->pixels.begin(), s.regions[1].image->pixels.end(), [](std::uint8_t v) { return v == 255; }));

        // Clearing is one click; the previous region comes back from the same menu.
        refs->row(0)->setRegion({});
        QVERIFY(refs->settings({})->regions.empty());
        QVERIFY(refs->row(0)->canRestoreRegion());
        refs->row(0)->restorePreviousRegion();
        QVERIFY(refs->row(0)->region() == stroke);

        // A restore (history, session) brings the regions back with the pictures.
        refs->applySettings(s);
        QCOMPARE(refs->referenceCount(), 2);
        QVERIFY(refs->row(0)->region() == stroke);
        QCOMPARE(refs->settings({})->regions.size(), std::size_t(2));
    }

    void cropPreviewShowsWhatTheEncoderSees() {
        window->references()->addLoaded({ipsui::loadImageFile(dataFile("images/wide_256x128.png"))});
        ipsui::ReferenceRow* row = window->references()->row(0);
        const ips::Image source = ipsui::toIpsImage(QImage(dataFile("images/wide_256x128.png")));
        QCOMPARE(ipsui::toIpsImage(row->encoderPreview()).pixels, ips::reference_encoder_view(source, ips::CropMode::Center).pixels);
        row->setCrop(ips::CropMode::Pad);
        const QImage padded = row->encoderPreview();
        QCOMPARE(padded.size(), QSize(224, 224));
        // Letterboxed: the top rows are the CLIP mean colour (0.481, 0.458, 0.408) x 255.
        const QColor top = padded.pixelColor(112, 2);
        QVERIFY2(std::abs(top.red() - 123) <= 1 && std::abs(top.green() - 117) <= 1 && std::abs(top.blue() - 104) <= 1,
                 qPrintable(top.name()));
    }

    void controlsProduceTheRequest() {
        window->references()->addLoaded({ipsui::loadImageFile(dataFile("images/scene_128x128.png")),
                                         ipsui::loadImageFile(dataFile("images/shapes_100x75.png"))});
        // The slider moves the numeric box and back.
        window->references()->scaleSlider()->setValue(65);
        QCOMPARE(window->references()->scaleBox()->value(), 0.65);
        window->references()->scaleBox()->setValue(1.2);
        QCOMPARE(window->references()->scaleSlider()->value(), 120);
        window->references()->modeBox()->setCurrentIndex(window->references()->modeBox()->findData(QStringLiteral("style")));
        window->references()->row(1)->setWeight(0.5);
        // New references take the crop mode chosen last (earlier tests chose others): set both.
        window->references()->row(0)->setCrop(ips::CropMode::Center);
        window->references()->row(1)->setCrop(ips::CropMode::Squash);
        window->promptEdit()->setPlainText(QStringLiteral("a red fox, watercolor"));
        window->negativeEdit()->setPlainText(QStringLiteral("blurry"));
        auto* s = window->settings();
        s->widthBox()->setValue(128);
        s->heightBox()->setValue(192);
        s->stepsBox()->setValue(12);
        s->guidanceBox()->setValue(5.5);
        s->samplerBox()->setCurrentIndex(s->samplerBox()->findData(QStringLiteral("euler_a")));
        s->randomSeedBox()->setChecked(false);
        s->seedEdit()->setText(QStringLiteral("18446744073709551615"));  // the largest 64-bit seed
        s->precisionBox()->setCurrentIndex(s->precisionBox()->findData(QStringLiteral("bfloat16")));

        QString error;
        const auto r = window->buildRequest(&error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(QString::fromStdString(r->prompt), QStringLiteral("a red fox, watercolor"));
        QCOMPARE(QString::fromStdString(r->negative_prompt), QStringLiteral("blurry"));
        QCOMPARE(r->width, 128);
        QCOMPARE(r->height, 192);
        QCOMPARE(r->num_inference_steps, 12);
        QCOMPARE(r->guidance_scale, 5.5);
        QCOMPARE(QString::fromStdString(r->scheduler), QStringLiteral("euler_a"));
        QCOMPARE(r->seed.value(), std::uint64_t(18446744073709551615ULL));
        QCOMPARE(QString::fromStdString(r->dtype), QStringLiteral("bfloat16"));
        QCOMPARE(ipsui::fromFsPath(r->model), dataFile("tiny-sd15"));
        QCOMPARE(r->ip_adapters.size(), std::size_t(1));
        const auto& a = r->ip_adapters[0];
        QCOMPARE(ipsui::fromFsPath(a.path), dataFile("tiny-ip-adapter/ip-adapter_sd15.safetensors"));
        QCOMPARE(ipsui::fromFsPath(a.image_encoder), dataFile("tiny-sd15/image_encoder"));
        QCOMPARE(a.scale, 1.2);
        QCOMPARE(QString::fromStdString(a.mode), QStringLiteral("style"));
        QCOMPARE(a.images.size(), std::size_t(2));
        QCOMPARE(ipsui::fromFsPath(a.images[1].path), dataFile("images/shapes_100x75.png"));
        QCOMPARE(a.image_weights, (std::vector<double>{1.0, 0.5}));
        QCOMPARE(a.image_crops, (std::vector<ips::CropMode>{ips::CropMode::Center, ips::CropMode::Squash}));
        QVERIFY(!r->init_image && !r->mask_image && r->controlnets.empty());

        // A fixed seed beyond 64 bits is refused, not silently replaced by a random one.
        s->seedEdit()->setText(QStringLiteral("18446744073709551616"));
        QVERIFY(!window->buildRequest(&error));
        QVERIFY2(error.contains(QStringLiteral("18446744073709551616")), qPrintable(error));
        // Random seed: the request leaves it to the engine.
        s->randomSeedBox()->setChecked(true);
        QVERIFY(!window->buildRequest(&error)->seed);
        // No base model: a clear message instead of a request.
        window->setModelConfig({});
        QVERIFY(!window->buildRequest(&error));
        QVERIFY(error.contains(QStringLiteral("Settings")));
        window->setModelConfig(ipstest::tinyModels());
    }

    void maskStrokesPaintWhereTheMouseGoes() {
        ipsui::InitImagePanel* init = window->initImage();
        window->canvasTabs()->setCurrentWidget(init);
        QVERIFY(init->setInitImage(ipsui::loadImageFile(dataFile("images/scene_128x128.png"))));
        QApplication::processEvents();
        ipsui::CanvasView* canvas = init->canvas();
        init->setBrushDiameter(10);
        QVERIFY(init->mask().isBlank());

        // A horizontal stroke across the picture's middle at y = 64.
        const QPoint from = canvas->toWidget({20, 64}).toPoint(), to = canvas->toWidget({100, 64}).toPoint();
        QTest::mousePress(canvas, Qt::LeftButton, Qt::NoModifier, from);
        for (int i = 1; i <= 8; ++i) QTest::mouseMove(canvas, from + (to - from) * i / 8);
        QTest::mouseRelease(canvas, Qt::LeftButton, Qt::NoModifier, to);
        const QImage& mask = init->mask().image();
        QCOMPARE(mask.size(), QSize(128, 128));
        QCOMPARE(int(mask.pixelColor(60, 64).value()), 255);  // on the stroke
        QCOMPARE(int(mask.pixelColor(60, 10).value()), 0);    // far above it
        QCOMPARE(int(mask.pixelColor(110, 64).value()), 0);   // past its end
        const int painted = countNonZero(mask);
        QVERIFY2(painted > 80 * 8 && painted < 92 * 12, qPrintable(QString::number(painted)));

        // The request carries the painted mask at the init image's size.
        QString error;
        auto r = window->buildRequest(&error);
        QVERIFY2(r, qPrintable(error));
        QVERIFY(r->init_image && r->mask_image && r->mask_image->image);
        QCOMPARE(r->mask_image->image->width, 128);
        QCOMPARE(r->mask_image->image->pixels[64 * 128 + 60], std::uint8_t(255));

        // Eraser with Shift takes part of it away; undo brings it back; redo erases again.
        QTest::mousePress(canvas, Qt::LeftButton, Qt::ShiftModifier, canvas->toWidget({60, 64}).toPoint());
        QTest::mouseRelease(canvas, Qt::LeftButton, Qt::ShiftModifier, canvas->toWidget({60, 64}).toPoint());
        QCOMPARE(int(init->mask().image().pixelColor(60, 64).value()), 0);
        init->undo();
        QCOMPARE(countNonZero(init->mask().image()), painted);
        init->redo();
        QCOMPARE(int(init->mask().image().pixelColor(60, 64).value()), 0);
        init->undo();
        init->undo();
        QVERIFY(init->mask().isBlank());
        // Invert then clear, both undoable.
        init->mask().invert();
        QCOMPARE(countNonZero(init->mask().image()), 128 * 128);
        init->mask().clear();
        QVERIFY(init->mask().isBlank());
        init->undo();
        QCOMPARE(countNonZero(init->mask().image()), 128 * 128);

        // A mask of another size is refused and changes nothing.
        QStringList initProblems;
        {
            QObject context;
            connect(init, &ipsui::InitImagePanel::problem, &context, [&](const QString& m) { initProblems << m; });
            QVERIFY(!init->loadMask(ipsui::loadImageFile(dataFile("images/shapes_100x75.png"))));
        }
        QCOMPARE(initProblems.size(), 1);
        QVERIFY2(initProblems[0].contains(QStringLiteral("shapes_100x75.png is 100\u00d775")), qPrintable(initProblems[0]));
        QCOMPARE(countNonZero(init->mask().image()), 128 * 128);
        // A mask file of the right size replaces it.
        QVERIFY(init->loadMask(ipsui::loadImageFile(dataFile("images/mask_128x128.png"))));
        QCOMPARE(init->mask().image().convertToFormat(QImage::Format_Grayscale8),
                 QImage(dataFile("images/mask_128x128.png")).convertToFormat(QImage::Format_Grayscale8));
    }

    void cannyMapFollowsItsThresholds() {
        ipsui::ControlUnit* unit = window->controls()->addUnit();
        unit->setSource(ipsui::ControlUnit::Source::Canny);
        QVERIFY(unit->setPicture(ipsui::loadImageFile(dataFile("images/scene_128x128.png"))));
        const ips::Image source = ipsui::toIpsImage(QImage(dataFile("images/scene_128x128.png")));
        unit->setCannyThresholds(50, 100);
        QCOMPARE(ipsui::toIpsImage(unit->map()).pixels, ips::canny_edge_map(source, 50, 100).pixels);
        const QImage loose = unit->map();
        unit->setCannyThresholds(200, 250);
        QCOMPARE(ipsui::toIpsImage(unit->map()).pixels, ips::canny_edge_map(source, 200, 250).pixels);
        QVERIFY(countNonZero(unit->map().convertToFormat(QImage::Format_Grayscale8)) <
                countNonZero(loose.convertToFormat(QImage::Format_Grayscale8)));
        QString error;
        auto r = window->buildRequest(&error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->controlnets.size(), std::size_t(1));
        QCOMPARE(r->controlnets[0].image.image->pixels, ips::canny_edge_map(source, 200, 250).pixels);
        QCOMPARE(ipsui::fromFsPath(r->controlnets[0].path), dataFile("tiny-controlnet"));
    }

    void sketchBecomesAScribbleMap() {
        ipsui::ControlUnit* unit = window->controls()->addUnit();
        unit->setSource(ipsui::ControlUnit::Source::Sketch);
        QString error;
        QVERIFY(!window->buildRequest(&error));  // an enabled unit without a map
        QVERIFY2(error.contains(QStringLiteral("no map")), qPrintable(error));
        ipsui::SketchPad* pad = unit->sketchPad();
        pad->resize(256, 256);
        const QRectF area = pad->drawingRect();
        const QPoint a = (area.topLeft() + QPointF(area.width() * 0.2, area.height() * 0.5)).toPoint();
        const QPoint b = (area.topLeft() + QPointF(area.width() * 0.8, area.height() * 0.5)).toPoint();
        QTest::mousePress(pad, Qt::LeftButton, Qt::NoModifier, a);
        QTest::mouseMove(pad, b);
        QTest::mouseRelease(pad, Qt::LeftButton, Qt::NoModifier, b);
        QVERIFY(!unit->map().isNull());
        QCOMPARE(int(unit->map().pixelColor(256, 256).value()), 255);  // white line across the middle
        QCOMPARE(int(unit->map().pixelColor(256, 60).value()), 0);
        auto r = window->buildRequest(&error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->controlnets.front().image.image->channels, 1);
    }

    void presetsRoundTrip() {
        window->references()->setScale(0.35);
        window->references()->modeBox()->setCurrentIndex(2);  // composition
        window->promptEdit()->setPlainText(QStringLiteral("a lighthouse \u00e0 la tomb\u00e9e de la nuit"));
        window->settings()->stepsBox()->setValue(17);
        window->settings()->samplerBox()->setCurrentIndex(window->settings()->samplerBox()->findData(QStringLiteral("lms")));
        QVERIFY(window->savePreset(QStringLiteral("my \u00e9vening"), false));
        // Saving again under the same name is refused unless confirmed.
        QVERIFY(!window->savePreset(QStringLiteral("my \u00e9vening"), false));
        QVERIFY(window->messageText().contains(QStringLiteral("already exists")));

        window->references()->setScale(1.0);
        window->references()->modeBox()->setCurrentIndex(0);
        window->promptEdit()->setPlainText(QStringLiteral("something else"));
        window->settings()->stepsBox()->setValue(30);
        QVERIFY(window->loadPreset(QStringLiteral("my \u00e9vening")));
        QCOMPARE(window->references()->scale(), 0.35);
        QCOMPARE(window->references()->modeBox()->currentData().toString(), QStringLiteral("composition"));
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("a lighthouse \u00e0 la tomb\u00e9e de la nuit"));
        QCOMPARE(window->settings()->stepsBox()->value(), 17);
        QCOMPARE(window->settings()->samplerBox()->currentData().toString(), QStringLiteral("lms"));

        // Rename and delete; built-ins are listed and protected.
        ipsui::PresetStore& store = window->presets();
        store.rename(QStringLiteral("my \u00e9vening"), QStringLiteral("night"));
        QVERIFY(store.exists(QStringLiteral("night")) && !store.exists(QStringLiteral("my \u00e9vening")));
        QVERIFY(store.isBuiltIn(QStringLiteral("style transfer")));
        QVERIFY(!ipstest::inputErrorOf([&] { store.remove(QStringLiteral("style transfer")); }).empty());
        QVERIFY(!ipstest::inputErrorOf([&] { store.save(QStringLiteral("a/b"), {}, false); }).empty());
        store.remove(QStringLiteral("night"));
        QVERIFY(!store.exists(QStringLiteral("night")));

        // Every built-in loads; "style transfer" sets the style mode and keeps the prompt.
        // Every built-in says A1111 syntax, the window's own default: loading one never turns it off.
        for (const ipsui::PresetInfo& p : store.list())
            if (p.builtIn) {
                window->settings()->promptSyntaxBox()->setChecked(false);
                QVERIFY2(window->loadPreset(p.name), qPrintable(window->messageText()));
                QVERIFY2(window->settings()->promptSyntax() == ips::PromptSyntax::A1111, qPrintable(p.name));
            }
        QVERIFY(window->loadPreset(QStringLiteral("style transfer")));
        QCOMPARE(window->references()->modeBox()->currentData().toString(), QStringLiteral("style"));
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("a lighthouse \u00e0 la tomb\u00e9e de la nuit"));
    }

    void malformedPresetChangesNothing() {
        QDir().mkpath(store().userFolder());
        QFile bad(QDir(store().userFolder()).filePath(QStringLiteral("broken.json")));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write(R"({"schema": 1, "num_inference_steps": "many", "prompt": "x"})");
        bad.close();
        window->settings()->stepsBox()->setValue(23);
        window->promptEdit()->setPlainText(QStringLiteral("kept"));
        QVERIFY(!window->loadPreset(QStringLiteral("broken")));
        QVERIFY2(window->messageText().contains(QStringLiteral("broken.json")) &&
                     window->messageText().contains(QStringLiteral("num_inference_steps")),
                 qPrintable(window->messageText()));
        QCOMPARE(window->settings()->stepsBox()->value(), 23);
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("kept"));
        // Well-formed but beyond what the controls allow: refused, not clamped.
        QFile big(QDir(store().userFolder()).filePath(QStringLiteral("huge.json")));
        QVERIFY(big.open(QIODevice::WriteOnly));
        big.write(R"({"schema": 1, "width": 4096, "height": 512, "prompt": "x"})");
        big.close();
        const int width = window->settings()->widthBox()->value();
        QVERIFY(!window->loadPreset(QStringLiteral("huge")));
        QVERIFY2(window->messageText().contains(QStringLiteral("huge.json")) && window->messageText().contains(QStringLiteral("4096")),
                 qPrintable(window->messageText()));
        QCOMPARE(window->settings()->widthBox()->value(), width);
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("kept"));
    }

    void historyRestoresItsRequest() {
        ipsui::GenerationOutcome outcome;
        outcome.job = 1;
        outcome.seed = 4242;
        outcome.request.model = ipstest::dataPath("tiny-sd15");
        outcome.request.prompt = "restored prompt";
        outcome.request.num_inference_steps = 9;
        outcome.request.guidance_scale = 3.0;
        outcome.request.seed = 4242;
        outcome.request.scheduler = "euler";
        ips::IpAdapterSettings ip;
        ip.path = ipstest::dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors");
        ip.images = {{ipstest::dataPath("images/portrait_48x80.png"), nullptr}};
        ip.scale = 0.8;
        outcome.request.ip_adapters = {ip};
        outcome.request.init_image = ips::ImageSource{ipstest::dataPath("images/scene_128x128.png"), nullptr};
        outcome.request.strength = 0.45;
        outcome.images = {QImage(dataFile("images/scene_128x128.png"))};
        ipsui::HistoryPanel* history = window->history();
        const int before = history->count();
        history->add(outcome);
        QCOMPARE(history->count(), before + 1);
        QVERIFY(QFileInfo::exists(history->entry(before).cachedPng));

        window->promptEdit()->setPlainText(QStringLiteral("changed"));
        window->negativeEdit()->setPlainText(QStringLiteral("not in the result"));
        window->settings()->stepsBox()->setValue(40);
        // Clicking the newest item (shown first) only shows it; double-clicking restores it.
        QListWidget* list = history->list();
        list->scrollToTop();
        const QPoint newest = list->visualItemRect(list->item(0)).center();
        QTest::mouseClick(list->viewport(), Qt::LeftButton, Qt::NoModifier, newest);
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("changed"));
        QTest::mouseDClick(list->viewport(), Qt::LeftButton, Qt::NoModifier, newest);
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("restored prompt"));
        QCOMPARE(window->negativeEdit()->toPlainText(), QString());  // the result had none
        QCOMPARE(window->settings()->stepsBox()->value(), 9);
        QCOMPARE(window->settings()->seed().value(), quint64(4242));
        QCOMPARE(window->references()->referenceCount(), 1);
        QCOMPARE(window->references()->adapterFile(), dataFile("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors"));
        QCOMPARE(window->references()->scale(), 0.8);
        QVERIFY(window->initImage()->hasInitImage());
        QString error;
        const auto r = window->buildRequest(&error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->strength.value(), 0.45);
        QCOMPARE(ipsui::fromFsPath(r->init_image->path), dataFile("images/scene_128x128.png"));

        // Saving never replaces a file silently; the cached copy carries the A1111 parameters.
        const QString out = scratch(QStringLiteral("saved.png"));
        QCOMPARE(history->save(before, out, false), QString());
        QVERIFY(history->save(before, out, false).contains(QStringLiteral("exists")));
        const auto text = ips::read_png_text(ipsui::toFsPath(out));
        QVERIFY(text.at("parameters").find("Seed: 4242") != std::string::npos);
        QVERIFY(text.count("ipstudio_request"));
        // The item drags out as a file URL and a picture.
        std::unique_ptr<QMimeData> drag(list->model()->mimeData({list->model()->index(0, 0)}));
        QVERIFY(drag && drag->hasUrls() && drag->hasImage());
        QCOMPARE(drag->urls().front().toLocalFile(), history->entry(before).cachedPng);
        // Copy only: a Move drag would remove the item from the history.
        QCOMPARE(list->model()->supportedDragActions(), Qt::DropActions(Qt::CopyAction));
        // ... and dropping it back adds a reference.
        const int refs = window->references()->referenceCount();
        dropOn(window->references(), *drag);
        QCOMPARE(window->references()->referenceCount(), refs + 1);
    }

    void pasteGoesToTheFocusedTextBox() {
        QApplication::clipboard()->setText(QStringLiteral("pasted words"));
        window->activateWindow();
        window->promptEdit()->setFocus();
        window->promptEdit()->clear();
        const int before = window->references()->referenceCount();
        QTest::keyClick(window->promptEdit(), Qt::Key_V, Qt::ControlModifier);
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("pasted words"));
        QCOMPARE(window->references()->referenceCount(), before);
        // Elsewhere Ctrl+V pastes a picture as a reference.
        QApplication::clipboard()->setImage(QImage(dataFile("images/gradient_64x64.png")));
        window->resultCanvas()->setFocus();
        QTest::keyClick(window->resultCanvas(), Qt::Key_V, Qt::ControlModifier);
        QCOMPARE(window->references()->referenceCount(), before + 1);
    }

    void modelsAreCheckedWhenChosen() {
        ipsui::ModelsDialog dialog({});
        QVERIFY(!dialog.choose(ipsui::ModelRole::IpAdapter, dataFile("tiny-controlnet")));
        QVERIFY2(dialog.lastError().contains(QStringLiteral("tiny-controlnet")) && dialog.lastError().contains(QStringLiteral("expected an IP-Adapter")),
                 qPrintable(dialog.lastError()));
        QVERIFY(!dialog.choose(ipsui::ModelRole::BaseModel, dataFile("images/scene_128x128.png")));
        QVERIFY(!dialog.lastError().isEmpty());
        QVERIFY(dialog.config().baseModel.isEmpty() && dialog.config().ipAdapters.isEmpty());
        QVERIFY2(dialog.choose(ipsui::ModelRole::BaseModel, dataFile("tiny-sd15-single.safetensors")), qPrintable(dialog.lastError()));
        QVERIFY2(dialog.choose(ipsui::ModelRole::IpAdapter, dataFile("tiny-ip-adapter/ip-adapter-plus_sd15.bin")), qPrintable(dialog.lastError()));
        QVERIFY2(dialog.choose(ipsui::ModelRole::ImageEncoder, dataFile("tiny-ip-adapter/image_encoder")), qPrintable(dialog.lastError()));
        QVERIFY2(dialog.choose(ipsui::ModelRole::ControlNet, dataFile("tiny-controlnet")), qPrintable(dialog.lastError()));
        QCOMPARE(dialog.config().baseModel, dataFile("tiny-sd15-single.safetensors"));
        QCOMPARE(dialog.config().ipAdapters.size(), 1);
        QVERIFY(dialog.config().missingAdvice().isEmpty());
        // Nothing configured: the window still opens and says what is missing.
        ipsui::MainWindow fresh(ipstest::testContext(dir));
        fresh.setModelConfig({});
        QVERIFY(fresh.messageText().contains(QStringLiteral("Settings \u25b8 Models")));
    }

    // The window starts within its screen: its preferred 1440x900 and a geometry saved on a larger monitor are
    // both shrunk to the free area (no lower than the layout's minimum), and a window left off-screen comes back.
    void windowFitsItsScreen() {
        const QRect laptop(0, 0, 1280, 720);
        QCOMPARE(ipsui::sizeWithinScreen({1440, 900}, {600, 400}, laptop, {8, 32}), QSize(1272, 688));
        QCOMPARE(ipsui::sizeWithinScreen({1000, 600}, {600, 400}, laptop, {8, 32}), QSize(1000, 600));
        QCOMPARE(ipsui::sizeWithinScreen({1440, 900}, {1300, 400}, laptop, {8, 32}), QSize(1300, 688));

        QWidget big;
        big.setGeometry(3000, 2500, 4000, 3000);
        big.show();
        QSettings().setValue(QStringLiteral("window/geometry"), big.saveGeometry());
        big.hide();
        ipsui::MainWindow restored(ipstest::testContext(dir));
        const QRect available = restored.screen()->availableGeometry();
        const QSize least = restored.minimumSizeHint();
        QVERIFY2(restored.width() <= std::max(available.width(), least.width()) &&
                     restored.height() <= std::max(available.height(), least.height()),
                 qPrintable(QStringLiteral("%1x%2 on a %3x%4 screen").arg(restored.width()).arg(restored.height())
                                .arg(available.width()).arg(available.height())));
        QVERIFY(restored.x() < available.right() && restored.y() < available.bottom());
        QSettings().remove(QStringLiteral("window/geometry"));
    }

    // The token count follows the text and the syntax (each "red" is one CLIP token); embeddings found beside
    // the models are sent when a prompt names them (A1111's file name or ComfyUI's embedding:name), and only then.
    void promptTokensAndEmbeddings() {
        auto* count = window->promptTokens();
        window->settings()->promptSyntaxBox()->setChecked(true);
        window->promptEdit()->setPlainText(QStringLiteral("red red red"));
        count->refresh();
        QCOMPARE(count->text(), QStringLiteral("Prompt: 3 / 75"));
        window->promptEdit()->setPlainText(QStringLiteral("red ").repeated(90).trimmed());
        count->refresh();
        QCOMPARE(count->text(), QStringLiteral("Prompt: 75 + 15 \u00b7 2 chunks"));
        QString error;
        QCOMPARE(window->buildRequest(&error)->prompt_syntax, std::string("a1111"));
        window->settings()->promptSyntaxBox()->setChecked(false);  // re-counts at once
        QCOMPARE(count->text(), QStringLiteral("Prompt: 90 tokens: the last 15 are ignored (turn on A1111 prompt syntax for long prompts)"));
        QCOMPARE(window->buildRequest(&error)->prompt_syntax, std::string("plain"));
        window->settings()->promptSyntaxBox()->setChecked(true);

        const QString folder = dir.filePath(QStringLiteral("data/models/embeddings"));
        QVERIFY(QDir().mkpath(folder));
        QVERIFY(QFile::copy(dataFile("textual_inversion/ti-cat.pt"), folder + "/ti-cat.pt"));
        window->setModelConfig(ipstest::tinyModels());  // looks for embeddings again
        auto embeddingsFor = [&](const QString& prompt, const QString& negative) {
            window->promptEdit()->setPlainText(prompt);
            window->negativeEdit()->setPlainText(negative);
            QString why;
            return window->buildRequest(&why)->embeddings;
        };
        const auto used = embeddingsFor(QStringLiteral("a ti-cat, photo"), {});
        QCOMPARE(used.size(), std::size_t(1));
        QCOMPARE(used[0].token, std::string("ti-cat"));
        QCOMPARE(ipsui::fromFsPath(used[0].path), folder + "/ti-cat.pt");
        QCOMPARE(embeddingsFor(QStringLiteral("a (embedding:ti-cat:1.2)"), {}).size(), std::size_t(1));
        QCOMPARE(embeddingsFor(QStringLiteral("a photo"), QStringLiteral("ti-cat")).size(), std::size_t(1));
        QCOMPARE(embeddingsFor(QStringLiteral("ti-cats and multi-cat"), {}).size(), std::size_t(0));
        window->promptEdit()->clear();
        window->negativeEdit()->clear();
    }

    void settingsPersistAcrossSessions() {
        window->settings()->stepsBox()->setValue(21);
        window->references()->setScale(0.9);
        window->close();  // saves the session
        ipsui::MainWindow next(ipstest::testContext(dir));
        QCOMPARE(next.settings()->stepsBox()->value(), 21);
        QCOMPARE(next.references()->scale(), 0.9);
        window->show();
    }

private:
    ipsui::PresetStore& store() { return window->presets(); }
};

QTEST_MAIN(TestUiWidgets)
#include "test_ui_widgets.moc"
