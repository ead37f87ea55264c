// Reading reference pictures and turning them into the image encoder's input, against transformers'
// CLIPImageProcessor (golden pixel_values) and hand-computed cases.
#include <QtTest>

#include "golden.h"
#include "image/clip_preprocess.h"
#include "image/image_header.h"
#include "image/image_io.h"
#include "image/pil_resize.h"
#include "ips/image_tools.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::inputErrorOf;

namespace {

ips::Image solid(int w, int h, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    ips::Image im;
    im.width = w;
    im.height = h;
    for (int i = 0; i < w * h; ++i) im.pixels.insert(im.pixels.end(), {r, g, b});
    return im;
}

}  // namespace

class TestImagePreprocess : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void pixelValuesMatchClipImageProcessor_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"clip_image_gradient_64x64", "clip_image_shapes_100x75", "clip_image_portrait_48x80",
                               "clip_image_pattern_320x240", "clip_image_rgba_80x80"})
            QTest::newRow(id) << id;
    }
    void pixelValuesMatchClipImageProcessor() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString());
        const auto image = ips::image::read_image_rgb(dataPath(g.spec["inputs"]["image"]["path"].get<std::string>()));
        const auto config = ips::image::load_clip_image_processor_config(dataPath("tiny-sd15/feature_extractor/preprocessor_config.json"));
        IPS_COMPARE_GOLDEN(g, "pixel_values", ips::image::clip_pixel_values(image, config, ips::CropMode::Center));
    }

    void pilResizeKeepsConstantsAndAverages() {
        // A constant picture stays constant at any size (weights sum to one after fixed-point rounding).
        const auto grey = ips::image::resize_bicubic_pil(solid(37, 23, 200, 10, 77), 224, 139);
        QCOMPARE(grey.width, 224);
        QCOMPARE(grey.height, 139);
        for (std::size_t i = 0; i < grey.pixels.size(); i += 3) {
            QCOMPARE(int(grey.pixels[i]), 200);
            QCOMPARE(int(grey.pixels[i + 1]), 10);
            QCOMPARE(int(grey.pixels[i + 2]), 77);
        }
        // Halving a 0/255 column pattern low-passes it (PIL widens the filter when shrinking): every
        // output pixel lands near mid-grey, where plain cubic interpolation would sample 0 or 255.
        ips::Image stripes;
        stripes.width = 64;
        stripes.height = 2;
        for (int y = 0; y < 2; ++y)
            for (int x = 0; x < 64; ++x) stripes.pixels.insert(stripes.pixels.end(), 3, x % 2 ? 255 : 0);
        const auto half = ips::image::resize_bicubic_pil(stripes, 32, 2);
        for (int x = 2; x < 30; ++x) QVERIFY(std::abs(int(half.pixels[x * 3]) - 128) <= 2);
    }

    void cropModes() {
        const auto config = ips::image::ClipImageProcessorConfig{};
        const auto wide = ips::image::read_image_rgb(dataPath("images/wide_256x128.png"));
        const auto center = ips::image::clip_input_image(wide, config, ips::CropMode::Center);
        const auto pad = ips::image::clip_input_image(wide, config, ips::CropMode::Pad);
        const auto squash = ips::image::clip_input_image(wide, config, ips::CropMode::Squash);
        for (const auto* im : {&center, &pad, &squash}) {
            QCOMPARE(im->width, 224);
            QCOMPARE(im->height, 224);
        }
        QVERIFY(center.pixels != pad.pixels && pad.pixels != squash.pixels && center.pixels != squash.pixels);
        // Pad: the bands above and below the picture are the CLIP mean colour, i.e. zero after normalising.
        const auto values = ips::image::clip_pixel_values(wide, config, ips::CropMode::Pad);
        QVERIFY(values.index({0, at::indexing::Slice(), at::indexing::Slice(0, 50)}).abs().max().item<float>() < 0.01f);
        QVERIFY(values.index({0, at::indexing::Slice(), at::indexing::Slice(174, 224)}).abs().max().item<float>() < 0.01f);
        // Squash is a plain resize to the encoder's size: both ends of the picture stay in view.
        const auto left_squash = ips::image::resize_bicubic_pil(wide, 224, 224);
        QVERIFY(left_squash.pixels == squash.pixels);
        QCOMPARE(ips::parse_crop_mode("pad").value(), ips::CropMode::Pad);
        QVERIFY(!ips::parse_crop_mode("stretch").has_value());
    }

    void encoderViewIsTheEncoderInput() {
        const auto wide = ips::image::read_image_rgb(dataPath("images/wide_256x128.png"));
        for (auto mode : {ips::CropMode::Center, ips::CropMode::Pad, ips::CropMode::Squash})
            QVERIFY(ips::reference_encoder_view(wide, mode).pixels ==
                    ips::image::clip_input_image(wide, ips::image::ClipImageProcessorConfig{}, mode).pixels);
        // Gray input is spread to three channels first.
        ips::Image gray{4, 4, 1, std::vector<std::uint8_t>(16, 77)};
        const auto view = ips::reference_encoder_view(gray, ips::CropMode::Squash, 8);
        QCOMPARE(view.channels, 3);
        QCOMPARE(view.width, 8);
        for (auto v : view.pixels) QCOMPARE(int(v), 77);
        QVERIFY(!inputErrorOf([] { ips::reference_encoder_view(ips::Image{}, ips::CropMode::Center); }).empty());
    }

    void cannyFindsAStepEdge() {
        // Left half black, right half white: edges only on the two columns at the step, none elsewhere.
        ips::Image step = solid(32, 16, 0, 0, 0);
        for (int y = 0; y < 16; ++y)
            for (int x = 16; x < 32; ++x)
                for (int c = 0; c < 3; ++c) step.pixels[(y * 32 + x) * 3 + c] = 255;
        const auto edges = ips::canny_edge_map(step, 100, 200);
        QCOMPARE(edges.channels, 3);
        int on = 0;
        for (int y = 0; y < 16; ++y)
            for (int x = 0; x < 32; ++x) {
                const int v = edges.pixels[(y * 32 + x) * 3];
                QVERIFY(v == 0 || v == 255);
                QCOMPARE(int(edges.pixels[(y * 32 + x) * 3 + 2]), v);
                if (v) {
                    ++on;
                    QVERIFY2(x == 15 || x == 16, qPrintable(QString("edge at x=%1").arg(x)));
                }
            }
        QVERIFY(on >= 14);  // (almost) every row has its edge pixel
        // A flat picture has no edges; thresholds above the step's gradient find none either.
        for (auto v : ips::canny_edge_map(solid(16, 16, 90, 90, 90), 100, 200).pixels) QCOMPARE(int(v), 0);
        const auto faint = ips::canny_edge_map(solid(16, 16, 0, 0, 0), 1, 2);
        for (auto v : faint.pixels) QCOMPARE(int(v), 0);
    }

    void headerSizes() {
        // PNG IHDR of 20000x20000: refused before decoding.
        std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
        png += std::string("\x00\x00\x4e\x20\x00\x00\x4e\x20\x08\x02\x00\x00\x00", 13);
        const auto size = ips::image::read_image_size(png);
        QVERIFY(size.has_value());
        QCOMPARE(size->width, 20000LL);
        QCOMPARE(size->height, 20000LL);
        const auto message = inputErrorOf([&] { ips::image::decode_image_rgb(png, "huge.png"); });
        QVERIFY2(message.find("huge.png") != std::string::npos && message.find("20000x20000") != std::string::npos, message.c_str());
        // BMP sizes are signed (negative height: top-down rows); found by fuzzing: a negative width must not
        // make a 20000x20000 picture look small to the size limit.
        auto bmp = [](std::int32_t w, std::int32_t h) {
            std::string b = "BM" + std::string(16, '\0');
            for (std::int32_t v : {w, h})
                for (int i = 0; i < 4; ++i) b += char((std::uint32_t(v) >> (8 * i)) & 0xFF);
            return b;
        };
        for (const auto& [w, h] : {std::pair{20000, -20000}, std::pair{-20000, 20000}}) {
            const auto s = ips::image::read_image_size(bmp(w, h));
            QVERIFY(s.has_value());
            QCOMPARE(s->width, 20000LL);
            QCOMPARE(s->height, 20000LL);
        }
        // Real files: the header agrees with the decoder.
        for (const char* f : {"images/wide_256x128.png", "images/shapes_100x75.png"}) {
            const auto bytes = ipstest::readBytes(dataPath(f));
            const auto s = ips::image::read_image_size(bytes);
            const auto decoded = ips::image::decode_image_rgb(bytes, f);
            QCOMPARE(s->width, (long long)decoded.width);
            QCOMPARE(s->height, (long long)decoded.height);
        }
    }

    void badFilesNameTheFile() {
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        const auto text = folder / "notes.png";
        ipstest::writeBytes(text, "this is not a picture");
        auto message = inputErrorOf([&] { ips::image::read_image_rgb(text); });
        QVERIFY2(message.find("notes.png") != std::string::npos && message.find("not a readable image") != std::string::npos,
                 message.c_str());
        message = inputErrorOf([&] { ips::image::read_image_rgb(folder / "missing.png"); });
        QVERIFY2(message.find("missing.png: file not found") != std::string::npos, message.c_str());
        // Truncated PNG: header fine, data cut.
        const auto bytes = ipstest::readBytes(dataPath("images/pattern_320x240.png"));
        ipstest::writeBytes(folder / "cut.png", bytes.substr(0, bytes.size() / 3));
        message = inputErrorOf([&] { ips::image::read_image_rgb(folder / "cut.png"); });
        QVERIFY2(message.find("cut.png") != std::string::npos, message.c_str());
    }

    void unicodePath() {
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / std::filesystem::u8path("référence 参考.png");
        ipstest::writeBytes(path, ipstest::readBytes(dataPath("images/shapes_100x75.png")));
        const auto image = ips::image::read_image_rgb(path);
        QCOMPARE(image.width, 100);
        QCOMPARE(image.height, 75);
    }

    void grayConversionAsPil() {
        // PIL "L": (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
        const auto g = ips::image::to_gray(solid(1, 1, 255, 0, 0));
        QCOMPARE(int(g.pixels[0]), 76);
        QCOMPARE(int(ips::image::to_gray(solid(1, 1, 0, 255, 0)).pixels[0]), 150);
        QCOMPARE(int(ips::image::to_gray(solid(1, 1, 255, 255, 255)).pixels[0]), 255);
    }
};

QTEST_GUILESS_MAIN(TestImagePreprocess)
#include "test_image_preprocess.moc"
