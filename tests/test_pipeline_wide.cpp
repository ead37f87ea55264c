// Whole generations against diffusers beyond test_pipeline's set (tests/data/golden_wide, made by
// tools/oracle/make_pipeline_wide_golden.py): the 9-channel inpainting pipeline (strength 1 with given latents;
// strength 0.7 with Euler a and every draw from the generator), img2img with Euler a, DPM++ 2M and LMS, DDIM
// with eta 0.5, two ControlNets with their own scales and guidance windows, a non-square size and a batch of
// two with an IP-Adapter. Random draws inside diffusers come from torch.Generator(seed): the engine's generator
// gives the same numbers in the same order, so only the latents are passed in (as diffusers' latents=).
#include <QtTest>

#include "golden.h"
#include "golden_pipeline.h"
#include "pipeline/engine.h"

namespace fs = std::filesystem;

class TestPipelineWide : public QObject {
    Q_OBJECT
    std::unique_ptr<ips::pipeline::Engine> engine;
    QTemporaryDir scratch;

    fs::path scratchPath() const { return scratch.path().toStdString(); }

private Q_SLOTS:
    void initTestCase() { engine = std::make_unique<ips::pipeline::Engine>(ips::PipelineOptions{}); }

    void goldenCases_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"wide_inpaint9_ddim", "wide_inpaint9_strength_euler_a", "wide_img2img_euler_a", "wide_img2img_dpmpp_2m",
                               "wide_img2img_lms", "wide_ddim_eta05", "wide_two_controlnets", "wide_nonsquare_ip", "wide_batch2_ip"})
            QTest::newRow(id) << id;
    }
    void goldenCases() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString(), "golden_wide");
        ips::pipeline::Trace trace;
        const auto result = engine->generate(ipstest::requestFor(g, scratchPath()), {}, nullptr, &trace);
        QCOMPARE(result.images.size(), std::size_t(g.spec["params"]["num_images_per_prompt"].get<int>()));
        const auto failures = ipstest::compareWithGolden(g, trace, result, true);
        QVERIFY2(failures.empty(), failures.c_str());
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
