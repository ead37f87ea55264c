// Every scheduler against diffusers' trajectories: timesteps, sigmas, alphas_cumprod, and each step's
// scaled input and output fed the same fixed model outputs (and the same ancestral noise).
#include <QtTest>

#include <functional>

#include "golden.h"
#include "io/json_file.h"
#include "schedulers/scheduler.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestSchedulers : public QObject {
    Q_OBJECT

    // IPS_COMPARE_GOLDEN, logging the difference found (the few-step cases report how close they are).
    static void compareLogged(const ipstest::GoldenCase& g, const std::string& name, const at::Tensor& actual) {
        qInfo("%s/%s: max abs diff %g (atol %g)", g.spec["id"].get<std::string>().c_str(), name.c_str(),
              ipstest::maxAbsDiff(actual, g.output(name)), g.atol(name));
        IPS_COMPARE_GOLDEN(g, name, actual);
    }

    // timesteps, alphas_cumprod, sigmas (where recorded) and init_noise_sigma against the golden case.
    static void compareSchedule(const ipstest::GoldenCase& g, const ips::schedulers::Scheduler& s) {
        compareLogged(g, "timesteps", s.timesteps().to(g.output("timesteps").scalar_type()));
        compareLogged(g, "alphas_cumprod", s.alphas_cumprod());
        if (g.hasOutput("sigmas")) compareLogged(g, "sigmas", s.sigmas());
        QCOMPARE(s.init_noise_sigma().item<double>(), g.spec["params"]["init_noise_sigma"].get<double>());
    }

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

    // Few-step samplers and timestep_spacing overrides (tools/oracle/make_sched_golden.py).
    void fewStepTrajectories_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"sched_lcm_4", "sched_lcm_8", "sched_tcd_4", "sched_tcd_8", "sched_ddim_trailing_4",
                               "sched_ddim_trailing_8", "sched_euler_trailing_8", "sched_euler_a_trailing_8",
                               "sched_dpmpp_2m_trailing_8", "sched_dpmpp_2m_karras_trailing_8", "sched_ddim_linspace_8",
                               "sched_euler_leading_8", "sched_dpmpp_2m_leading_8"})
            QTest::newRow(id) << QString(id);
    }
    void fewStepTrajectories() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString());
        const auto& p = g.spec["params"];
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        ips::schedulers::SchedulerOptions options;
        options.eta = p.value("eta", 0.0);
        options.timestep_spacing = p.value("timestep_spacing", std::string());
        auto s = ips::schedulers::make_scheduler(p["scheduler"].get<std::string>(), config, options);
        s->set_timesteps(p["num_inference_steps"].get<int>());
        compareSchedule(g, *s);

        const auto eps = g.input("eps");
        auto gen = at::make_generator<at::CPUGeneratorImpl>(p.value("generator_seed", 0));
        at::Tensor x = g.input("x0") * s->init_noise_sigma();
        std::vector<at::Tensor> scaled, prev, denoised;
        for (std::size_t k = 0; k < s->size(); ++k) {
            scaled.push_back(s->scale_model_input(x, k));
            const auto out = s->step(eps[k], k, x, gen);
            x = out.prev_sample;
            prev.push_back(x);
            denoised.push_back(out.pred_original_sample);
        }
        compareLogged(g, "scaled_inputs", at::stack(scaled));
        compareLogged(g, "prev_samples", at::stack(prev));
        if (g.hasOutput("denoised")) compareLogged(g, "denoised", at::stack(denoised));  // LCM's second output
        if (g.hasInput("step_noise")) {
            // The fresh noise between steps is the generator's draw, as diffusers' randn_tensor makes it.
            auto fresh = at::make_generator<at::CPUGeneratorImpl>(p.value("generator_seed", 0));
            const auto recorded = g.input("step_noise");
            for (std::int64_t k = 0; k < recorded.size(0); ++k) QVERIFY(at::equal(at::randn(recorded[k].sizes(), fresh), recorded[k]));
        }
    }

    void consistencyImg2img() {
        // LatentConsistencyModelImg2ImgPipeline: set_timesteps(n, strength), noise at timesteps[0], every step runs.
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        for (const char* id : {"sched_lcm_img2img_4", "sched_tcd_img2img_4", "sched_lcm_sd_img2img_8"}) {
            const auto g = ipstest::loadGolden(id);
            const auto& p = g.spec["params"];
            ips::schedulers::SchedulerOptions options;
            options.eta = p.value("eta", 0.0);
            auto s = ips::schedulers::make_scheduler(p["scheduler"].get<std::string>(), config, options);
            const int steps = p["num_inference_steps"].get<int>();
            // StableDiffusionImg2ImgPipeline with LCM: set_timesteps(n), then it starts at get_timesteps' index.
            const auto begin = static_cast<std::size_t>(p.value("begin_index", 0));
            if (p.contains("begin_index")) {
                s->set_timesteps(steps);
                s->set_begin_index(begin);
            } else {
                s->set_timesteps_with_strength(steps, p["strength"].get<double>());
            }
            compareSchedule(g, *s);
            at::Tensor x = s->add_noise(g.input("x0"), g.input("noise"), begin);
            compareLogged(g, "noised", x);
            const auto eps = g.input("eps");
            auto gen = at::make_generator<at::CPUGeneratorImpl>(p["generator_seed"].get<int>());
            std::vector<at::Tensor> prev, denoised;
            for (std::size_t k = begin; k < s->size(); ++k) {
                const auto out = s->step(eps[static_cast<std::int64_t>(k - begin)], k, x, gen);
                x = out.prev_sample;
                prev.push_back(x);
                denoised.push_back(out.pred_original_sample);
            }
            compareLogged(g, "prev_samples", at::stack(prev));
            if (g.hasOutput("denoised")) compareLogged(g, "denoised", at::stack(denoised));
        }
    }

    void fewStepBadInput() {
        using ips::schedulers::make_scheduler;
        using ips::schedulers::SchedulerOptions;
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        auto expectError = [](const std::function<void()>& f, const std::string& words) {
            try {
                f();
            } catch (const ips::InputError& e) {
                if (std::string(e.what()).find(words) == std::string::npos)
                    QFAIL(qPrintable(QString("message without '%1': %2").arg(QString::fromStdString(words), e.what())));
                return;
            }
            QFAIL(qPrintable(QString("no InputError (expected one naming '%1')").arg(QString::fromStdString(words))));
        };
        // LCM's steps are a subset of its original_inference_steps (50) schedule.
        expectError([&] { make_scheduler("lcm", config)->set_timesteps(51); }, "original_inference_steps");
        auto small = config;
        small["original_inference_steps"] = 4;
        expectError([&] { make_scheduler("tcd", small)->set_timesteps(6); }, "original_inference_steps 4");
        expectError([&] { make_scheduler("lcm", config)->set_timesteps_with_strength(8, 0.1); }, "strength");
        expectError([&] { make_scheduler("lcm", config)->set_timesteps_with_strength(4, 0.0); }, "strength");
        expectError([&] { make_scheduler("ddim", config)->set_timesteps_with_strength(4, 0.5); }, "lcm and tcd");
        small["original_inference_steps"] = 0;
        expectError([&] { make_scheduler("lcm", small); }, "original_inference_steps");
        // Spacing overrides: a known value, and only where a spacing exists.
        SchedulerOptions spacing;
        spacing.timestep_spacing = "sgm_uniform";
        expectError([&] { make_scheduler("euler", config, spacing); }, "timestep_spacing 'sgm_uniform'");
        spacing.timestep_spacing = "trailing";
        expectError([&] { make_scheduler("lcm", config, spacing); }, "timestep_spacing");
        expectError([&] { make_scheduler("heun", config, spacing); }, "unknown scheduler 'heun'");
        // eta: DDIM's and TCD's, TCD's within [0, 1].
        SchedulerOptions eta;
        eta.eta = 1.5;
        expectError([&] { make_scheduler("tcd", config, eta); }, "eta");
        eta.eta = 0.3;
        expectError([&] { make_scheduler("lcm", config, eta); }, "eta");
        QVERIFY(make_scheduler("tcd", config, eta) != nullptr);
    }

    void lcmOneStepAndSpacingOverride() {
        const auto config = ips::io::read_json_file(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        // One LCM step: timestep 999, the output is `denoised` and no noise is drawn.
        auto lcm = ips::schedulers::make_scheduler("lcm", config);
        lcm->set_timesteps(1);
        QCOMPARE(lcm->size(), std::size_t(1));
        QCOMPARE(lcm->timesteps()[0].item<std::int64_t>(), std::int64_t(999));
        auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
        const auto out = lcm->step(at::full({1, 4, 2, 2}, 0.1), 0, at::ones({1, 4, 2, 2}), gen);
        QVERIFY(at::equal(out.prev_sample, out.pred_original_sample));
        auto same = at::make_generator<at::CPUGeneratorImpl>(5);
        QVERIFY(at::equal(at::randn({4}, gen), at::randn({4}, same)));
        // The option equals writing the key into the config (from_config(config, timestep_spacing=...)).
        for (const char* name : {"ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "lms"}) {
            ips::schedulers::SchedulerOptions options;
            options.timestep_spacing = "trailing";
            auto patched = config;
            patched["timestep_spacing"] = "trailing";
            auto a = ips::schedulers::make_scheduler(name, config, options), b = ips::schedulers::make_scheduler(name, patched);
            a->set_timesteps(7);
            b->set_timesteps(7);
            QVERIFY(at::equal(a->timesteps(), b->timesteps()));
            QCOMPARE(a->init_noise_sigma().item<double>(), b->init_noise_sigma().item<double>());
        }
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
