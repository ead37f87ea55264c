// Whole generations against diffusers beyond test_pipeline's set (tests/data/golden_wide, made by
// tools/oracle/make_pipeline_wide_golden.py): the 9-channel inpainting pipeline (strength 1 with given latents;
// strength 0.7 with Euler a and every draw from the generator), img2img with Euler a, DPM++ 2M and LMS, DDIM
// with eta 0.5, two ControlNets with their own scales and guidance windows, a non-square size and a batch of
// two with an IP-Adapter. Random draws inside diffusers come from torch.Generator(seed): the engine's generator
// gives the same numbers in the same order, so only the latents are passed in (as diffusers' latents=).
// Also IP-Adapter regions (attention masks) against diffusers' ip_adapter_masks, and the few-step samplers (LCM,
// TCD, trailing spacing) as whole pipelines.
#include <QtTest>

#include "golden.h"
#include "golden_pipeline.h"
#include "nn/ip_region.h"
#include "pipeline/engine.h"

namespace fs = std::filesystem;

class TestPipelineWide : public QObject {
    Q_OBJECT
    std::unique_ptr<ips::pipeline::Engine> engine;
    QTemporaryDir scratch;

    fs::path scratchPath() const { return scratch.path().toStdString(); }

private Q_SLOTS:
    void initTestCase() { engine = std::make_unique<ips::pipeline::Engine>(ips::PipelineOptions{}); }

    // tests/data/golden_wide, and the few-step samplers as artists run them (tests/data/golden_fewstep,
    // tools/oracle/make_fewstep_golden.py): LCM 4 steps at guidance 1 with an IP-Adapter (no CFG batch; fresh noise
    // between steps), the same with a LoRA fused (an LCM-LoRA user's pipeline), TCD 4 steps at guidance 0 with eta 0.3, LCM img2img through StableDiffusionImg2ImgPipeline,
    // trailing spacing on Euler at CFG 3.5 and DDIM at guidance 0, and a full LCM UNet.
    void goldenCases_data() {
        QTest::addColumn<QString>("folder");
        QTest::addColumn<QString>("id");
        for (const char* id : {"wide_inpaint9_ddim", "wide_inpaint9_strength_euler_a", "wide_img2img_euler_a", "wide_img2img_dpmpp_2m",
                               "wide_img2img_lms", "wide_ddim_eta05", "wide_two_controlnets", "wide_nonsquare_ip", "wide_batch2_ip"})
            QTest::newRow(id) << "golden_wide" << id;
        for (const char* id : {"few_lcm4_ip_base", "few_lcm4_lora_ip_base", "few_tcd4_g0", "few_lcm4_img2img", "few_euler_trailing8_cfg35", "few_ddim_trailing4_g0",
                               "few_lcm_unet4"})
            QTest::newRow(id) << "golden_fewstep" << id;
    }
    void goldenCases() {
        QFETCH(QString, folder);
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString(), folder.toStdString());
        ips::pipeline::Trace trace;
        const auto result = engine->generate(ipstest::requestFor(g, scratchPath()), {}, nullptr, &trace);
        QCOMPARE(result.images.size(), std::size_t(g.spec["params"]["num_images_per_prompt"].get<int>()));
        const auto failures = ipstest::compareWithGolden(g, trace, result, true);
        QVERIFY2(failures.empty(), failures.c_str());
    }

    // A full LCM UNet runs only with the lcm sampler, and its built-in guidance leaves no room for a negative prompt.
    void lcmUnetNeedsTheLcmSampler() {
        const auto g = ipstest::loadGolden("few_lcm_unet4", "golden_fewstep");
        auto q = ipstest::requestFor(g, scratchPath());
        q.scheduler = "ddim";
        const auto message = ipstest::inputErrorOf([&] { engine->generate(q, {}, nullptr); });
        QVERIFY2(message.find("Latent Consistency Model (time_cond_proj_dim 32); it runs with the lcm sampler, not ddim") != std::string::npos,
                 message.c_str());
        q.scheduler = "lcm";
        q.negative_prompt = "blurry";
        const auto result = engine->generate(q, {}, nullptr);
        QCOMPARE(result.warnings.size(), std::size_t(1));
        QVERIFY(result.warnings.front().find("negative prompt has no effect") != std::string::npos);
    }

    // Regions (diffusers' ip_adapter_masks, tests/data/golden_masks by tools/oracle/make_ip_mask_golden.py): one
    // adapter with two images in two regions, two adapters (base and plus) with one region each, a non-square
    // size whose layers' mask grids need padding, and all-white regions.
    void maskGoldenCases_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"mask_base_two_images", "mask_two_adapters", "mask_nonsquare", "mask_all_ones"}) QTest::newRow(id) << id;
    }
    void maskGoldenCases() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString(), "golden_masks");
        ips::pipeline::Trace trace;
        const auto result = engine->generate(ipstest::requestFor(g, scratchPath()), {}, nullptr, &trace);
        QVERIFY(result.warnings.empty());
        const auto failures = ipstest::compareWithGolden(g, trace, result, true);
        QVERIFY2(failures.empty(), failures.c_str());
        // Each layer's query weights against diffusers' own IPAdapterMaskProcessor.downsample (ip_mask_down_{a}_q{Q}:
        // [images, Q], one per query count the run used).
        int checked = 0;
        for (std::size_t a = 0; a < trace.ip_regions.size(); ++a) {
            for (const auto& [name, spec] : g.spec["outputs"].items()) {
                const std::string prefix = "ip_mask_down_" + std::to_string(a) + "_q";
                if (name.rfind(prefix, 0) != 0) continue;
                const std::int64_t queries = std::stoll(name.substr(prefix.size()));
                const auto want = g.output(name);
                for (std::int64_t i = 0; i < want.size(0); ++i) {
                    const auto got = ips::nn::region_query_weights(trace.ip_regions[a][0][i], queries, at::kFloat).flatten();
                    QVERIFY2(ipstest::maxAbsDiff(got, want[i]) <= g.atol(name), name.c_str());
                    ++checked;
                }
            }
        }
        QVERIFY(checked >= 4);
    }

    // All-white regions are not "no regions": without them the images share one softmax and the latents leave
    // the tolerance.
    void allWhiteRegionsAreNotNone() {
        const auto g = ipstest::loadGolden("mask_all_ones", "golden_masks");
        auto q = ipstest::requestFor(g, scratchPath());
        QVERIFY(!q.ip_adapters[0].regions.empty());
        q.ip_adapters[0].regions.clear();
        ips::pipeline::Trace trace;
        engine->generate(q, {}, nullptr, &trace);
        QVERIFY(ipstest::maxAbsDiff(trace.latents_final, g.output("latents_final")) > 10 * g.atol("latents_final"));
    }

    // The guidance windows matter: without them (both nets on every step) the latents leave the tolerance.
    void controlNetWindowsMatter() {
        const auto g = ipstest::loadGolden("wide_two_controlnets", "golden_wide");
        auto q = ipstest::requestFor(g, scratchPath());
        QCOMPARE(q.controlnets.size(), std::size_t(2));
        for (auto& c : q.controlnets) c.start = 0.0, c.end = 1.0;
        ips::pipeline::Trace trace;
        engine->generate(q, {}, nullptr, &trace);
        QVERIFY(ipstest::maxAbsDiff(trace.latents_final, g.output("latents_final")) > 100 * g.atol("latents_final"));
    }
};

QTEST_GUILESS_MAIN(TestPipelineWide)
#include "test_pipeline_wide.moc"
