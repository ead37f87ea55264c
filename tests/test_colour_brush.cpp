// The colour brush on the init image: strokes in the brush colour where the mouse goes, the painted picture as
// the request's init image, undo back to the picture opened, the Alt+click eyedropper, a blank canvas, the
// mask brush beside it untouched, and the strokes surviving a save and restore of the work in progress.
#include <QApplication>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "canvas_view.h"
#include "init_image_panel.h"
#include "picture_store.h"
#include "qt_convert.h"

namespace {

QImage grayPicture(QSize size) {
    QImage picture(size, QImage::Format_RGB32);
    picture.fill(QColor(128, 128, 128));
    return picture;
}

// A horizontal stroke at picture row `y` from x0 to x1, with the mouse.
void stroke(ipsui::CanvasView* canvas, int y, int x0, int x1, Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
    const QPoint from = canvas->toWidget({double(x0), double(y)}).toPoint(), to = canvas->toWidget({double(x1), double(y)}).toPoint();
    QTest::mousePress(canvas, Qt::LeftButton, modifiers, from);
    for (int i = 1; i <= 8; ++i) QTest::mouseMove(canvas, from + (to - from) * i / 8);
    QTest::mouseRelease(canvas, Qt::LeftButton, modifiers, to);
}

// The panel on screen with a 64x64 gray init picture and a 6-pixel brush.
bool showWithGrayPicture(ipsui::InitImagePanel& panel) {
    panel.resize(600, 600);
    panel.show();
    if (!QTest::qWaitForWindowExposed(&panel) || !panel.setInitImage(ipsui::LoadedImage{{}, grayPicture({64, 64}), {}, false})) return false;
    QApplication::processEvents();
    panel.setBrushDiameter(6);
    return true;
}

QColor requestPixel(const ips::GenerationRequest& r, int x, int y) {
    return ipsui::toQImage(*r.init_image->image).pixelColor(x, y);
}

}  // namespace

class TestColourBrush : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void layerPaintsItsColourAndUndoes() {
        ipsui::MaskLayer layer;
        layer.reset({32, 32}, grayPicture({32, 32}), ipsui::MaskLayer::Kind::Colour);
        layer.setPaintColour(QColor(255, 0, 0));
        layer.beginStroke({10, 10}, 6, false);
        layer.extendStroke({20, 10});
        layer.endStroke();
        QCOMPARE(layer.image().pixelColor(15, 10), QColor(255, 0, 0));
        QCOMPARE(layer.image().pixelColor(15, 25), QColor(128, 128, 128));
        QVERIFY(layer.canUndo());
        layer.undo();
        QCOMPARE(layer.image().pixelColor(15, 10), QColor(128, 128, 128));
        layer.redo();
        QCOMPARE(layer.image().pixelColor(15, 10), QColor(255, 0, 0));
    }

    void strokesBecomeTheInitImage() {
        ipsui::InitImagePanel panel;
        QVERIFY(showWithGrayPicture(panel));
        panel.setColourMode(true);
        panel.setPaintColour(QColor(0, 0, 255));
        QVERIFY(!panel.painted());
        stroke(panel.canvas(), 32, 10, 50);

        QVERIFY(panel.painted());
        QVERIFY(panel.mask().isBlank());  // the mask brush was not in use
        ips::GenerationRequest r;
        panel.writeTo(r);
        QVERIFY(r.init_image && r.init_image->image);
        QVERIFY(!r.mask_image);
        QCOMPARE(requestPixel(r, 30, 32), QColor(0, 0, 255));
        QCOMPARE(requestPixel(r, 30, 5), QColor(128, 128, 128));
        QCOMPARE(panel.canvas()->shownImage().pixelColor(30, 32), QColor(0, 0, 255));  // seen where painted

        // Alt+click picks the colour under the cursor.
        panel.setPaintColour(QColor(255, 255, 0));
        QTest::mouseClick(panel.canvas(), Qt::LeftButton, Qt::AltModifier, panel.canvas()->toWidget({30, 32}).toPoint());
        QCOMPARE(panel.paintColour(), QColor(0, 0, 255));
        QVERIFY(panel.canvas()->shownImage().pixelColor(30, 5) == QColor(128, 128, 128));  // the click painted nothing

        // Undo takes the stroke back: the request holds the picture opened again.
        QVERIFY(panel.canUndo());
        panel.undo();
        QVERIFY(!panel.painted());
        panel.writeTo(r);
        QCOMPARE(requestPixel(r, 30, 32), QColor(128, 128, 128));

        // The mask brush still paints the mask, not the picture.
        panel.setColourMode(false);
        stroke(panel.canvas(), 20, 10, 50);
        QVERIFY(!panel.mask().isBlank());
        QVERIFY(!panel.painted());
    }

    void blankCanvasToSketchOn() {
        ipsui::InitImagePanel panel;
        panel.newBlankCanvas({96, 64});
        QVERIFY(panel.hasInitImage());
        QVERIFY(panel.colourMode());
        QCOMPARE(panel.canvas()->shownImage().size(), QSize(96, 64));
        QCOMPARE(panel.canvas()->shownImage().pixelColor(5, 5), QColor(255, 255, 255));
    }

    void strokesSurviveARestore() {
        QTemporaryDir dir;
        ipsui::PictureStore store(dir.path());
        ipsui::InitImagePanel panel;
        QVERIFY(showWithGrayPicture(panel));
        panel.setColourMode(true);
        panel.setPaintColour(QColor(0, 160, 0));
        stroke(panel.canvas(), 40, 8, 56);
        QString error;
        const QJsonObject state = panel.saveState(store, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));

        ipsui::InitImagePanel restored;
        restored.restoreState(state, store);
        QVERIFY(restored.colourMode());
        QCOMPARE(restored.paintColour(), QColor(0, 160, 0));
        QVERIFY(restored.painted());
        QCOMPARE(restored.paint().image(), panel.paint().image());
        QVERIFY(restored.canUndo());  // the stroke can still be taken back after a restart
        restored.undo();
        QVERIFY(!restored.painted());
    }
};

QTEST_MAIN(TestColourBrush)
#include "test_colour_brush.moc"
