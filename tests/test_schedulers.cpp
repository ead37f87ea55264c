// Every scheduler against diffusers' trajectories: timesteps, sigmas, alphas_cumprod, and each step's
// scaled input and output fed the same fixed model outputs (and the same ancestral noise).
#include <QtTest>

#include "golden.h"
#include "io/json_file.h"
#include "schedulers/scheduler.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestSchedulers : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void trajectories_data() {
        QTest::addColumn<QString>("id");
        for (const char* name : {"ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "lms"})
            for (int steps : {20, 30}) {
                const std::string id = std::string("sched_") + name + "_" + std::to_string(steps);
                QTest::newRow(id.c_str()) << QString::fromStdString(id);
            }
    }
    void trajectories() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString());
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        auto s = ips::schedulers::make_scheduler(g.spec["params"]["scheduler"].get<std::string>(), config);
        s->set_timesteps(g.spec["params"]["num_inference_steps"].get<int>());
        IPS_COMPARE_GOLDEN(g, "timesteps", s->timesteps().to(g.output("timesteps").scalar_type()));
        IPS_COMPARE_GOLDEN(g, "alphas_cumprod", s->alphas_cumprod());
        if (g.hasOutput("sigmas")) IPS_COMPARE_GOLDEN(g, "sigmas", s->sigmas());
        QCOMPARE(s->init_noise_sigma().item<double>(), g.spec["params"]["init_noise_sigma"].get<double>());

        const auto eps = g.input("eps");
        // Ancestral steps draw their noise from the generator: seeded as the reference (800 + steps), the
        // draws are the recorded step_noise (checked in ancestralNoiseIsTheGeneratorsDraw).
        auto gen = at::make_generator<at::CPUGeneratorImpl>(800 + g.spec["params"]["num_inference_steps"].get<int>());
        at::Tensor x = g.input("x0") * s->init_noise_sigma();
        std::vector<at::Tensor> scaled, prev;
        for (std::size_t k = 0; k < s->size(); ++k) {
            scaled.push_back(s->scale_model_input(x, k));
            x = s->step(eps[k], k, x, gen).prev_sample;
            prev.push_back(x);
        }
        IPS_COMPARE_GOLDEN(g, "scaled_inputs", at::stack(scaled));
        IPS_COMPARE_GOLDEN(g, "prev_samples", at::stack(prev));
    }

    void ancestralNoiseIsTheGeneratorsDraw() {
        // diffusers draws the ancestral noise with torch.randn(shape, generator) at each step; LibTorch's
        // CPU generator with the same seed gives the same numbers (seed 820 for these golden cases).
        const auto g = ipstest::loadGolden("sched_euler_a_20");
        auto gen = at::make_generator<at::CPUGeneratorImpl>(820);
        const auto recorded = g.input("step_noise");
        for (std::int64_t k = 0; k < 3; ++k) QVERIFY(at::equal(at::randn(recorded[k].sizes(), gen), recorded[k]));
    }

    void unknownNamesAndSettings() {
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        try {
            ips::schedulers::make_scheduler("heun", config);
            QFAIL("no error");
        } catch (const ips::InputError& e) {
            QVERIFY(std::string(e.what()).find("unknown scheduler 'heun'") != std::string::npos);
        }
        auto bad = config;
        bad["beta_schedule"] = "exotic";
        QVERIFY_THROWS_EXCEPTION(ips::InputError, ips::schedulers::make_scheduler("ddim", bad));
        bad = config;
        bad["timestep_spacing"] = "random";
        QVERIFY_THROWS_EXCEPTION(ips::InputError, ips::schedulers::make_scheduler("euler", bad));
    }

    void spacingsAndOffsets() {
        // leading + steps_offset 1 with 10 steps: 901, 801, ..., 1 (diffusers' DDIM for SD1.5).
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        auto ddim = ips::schedulers::make_scheduler("ddim", config);
        ddim->set_timesteps(10);
        QCOMPARE(ddim->timesteps()[0].item<std::int64_t>(), std::int64_t(901));
        QCOMPARE(ddim->timesteps()[9].item<std::int64_t>(), std::int64_t(1));
        auto trailing = config;
        trailing["timestep_spacing"] = "trailing";
        ddim = ips::schedulers::make_scheduler("ddim", trailing);
        ddim->set_timesteps(10);
        QCOMPARE(ddim->timesteps()[0].item<std::int64_t>(), std::int64_t(999));
        QCOMPARE(ddim->timesteps()[9].item<std::int64_t>(), std::int64_t(99));
    }
};

QTEST_GUILESS_MAIN(TestSchedulers)
#include "test_schedulers.moc"
