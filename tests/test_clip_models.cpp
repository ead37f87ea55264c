// CLIPTextModel and CLIPVisionModelWithProjection against transformers' outputs on the tiny models.
#include <QtTest>

#include "golden.h"
#include "ips/errors.h"
#include "models/model_loader.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestClipModels : public QObject {
    Q_OBJECT
    ips::nn::CLIPTextModel text{nullptr};
    ips::nn::CLIPVisionModelWithProjection vision{nullptr};

private Q_SLOTS:
    void initTestCase() {
        at::init_num_threads();
        text = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {});
        vision = ips::models::load_image_encoder(dataPath("tiny-sd15/image_encoder"), {});
    }

    void textEncoder() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("text_encoder");
        const auto out = text->forward(g.input("input_ids"));
        IPS_COMPARE_GOLDEN(g, "last_hidden_state", out.last_hidden_state);
        IPS_COMPARE_GOLDEN(g, "penultimate_hidden_state", out.hidden_states[out.hidden_states.size() - 2]);
        IPS_COMPARE_GOLDEN(g, "pooler_output", out.pooler_output);
        IPS_COMPARE_GOLDEN(g, "hidden_states", at::stack(out.hidden_states));
    }

    void clipSkip() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("text_encoder");
        IPS_COMPARE_GOLDEN(g, "clip_skip1", text->encode_prompt(g.input("input_ids"), 1));
        IPS_COMPARE_GOLDEN(g, "last_hidden_state", text->encode_prompt(g.input("input_ids"), 0));
        QVERIFY_THROWS_EXCEPTION(ips::InputError, text->encode_prompt(g.input("input_ids"), 4));
    }

    void imageEncoder_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"clip_image_gradient_64x64", "clip_image_shapes_100x75", "clip_image_portrait_48x80",
                               "clip_image_pattern_320x240", "clip_image_rgba_80x80", "clip_image_zeros"})
            QTest::newRow(id) << id;
    }
    void imageEncoder() {
        QFETCH(QString, id);
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden(id.toStdString());
        // clip_image_zeros gives its pixel values as an input; the others as the preprocessor's output.
        const auto pixels = g.hasInput("pixel_values") ? g.input("pixel_values") : g.output("pixel_values");
        const auto out = vision->forward(pixels);
        IPS_COMPARE_GOLDEN(g, "image_embeds", out.image_embeds);
        if (g.hasOutput("last_hidden_state")) IPS_COMPARE_GOLDEN(g, "last_hidden_state", out.last_hidden_state);
        IPS_COMPARE_GOLDEN(g, "penultimate_hidden_state", out.hidden_states[out.hidden_states.size() - 2]);
    }

    void imageEncoderRejectsWrongSize() {
        c10::InferenceMode guard;
        QVERIFY_THROWS_EXCEPTION(ips::InputError, vision->forward(at::zeros({1, 3, 64, 64})));
    }

    void bfloat16CloseToFloat() {
        // Stated tolerance of the fast path: within 5% of the output range.
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("text_encoder");
        auto text16 = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {at::kBFloat16, at::kCPU});
        const auto ref = text->encode_prompt(g.input("input_ids"));
        const auto bf = text16->encode_prompt(g.input("input_ids"));
        QCOMPARE(bf.scalar_type(), at::kBFloat16);
        const double range = ref.abs().max().item<double>();
        const double diff = ipstest::maxAbsDiff(bf.to(at::kFloat), ref);
        qInfo("text encoder bf16 vs fp32: max abs diff %.4f, range %.3f", diff, range);
        QVERIFY(diff < 0.05 * range);
    }
};

QTEST_GUILESS_MAIN(TestClipModels)
#include "test_clip_models.moc"
