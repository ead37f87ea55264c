// DeepCache: a full pass that keeps the deep features is the plain UNet bit for bit; a shallow step on features
// kept from the same inputs reproduces the whole UNet (every branch, with image prompts and ControlNet); a
// shallow step equals the shallow branch recomputed by hand; and the request field is read, checked and used.
#include <QtTest>

#include "golden.h"
#include "ipadapter/image_prompts.h"
#include "ipadapter/ip_adapter_model.h"
#include "ips/generation.h"
#include "ips/request_json.h"
#include "models/model_loader.h"
#include "pipeline/engine.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::inputErrorOf;

namespace {

bool bitIdentical(const at::Tensor& a, const at::Tensor& b) {
    return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && at::equal(a, b);
}

ips::GenerationRequest tinyRequest() {
    ips::GenerationRequest q;
    q.model = dataPath("tiny-sd15");
    q.prompt = "a red fox in the snow";
    q.negative_prompt = "blurry";
    q.width = 64;
    q.height = 64;
    q.num_inference_steps = 6;
    q.guidance_scale = 5.0;
    q.seed = 7;
    q.scheduler = "ddim";
    return q;
}

}  // namespace

class TestDeepCache : public QObject {
    Q_OBJECT
    ips::nn::UNet2DConditionModel unet{nullptr};
    ips::nn::ControlNetModel controlnet{nullptr};
    ips::ipadapter::IPAdapterModel adapter{nullptr};

    // The golden ControlNet case's inputs with its residuals and an IP-Adapter's image attentions on every layer.
    struct Inputs {
        ips::nn::UNetInputs unet;
        std::unique_ptr<ips::ipadapter::PreparedImagePrompts> prompts;
        at::Tensor controlnet_cond;
        double conditioning_scale = 1.0;
    };
    Inputs inputs(bool with_controlnet, bool with_image_prompt) {
        const auto g = ipstest::loadGolden("unet_controlnet");
        Inputs in;
        in.unet.sample = g.input("latents");  // the golden's CFG batch
        in.unet.timestep = g.input("timestep");
        in.unet.encoder_hidden_states = g.input("encoder_hidden_states");
        in.controlnet_cond = g.input("controlnet_cond");
        in.conditioning_scale = g.spec.at("params").at("conditioning_scale").get<double>();
        if (with_controlnet) {
            const auto out = controlnet->forward(in.unet.sample, in.unet.timestep, in.unet.encoder_hidden_states, in.controlnet_cond,
                                                 in.conditioning_scale);
            in.unet.down_block_additional_residuals = out.down_block_res_samples;
            in.unet.mid_block_additional_residual = out.mid_block_res_sample;
        }
        if (with_image_prompt) {
            ips::ipadapter::AdapterConditioning c;
            c.adapter = adapter;
            c.images = {ips::ipadapter::ImageEmbedding{at::randn({1, adapter->input_dim}), {}}};
            c.layer_scales = std::vector<double>(unet->cross_attention_layers().size(), 0.8);
            const bool cfg = in.unet.sample.size(0) == 2;
            in.prompts = std::make_unique<ips::ipadapter::PreparedImagePrompts>(*unet, std::vector{c}, ips::ipadapter::BatchLayout{cfg, 1});
            in.unet.image_prompts = in.prompts->for_step(0, 1);
        }
        return in;
    }

private Q_SLOTS:
    void initTestCase() {
        unet = ips::models::load_unet(dataPath("tiny-sd15/unet"), {});
        controlnet = ips::models::load_controlnet(dataPath("tiny-controlnet"), {});
        adapter = ips::ipadapter::load_ip_adapter(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), *unet, {});
        at::manual_seed(11);
    }

    void fullPassIsThePlainUnet() {
        c10::InferenceMode guard;
        for (bool control : {false, true}) {
            auto in = inputs(control, true);
            at::Tensor deep;
            const auto kept = unet->forward_keeping(in.unet, ips::nn::DeepCacheBranch::from_id(0), deep);
            QVERIFY(bitIdentical(kept, unet->forward(in.unet)));
            QVERIFY(deep.defined());
            // Branch 0 keeps what enters the last up block's last layer: that block's width, the latent size.
            QCOMPARE(deep.size(0), in.unet.sample.size(0));
            QCOMPARE(deep.size(1), unet->config.block_out_channels[0]);
            QCOMPARE(deep.size(2), in.unet.sample.size(2));
        }
    }

    void shallowStepOnItsOwnFeaturesIsTheWholeUnet() {
        // With the deep features of the same inputs, the shallow branch has nothing stale: it must give the full
        // UNet's output exactly, for every branch this layout has, with image prompts and ControlNet residuals.
        c10::InferenceMode guard;
        for (bool control : {false, true}) {
            auto in = inputs(control, true);
            const auto full = unet->forward(in.unet);
            for (int id = 0; id < 12; ++id) {
                const auto branch = ips::nn::DeepCacheBranch::from_id(id);
                unet->check_branch(id);
                at::Tensor deep;
                (void)unet->forward_keeping(in.unet, branch, deep);
                ips::nn::UNetInputs shallow = in.unet;
                if (control) {  // only the residuals the branch needs, as a cached step computes them
                    const auto out = controlnet->forward(in.unet.sample, in.unet.timestep, in.unet.encoder_hidden_states,
                                                         in.controlnet_cond, in.conditioning_scale, unet->shallow_skip_count(branch));
                    QCOMPARE(out.down_block_res_samples.size(), unet->shallow_skip_count(branch));
                    QVERIFY(!out.mid_block_res_sample.defined());
                    for (std::size_t r = 0; r < out.down_block_res_samples.size(); ++r)
                        QVERIFY(bitIdentical(out.down_block_res_samples[r], in.unet.down_block_additional_residuals[r]));
                    shallow.down_block_additional_residuals = out.down_block_res_samples;
                    shallow.mid_block_additional_residual = at::Tensor();
                }
                if (!bitIdentical(unet->forward_shallow(shallow, branch, deep), full)) QFAIL(qPrintable(QString("branch %1").arg(id)));
            }
        }
    }

    void shallowStepIsTheBranchComputedByHand() {
        // Branch 0 by hand: conv_in, then the last up block's last resnet on [deep, conv_in output], its
        // transformer (the last cross-attention layer, seeing the image tokens), the output norm and conv_out.
        c10::InferenceMode guard;
        auto in = inputs(false, true);
        const at::Tensor stale = at::randn({in.unet.sample.size(0), unet->config.block_out_channels[0], in.unet.sample.size(2), in.unet.sample.size(3)});
        const auto got = unet->forward_shallow(in.unet, ips::nn::DeepCacheBranch::from_id(0), stale);

        const at::Tensor emb = unet->time_embed(in.unet.timestep, in.unet.sample.size(0), at::kFloat);
        auto last = unet->up_blocks[unet->up_blocks->size() - 1]->as<ips::nn::UNetUpBlock>();
        const std::size_t layer = last->resnets->size() - 1;
        at::Tensor h = at::cat({stale, unet->conv_in(in.unet.sample)}, 1);
        h = last->resnets[layer]->as<ips::nn::ResnetBlock2D>()->forward(h, emb);
        ips::nn::CrossAttentionContext context;
        context.encoder_hidden_states = in.unet.encoder_hidden_states;
        context.image_prompts = in.unet.image_prompts;
        context.next_layer = unet->cross_attention_layers().size() - 1;
        h = last->attentions[layer]->as<ips::nn::Transformer2DModel>()->forward(h, context);
        h = unet->conv_out(at::silu(unet->conv_norm_out(h)));
        QVERIFY(at::allclose(got, h, 1e-5, 1e-5));

        // The image attention of that layer is in play: without image prompts the shallow step differs.
        ips::nn::UNetInputs plain = in.unet;
        plain.image_prompts = nullptr;
        QVERIFY(!at::allclose(unet->forward_shallow(plain, ips::nn::DeepCacheBranch::from_id(0), stale), got, 1e-4, 1e-4));
    }

    void branchesOutsideTheUnetAreRefused() {
        QVERIFY(inputErrorOf([&] { unet->check_branch(12); }).find("0 to 11") != std::string::npos);
        QVERIFY(inputErrorOf([&] { unet->check_branch(-1); }).find("0 or more") != std::string::npos);
        QCOMPARE(unet->shallow_skip_count(ips::nn::DeepCacheBranch::from_id(0)), std::size_t(1));
        QCOMPARE(unet->shallow_skip_count(ips::nn::DeepCacheBranch::from_id(3)), std::size_t(4));  // conv_in + block 0's 2 layers + downsampler
    }

    void requestFieldReadWrittenAndChecked() {
        const std::string text = R"({"model": "m", "num_inference_steps": 20, "deep_cache": {"interval": 3, "branch": 0}})";
        const auto q = ips::parse_request_json(text, "/tmp", "preset.json");
        QVERIFY(q.deep_cache.has_value());
        QCOMPARE(q.deep_cache->interval, 3);
        QCOMPARE(q.deep_cache->branch, 0);
        const auto again = ips::parse_request_json(ips::request_to_json(q, "/tmp"), "/tmp", "again.json");
        QVERIFY(again.deep_cache.has_value());
        QCOMPARE(again.deep_cache->interval, 3);
        QVERIFY(!ips::parse_request_json(R"({"model": "m"})", "/tmp", "p.json").deep_cache.has_value());
        QVERIFY(ips::request_to_json(ips::parse_request_json(R"({"model": "m"})", "/tmp", "p.json"), "/tmp").find("deep_cache") ==
                std::string::npos);
        QVERIFY(inputErrorOf([] { ips::parse_request_json(R"({"deep_cache": 3})", "/tmp", "p.json"); }).find("deep_cache must be an object") !=
                std::string::npos);
        QVERIFY(inputErrorOf([] { ips::parse_request_json(R"({"deep_cache": {"intervall": 3}})", "/tmp", "p.json"); })
                    .find("deep_cache.intervall") != std::string::npos);

        auto request = tinyRequest();
        for (int interval : {0, 1000}) {
            request.deep_cache = ips::DeepCacheSettings{interval, 0};
            const auto message = inputErrorOf([&] { ips::validate_request(request); });
            QVERIFY2(message.find("deep_cache interval must be from 1") != std::string::npos, message.c_str());
        }
    }

    void generationUsesTheCache() {
        ips::pipeline::Engine engine({});
        auto run = [&](std::optional<ips::DeepCacheSettings> cache) {
            auto q = tinyRequest();
            q.deep_cache = cache;
            ips::pipeline::Trace trace;
            engine.generate(q, {}, nullptr, &trace);
            return trace.latents_final;
        };
        const auto plain = run(std::nullopt);
        // Interval 1 is a full pass every step: the plain generation exactly.
        QVERIFY(bitIdentical(run(ips::DeepCacheSettings{1, 0}), plain));
        // Interval 3 reuses stale features on 4 of 6 steps: close to the plain result, not equal to it.
        const auto cached = run(ips::DeepCacheSettings{3, 0});
        QVERIFY(!bitIdentical(cached, plain));
        const double relative = (cached - plain).norm().item<double>() / plain.norm().item<double>();
        QVERIFY2(relative < 0.5, qPrintable(QString::number(relative)));
        // A branch the UNet does not have is refused before any step runs.
        auto q = tinyRequest();
        q.deep_cache = ips::DeepCacheSettings{3, 40};
        QVERIFY(inputErrorOf([&] { engine.generate(q, {}, nullptr); }).find("deep_cache branch 40") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestDeepCache)
#include "test_deep_cache.moc"
