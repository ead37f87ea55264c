// AutoencoderKL encode/decode against diffusers on the tiny VAE.
#include <QtTest>

#include "golden.h"
#include "models/model_loader.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestVae : public QObject {
    Q_OBJECT
    ips::nn::AutoencoderKL vae{nullptr};

private Q_SLOTS:
    void initTestCase() { vae = ips::models::load_vae(dataPath("tiny-sd15/vae"), {}); }

    void encode_data() {
        QTest::addColumn<QString>("id");
        QTest::newRow("square") << "vae_encode_scene_128x128";
        QTest::newRow("wide") << "vae_encode_wide_256x128";
    }
    void encode() {
        QFETCH(QString, id);
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden(id.toStdString());
        const auto dist = vae->encode(g.output("preprocessed"));
        IPS_COMPARE_GOLDEN(g, "mean", dist.mean);
        IPS_COMPARE_GOLDEN(g, "std", dist.std);
        IPS_COMPARE_GOLDEN(g, "logvar", dist.logvar);
        IPS_COMPARE_GOLDEN(g, "scaled_mean", dist.mean * vae->config.scaling_factor);
    }

    void decode_data() {
        QTest::addColumn<QString>("id");
        QTest::newRow("16x16") << "vae_decode";
        QTest::newRow("16x32") << "vae_decode_16x32";
    }
    void decode() {
        QFETCH(QString, id);
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden(id.toStdString());
        const auto sample = vae->decode(g.input("latents") / vae->config.scaling_factor);
        IPS_COMPARE_GOLDEN(g, "sample", sample);
        if (g.hasOutput("image")) IPS_COMPARE_GOLDEN(g, "image", (sample / 2 + 0.5).clamp(0, 1));
    }

    void sampleUsesGeneratorLikeDiffusers() {
        // sample = mean + std * randn(generator) with the latents' shape: two equal seeds, equal samples.
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("vae_encode_scene_128x128");
        const auto dist = vae->encode(g.output("preprocessed"));
        auto gen1 = at::make_generator<at::CPUGeneratorImpl>(7), gen2 = at::make_generator<at::CPUGeneratorImpl>(7);
        const auto a = dist.sample(gen1), b = dist.sample(gen2);
        QVERIFY(at::equal(a, b));
        auto gen3 = at::make_generator<at::CPUGeneratorImpl>(7);
        const auto noise = at::randn(dist.mean.sizes(), gen3, dist.mean.options());
        QVERIFY(at::allclose(a, dist.mean + dist.std * noise));
    }
};

QTEST_GUILESS_MAIN(TestVae)
#include "test_vae.moc"
