// UNet2DConditionModel and ControlNetModel against diffusers on the tiny models.
#include <QtTest>

#include "golden.h"
#include "ips/errors.h"
#include "models/model_loader.h"
#include "nn/cancel_point.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestUnet : public QObject {
    Q_OBJECT
    ips::nn::UNet2DConditionModel unet{nullptr};

private Q_SLOTS:
    void initTestCase() { unet = ips::models::load_unet(dataPath("tiny-sd15/unet"), {}); }

    void plainForward() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_plain");
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        IPS_COMPARE_GOLDEN(g, "noise_pred", unet->forward(in));
    }

    void controlNetResidualsAndUnet() {
        c10::InferenceMode guard;
        auto controlnet = ips::models::load_controlnet(dataPath("tiny-controlnet"), {});
        const auto g = ipstest::loadGolden("unet_controlnet");
        const double scale = g.spec.at("params").at("conditioning_scale").get<double>();
        const auto out = controlnet->forward(g.input("latents"), g.input("timestep"), g.input("encoder_hidden_states"),
                                             g.input("controlnet_cond"), scale);
        QCOMPARE(out.down_block_res_samples.size(), std::size_t(12));
        for (std::size_t i = 0; i < out.down_block_res_samples.size(); ++i)
            IPS_COMPARE_GOLDEN(g, "down_residual_" + std::to_string(i), out.down_block_res_samples[i]);
        IPS_COMPARE_GOLDEN(g, "mid_residual", out.mid_block_res_sample);

        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        in.down_block_additional_residuals = out.down_block_res_samples;
        in.mid_block_additional_residual = out.mid_block_res_sample;
        IPS_COMPARE_GOLDEN(g, "noise_pred", unet->forward(in));
    }

    void crossAttentionLayersInAdapterOrder() {
        // 16 cross-attention layers for the SD1.5 block layout: down 2+2+2, mid 1, up 3+3+3.
        QCOMPARE(unet->cross_attention_layers().size(), std::size_t(16));
    }

    void oddLatentSize() {
        // 136x160 images give 17x20 latents: the upsamplers must match the skip connections' sizes.
        c10::InferenceMode guard;
        ips::nn::UNetInputs in;
        in.sample = at::randn({1, 4, 17, 20});
        in.timestep = at::scalar_tensor(500);
        in.encoder_hidden_states = at::randn({1, 77, 32});
        const auto out = unet->forward(in);
        QCOMPARE(out.sizes().vec(), (std::vector<std::int64_t>{1, 4, 17, 20}));
        QVERIFY(at::isfinite(out).all().item<bool>());
    }

    // A generation's cancel token in scope stops the UNet, the ControlNet and the VAE between their layers (a Live
    // edit or Cancel need not wait for the rest of a step); out of scope, or not fired, it changes nothing.
    void cancelStopsForwardsBetweenLayers() {
        c10::InferenceMode guard;
        auto controlnet = ips::models::load_controlnet(dataPath("tiny-controlnet"), {});
        auto vae = ips::models::load_vae(dataPath("tiny-sd15/vae"), {});
        ips::nn::UNetInputs in;
        in.sample = at::randn({1, 4, 8, 8});
        in.timestep = at::scalar_tensor(500);
        in.encoder_hidden_states = at::randn({1, 77, 32});
        const at::Tensor plain = unet->forward(in);
        ips::CancelToken token;
        {
            const ips::nn::CancelScope scope(&token);
            QVERIFY(at::equal(unet->forward(in), plain));
            token.cancel();
            QVERIFY_THROWS_EXCEPTION(ips::Cancelled, unet->forward(in));
            QVERIFY_THROWS_EXCEPTION(ips::Cancelled, controlnet->forward(in.sample, in.timestep, in.encoder_hidden_states,
                                                                        at::rand({1, 3, 64, 64}), 1.0));
            QVERIFY_THROWS_EXCEPTION(ips::Cancelled, vae->decode(in.sample));
            {
                const ips::nn::CancelScope none(nullptr);  // a scope without a token (nested): runs
                QVERIFY(at::equal(unet->forward(in), plain));
            }
            QVERIFY_THROWS_EXCEPTION(ips::Cancelled, unet->forward(in));  // the outer scope is back
        }
        QVERIFY(at::equal(unet->forward(in), plain));
    }

    void bfloat16ChannelsLastCloseToFloat() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_plain");
        auto unet16 = ips::models::load_unet(dataPath("tiny-sd15/unet"), {at::kBFloat16, at::kCPU, true});
        QVERIFY(unet16->conv_in->weight.is_contiguous(at::MemoryFormat::ChannelsLast));
        ips::nn::UNetInputs in;
        in.sample = g.input("latents").to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states").to(at::kBFloat16);
        const auto out = unet16->forward(in);
        QCOMPARE(out.scalar_type(), at::kBFloat16);
        const auto ref = g.output("noise_pred");
        const double range = ref.abs().max().item<double>();
        const double diff = ipstest::maxAbsDiff(out.to(at::kFloat), ref);
        qInfo("UNet bf16 vs fp32 golden: max abs diff %.4f, range %.3f", diff, range);
        QVERIFY(diff < 0.05 * range);
    }
};

QTEST_GUILESS_MAIN(TestUnet)
#include "test_unet.moc"
