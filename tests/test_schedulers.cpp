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

    void trailingSpacingHasNStepsForAnyN() {
        // numpy.arange(1000, 0, -1000/n): n values; accumulating the step by subtraction would add a stray -1.
        auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        config["timestep_spacing"] = "trailing";
        for (const char* name : {"ddim", "euler", "dpmpp_2m", "lms", "pndm"})
            for (int n : {1, 3, 6, 7, 9, 11, 13, 15, 28, 29, 31, 35}) {
                auto s = ips::schedulers::make_scheduler(name, config);
                s->set_timesteps(n);
                const std::int64_t expected = std::string(name) == "pndm" && n > 1 ? n + 1 : n;
                QCOMPARE(s->timesteps().size(0), expected);
                QVERIFY(s->timesteps().min().item<double>() >= 0);
            }
    }

    void lmsStartingLate() {
        // img2img starts LMS in the middle of its schedule: fewer derivatives than the order exist.
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        auto s = ips::schedulers::make_scheduler("lms", config);
        s->set_timesteps(10);
        s->set_begin_index(4);
        at::Tensor x = at::randn({1, 4, 8, 8});
        for (std::size_t k = 4; k < s->size(); ++k) x = s->step(at::randn({1, 4, 8, 8}) * 0.1, k, x, c10::nullopt).prev_sample;
        QVERIFY(at::isfinite(x).all().item<bool>());
    }

    void ddimEtaAddsNoise() {
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        auto run = [&](double eta) {
            auto s = ips::schedulers::make_scheduler("ddim", config, eta);
            s->set_timesteps(5);
            auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
            at::Tensor x = at::ones({1, 4, 4, 4});
            for (std::size_t k = 0; k < s->size(); ++k) x = s->step(at::full({1, 4, 4, 4}, 0.1), k, x, gen).prev_sample;
            return x;
        };
        QVERIFY(!at::equal(run(0.0), run(0.5)));
        QVERIFY(at::equal(run(0.5), run(0.5)));
        QVERIFY_THROWS_EXCEPTION(ips::InputError, ips::schedulers::make_scheduler("euler", config, 0.5));
    }

    void pythonJsonWithInfinity() {
        // diffusers writes "lambda_min_clipped": -Infinity into DPM-Solver configs.
        QTemporaryDir dir;
        const auto file = std::filesystem::path(dir.path().toStdString()) / "scheduler_config.json";
        ipstest::writeBytes(file, R"({"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "note": "NaN stays", "x": NaN})");
        const auto j = ips::io::read_python_json_file(file);
        QVERIFY(j["lambda_min_clipped"].is_null());
        QVERIFY(j["x"].is_null());
        QCOMPARE(j["note"].get<std::string>(), std::string("NaN stays"));
        auto s = ips::schedulers::make_scheduler("dpmpp_2m", j);
        s->set_timesteps(4);
        QCOMPARE(s->timesteps().size(0), std::int64_t(4));
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
