// Whole generations against diffusers: every pipeline case of the golden manifest (txt2img, negative
// prompt, IP-Adapter base/plus/full-face, two images, two adapters, ControlNet with and without IP,
// img2img, inpainting, Euler a, DPM++ 2M Karras, Euler, PNDM with clip skip), run through the engine
// that ips::Pipeline (CLI and GUI) uses. Also seeds, cancel, stage caching and bad requests.
#include <QtTest>

#include <fstream>

#include "golden.h"
#include "golden_pipeline.h"
#include "image/image_io.h"
#include "io/configs.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ips/png_file.h"
#include "ips/request_json.h"
#include "pipeline/engine.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::inputErrorOf;
namespace fs = std::filesystem;

using ipstest::adapterFile;
using ipstest::requestFor;

class TestPipeline : public QObject {
    Q_OBJECT
    std::unique_ptr<ips::pipeline::Engine> engine;
    QTemporaryDir scratch;

    fs::path scratchPath() const { return scratch.path().toStdString(); }

    // 64x64, 2 steps, seed 5, the tiny base IP-Adapter with one picture.
    static ips::GenerationRequest tinyIpRequest(const ips::ImageSource& picture) {
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.width = q.height = 64;
        q.num_inference_steps = 2;
        q.seed = 5;
        ips::IpAdapterSettings a;
        a.path = dataPath(adapterFile("base"));
        a.image_encoder = dataPath("tiny-sd15/image_encoder");
        a.images = {picture};
        q.ip_adapters = {a};
        return q;
    }

private Q_SLOTS:
    void initTestCase() { engine = std::make_unique<ips::pipeline::Engine>(ips::PipelineOptions{}); }

    void goldenCases_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"pipe_a_txt2img", "pipe_a2_txt2img_negative", "pipe_b_ip_base_text", "pipe_c_ip_base_image_only",
                               "pipe_d_ip_base_two_images", "pipe_d2_two_adapters", "pipe_e_ip_plus", "pipe_e2_ip_full_face",
                               "pipe_f0_controlnet", "pipe_f_controlnet_ip", "pipe_g_img2img", "pipe_h_inpaint",
                               "pipe_i_euler_a_ip", "pipe_j_dpmpp_2m_karras", "pipe_k_euler", "pipe_l_pndm_clip_skip"})
            QTest::newRow(id) << id;
    }
    void goldenCases() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString());
        ips::pipeline::Trace trace;
        const auto result = engine->generate(requestFor(g, scratchPath()), {}, nullptr, &trace);
        const auto failures = ipstest::compareWithGolden(g, trace, result);
        QVERIFY2(failures.empty(), failures.c_str());
    }

    // The bfloat16 fast path (fused attention, bf16 channels-last UNet, bf16 VAE decode) on every golden
    // case against diffusers' float32 picture: finite, and within 30 dB PSNR (measured: see the log).
    void bfloat16CloseToGolden_data() { goldenCases_data(); }
    void bfloat16CloseToGolden() {
        QFETCH(QString, id);
        const auto g = ipstest::loadGolden(id.toStdString());
        auto q = requestFor(g, scratchPath());
        q.dtype = "bfloat16";
        ips::pipeline::Trace trace;
        engine->generate(q, {}, nullptr, &trace);
        QVERIFY(at::isfinite(trace.latents_final).all().item<bool>());
        QVERIFY(at::isfinite(trace.decoded).all().item<bool>());
        const auto expected = g.output("image").to(at::kDouble);
        const double mse = (trace.image.to(at::kDouble) - expected).pow(2).mean().item<double>();
        const double psnr = 10.0 * std::log10(1.0 / std::max(mse, 1e-12));
        qInfo("%s: bfloat16 vs float32 golden image PSNR %.1f dB", qPrintable(id), psnr);
        QVERIFY2(psnr >= 30.0, qPrintable(QString("PSNR %1 dB").arg(psnr)));
    }

    // A separate VAE replaces the model's own: one cut from the single-file checkpoint (LDM names, no
    // prefix) gives the same picture; a different one (diffusers folder, decoder output halved) changes
    // exactly the decode; a file that is no VAE is refused naming it.
    void separateVae() {
        ips::PipelineOptions options;
        options.config_root = dataPath("tiny-sd15");
        ips::pipeline::Engine own(options);
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.prompt = "a red cube";
        q.width = q.height = 64;
        q.num_inference_steps = 2;
        q.seed = 7;
        ips::pipeline::Trace plain;
        const auto reference = own.generate(q, {}, nullptr, &plain).images.front();

        std::map<std::string, at::Tensor> ldm;
        for (auto& [key, t] : ips::io::load_weights(dataPath("tiny-sd15-single.safetensors")).tensors)
            if (key.rfind("first_stage_model.", 0) == 0) ldm.emplace(key.substr(18), t);
        q.vae = scratchPath() / "vae-ldm.safetensors";
        ips::io::save_safetensors(q.vae, ldm);
        QVERIFY(own.generate(q, {}, nullptr).images.front().pixels == reference.pixels);

        const fs::path half = scratchPath() / "vae-half";
        fs::copy(dataPath("tiny-sd15/vae"), half, fs::copy_options::recursive);
        auto weights = ips::io::load_weights(half / "diffusion_pytorch_model.safetensors").tensors;
        for (const char* k : {"decoder.conv_out.weight", "decoder.conv_out.bias"}) weights[k] = weights[k] * 0.5;
        fs::remove(half / "diffusion_pytorch_model.safetensors");
        ips::io::save_safetensors(half / "diffusion_pytorch_model.safetensors", weights);
        q.vae = half;
        ips::pipeline::Trace swapped;
        own.generate(q, {}, nullptr, &swapped);
        QVERIFY(at::allclose(swapped.latents_final, plain.latents_final));  // the UNet's work is unchanged
        QVERIFY(ipstest::maxAbsDiff(swapped.decoded, plain.decoded * 0.5) < 1e-4);

        q.vae = dataPath("tiny-controlnet/diffusion_pytorch_model.safetensors");
        try {
            own.generate(q, {}, nullptr);
            QFAIL("a ControlNet is not a VAE");
        } catch (const ips::Error& e) {
            QVERIFY2(std::string(e.what()).find("diffusion_pytorch_model.safetensors") != std::string::npos, e.what());
        }
        // The request file carries it.
        q.vae = half;
        const auto round = ips::parse_request_json(ips::request_to_json(q, scratchPath()), scratchPath(), "test");
        QCOMPARE(round.vae, half);
    }

    void seedsAreDiffusersSeeds() {
        // torch.Generator("cpu").manual_seed(seed) then randn: the golden latents of these cases.
        for (const char* id : {"pipe_a_txt2img", "pipe_j_dpmpp_2m_karras", "pipe_k_euler"}) {
            const auto g = ipstest::loadGolden(id);
            auto gen = at::make_generator<at::CPUGeneratorImpl>(g.spec["params"]["latent_seed"].get<std::uint64_t>());
            QVERIFY(at::equal(at::randn({1, 4, 16, 16}, gen), g.input("latents")));
        }
        // And the pipeline draws them itself from the seed: same image as with the explicit latents.
        auto g = ipstest::loadGolden("pipe_a_txt2img");
        auto q = requestFor(g, scratchPath());
        q.latents_file.clear();
        ips::pipeline::Trace trace;
        engine->generate(q, {}, nullptr, &trace);
        IPS_COMPARE_GOLDEN(g, "latents_final", trace.latents_final);
    }

    void progressPreviewsCancelAndReuse() {
        const auto g = ipstest::loadGolden("pipe_b_ip_base_text");
        auto q = requestFor(g, scratchPath());
        std::vector<int> steps;
        int previews = 0;
        ips::CancelToken cancel;
        bool cancel_at_two = true;
        auto progress = [&](const ips::GenerationProgress& p) {
            if (p.stage != "denoising" || p.step == 0) return;
            steps.push_back(p.step);
            if (p.preview && p.preview->width == 16 && p.preview->height == 16) ++previews;
            if (p.step == 2 && cancel_at_two) cancel.cancel();
        };
        QVERIFY_THROWS_EXCEPTION(ips::Cancelled, engine->generate(q, progress, &cancel));
        QCOMPARE(steps, (std::vector<int>{1, 2}));  // stopped within one step
        QCOMPARE(previews, 2);
        // The engine is usable again, and the result is the golden one.
        cancel.reset();
        cancel_at_two = false;
        ips::pipeline::Trace trace;
        engine->generate(q, progress, &cancel, &trace);
        IPS_COMPARE_GOLDEN(g, "latents_final", trace.latents_final);
    }

    void stagesAreCached() {
        const auto g = ipstest::loadGolden("pipe_g_img2img");
        auto q = requestFor(g, scratchPath());
        q.ip_adapters.push_back({});
        q.ip_adapters.back().path = dataPath(adapterFile("base"));
        q.ip_adapters.back().image_encoder = dataPath("tiny-sd15/image_encoder");
        q.ip_adapters.back().images = {{dataPath("images/shapes_100x75.png"), nullptr}};
        engine->generate(q, {}, nullptr);
        const auto before = engine->stage_counts();
        // New seed, scale and steps: only the denoising runs again.
        q.seed = 7;
        q.ip_adapters.back().scale = 0.3;
        q.num_inference_steps = 12;
        const auto a = engine->generate(q, {}, nullptr);
        const auto after = engine->stage_counts();
        QCOMPARE(after.text_encodes, before.text_encodes);
        QCOMPARE(after.image_encodes, before.image_encodes);
        QCOMPARE(after.vae_encodes, before.vae_encodes);
        // A new prompt re-encodes its own window only (the negative prompt's is cached).
        q.prompt = "a blue sphere";
        engine->generate(q, {}, nullptr);
        QCOMPARE(engine->stage_counts().text_encodes, after.text_encodes + 1);
        QCOMPARE(engine->stage_counts().image_encodes, after.image_encodes);
        // Prompts encoded ahead (Live's wait) are what the generation then uses.
        q.prompt = "a blue sphere at noon";
        QVERIFY(engine->prepare_prompts(q));
        QCOMPARE(engine->stage_counts().text_encodes, after.text_encodes + 2);
        engine->generate(q, {}, nullptr);
        QCOMPARE(engine->stage_counts().text_encodes, after.text_encodes + 2);
        auto unloaded = q;
        unloaded.model = dataPath("tiny-sd15-single.safetensors");  // not loaded: nothing is loaded for it
        QVERIFY(!engine->prepare_prompts(unloaded));
        QCOMPARE(engine->stage_counts().text_encodes, after.text_encodes + 2);
        // Same request twice: the same picture.
        q.prompt = g.spec["params"]["prompt"];
        const auto b = engine->generate(q, {}, nullptr);
        QVERIFY(a.images.front().pixels == b.images.front().pixels);
    }

    void batchAndGuidanceOff() {
        auto q = requestFor(ipstest::loadGolden("pipe_a_txt2img"), scratchPath());
        q.latents_file.clear();
        q.num_images_per_prompt = 2;
        q.guidance_scale = 1.0;  // no unconditional pass
        ips::pipeline::Trace trace;
        const auto r = engine->generate(q, {}, nullptr, &trace);
        QCOMPARE(r.images.size(), std::size_t(2));
        QCOMPARE(trace.prompt_embeds.size(0), std::int64_t(2));
        QVERIFY(r.images[0].pixels != r.images[1].pixels);
        QCOMPARE(r.latents_shape, (std::vector<std::int64_t>{2, 4, 16, 16}));
        // Sizes that are multiples of 8 but not of 64 work.
        q.width = 72;
        q.height = 136;
        q.num_images_per_prompt = 1;
        QCOMPARE(engine->generate(q, {}, nullptr).images.front().height, 136);
    }

    void loadingReportsTheBytesRead() {
        // What the files hold: every tensor of the three components, as stored (position_ids are not loaded).
        std::uint64_t stored = 0;
        for (const char* file : {"tiny-sd15/unet/diffusion_pytorch_model.safetensors", "tiny-sd15/vae/diffusion_pytorch_model.safetensors",
                                 "tiny-sd15/text_encoder/model.safetensors"})
            for (const auto& t : ips::io::read_tensor_infos(dataPath(file))) {
                if (t.name.find("position_ids") != std::string::npos) continue;
                std::uint64_t n = t.dtype == "F32" ? 4 : t.dtype == "F16" || t.dtype == "BF16" ? 2 : 8;
                for (const auto d : t.shape) n *= std::uint64_t(d);
                stored += n;
            }
        auto q = requestFor(ipstest::loadGolden("pipe_a_txt2img"), scratchPath());
        q.ip_adapters.clear();
        engine->unload();
        std::vector<std::uint64_t> reports;
        double last_loading_elapsed = -1, first_step_elapsed = -1;
        engine->generate(q, [&](const ips::GenerationProgress& p) {
            if (p.stage == "loading models" && p.bytes_loaded > 0) reports.push_back(p.bytes_loaded), last_loading_elapsed = p.elapsed_seconds;
            if (p.stage == "denoising" && first_step_elapsed < 0) first_step_elapsed = p.elapsed_seconds;
        }, nullptr);
        QVERIFY(!reports.empty());
        QVERIFY(std::is_sorted(reports.begin(), reports.end()));
        QCOMPARE(reports.back(), stored);
        QVERIFY(last_loading_elapsed <= first_step_elapsed);
        // Loaded models are not loaded again: no loading progress the second time.
        reports.clear();
        engine->generate(q, [&](const ips::GenerationProgress& p) {
            if (p.bytes_loaded > 0) reports.push_back(p.bytes_loaded);
        }, nullptr);
        QVERIFY(reports.empty());
    }

    void controlNetCacheIsBounded() {
        // Five ControlNet folders used in turn: at most kMaxControlNets stay loaded, the least recently used
        // leaves first, and a network handed out stays usable after it left the cache.
        ips::pipeline::ModelCache cache({});
        std::vector<fs::path> folders;
        for (int i = 0; i < 5; ++i) {
            folders.push_back(scratchPath() / ("controlnet-" + std::to_string(i)));
            fs::create_directories(folders.back());
            fs::copy(dataPath("tiny-controlnet"), folders.back(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        }
        const auto key = [&](int i) { return ips::pipeline::model_key(folders[std::size_t(i)], at::kFloat); };
        auto first = cache.controlnet(folders[0], at::kFloat);
        cache.controlnet(folders[1], at::kFloat);
        cache.controlnet(folders[2], at::kFloat);
        cache.controlnet(folders[0], at::kFloat);  // used again: now the newest
        cache.controlnet(folders[3], at::kFloat);  // evicts 1, the least recently used
        QCOMPARE(cache.controlnets_loaded(), (std::vector<std::string>{key(2), key(0), key(3)}));
        cache.controlnet(folders[4], at::kFloat);  // evicts 2
        QCOMPARE(cache.controlnets_loaded(), (std::vector<std::string>{key(0), key(3), key(4)}));
        cache.controlnet(folders[1], at::kFloat);  // evicts 0 (first is still held here)
        QCOMPARE(cache.controlnets_loaded().size(), ips::pipeline::ModelCache::kMaxControlNets);
        QVERIFY(first->unet_config.in_channels == 4);
    }

    void timestepSpacingReachesTheScheduler() {
        auto q = requestFor(ipstest::loadGolden("pipe_a_txt2img"), scratchPath());
        q.scheduler = "ddim";
        q.num_inference_steps = 4;
        ips::pipeline::Trace trace;
        engine->generate(q, {}, nullptr, &trace);
        // diffusers' DDIM "leading" at 4 of 1000 steps with steps_offset 1: 751 501 251 1.
        const auto leading = trace.timesteps.to(at::kLong);
        q.timestep_spacing = "trailing";  // Hyper-SD's setting: 999 749 499 249
        engine->generate(q, {}, nullptr, &trace);
        const auto trailing = trace.timesteps.to(at::kLong);
        QCOMPARE(trailing[0].item<std::int64_t>(), std::int64_t(999));
        QCOMPARE(trailing[3].item<std::int64_t>(), std::int64_t(249));
        QCOMPARE(leading[0].item<std::int64_t>(), std::int64_t(751));
        QCOMPARE(leading[3].item<std::int64_t>(), std::int64_t(1));
        // The field survives the request file and is refused where it cannot apply.
        const auto parsed = ips::parse_request_json(ips::request_to_json(q, {}), {}, "round trip");
        QCOMPARE(parsed.timestep_spacing, std::string("trailing"));
        q.timestep_spacing = "sgm_uniform";
        QVERIFY(inputErrorOf([&] { engine->generate(q, {}, nullptr); }).find("timestep_spacing must be leading, linspace or trailing") !=
                std::string::npos);
        q.timestep_spacing = "trailing";
        q.scheduler = "lcm";
        QVERIFY(inputErrorOf([&] { engine->generate(q, {}, nullptr); }).find("lcm takes its timesteps") != std::string::npos);
    }

    void badRequests() {
        auto base = requestFor(ipstest::loadGolden("pipe_a_txt2img"), scratchPath());
        auto expect = [&](const std::function<void(ips::GenerationRequest&)>& change, const char* text) {
            auto q = base;
            change(q);
            const auto message = inputErrorOf([&] { engine->generate(q, {}, nullptr); });
            QVERIFY2(message.find(text) != std::string::npos, (message + " / expected: " + text).c_str());
        };
        expect([](auto& q) { q.width = 100; }, "width must be a multiple of 8");
        expect([](auto& q) { q.num_inference_steps = 0; }, "num_inference_steps must be between 1 and 1000");
        expect([](auto& q) { q.model = "/nonexistent/model"; }, "model: /nonexistent/model does not exist");
        expect([](auto& q) { q.scheduler = "heun"; }, "unknown scheduler 'heun'");
        expect([](auto& q) { q.strength = 0.5; }, "strength needs an init_image");
        expect([](auto& q) { q.mask_image = ips::ImageSource{dataPath("images/mask_128x128.png"), nullptr}; }, "mask_image needs an init_image");
        expect([](auto& q) { q.dtype = "float16"; }, "dtype must be float32 or bfloat16");
        expect(
            [](auto& q) {
                q.init_image = ips::ImageSource{dataPath("images/scene_128x128.png"), nullptr};
                q.strength = 0.05;
                q.latents_file.clear();
            },
            "leaves no denoising step");
        expect(
            [](auto& q) {
                ips::IpAdapterSettings s;
                s.path = dataPath(adapterFile("base"));
                s.images = {{dataPath("images/nothere.png"), nullptr}};
                q.ip_adapters = {s};
            },
            "ip_adapters[0].images[0]");
        expect([](auto& q) { q.latents_file = dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"); }, "no tensor named 'latents'");
        // A non-image as init image: named.
        expect(
            [](auto& q) {
                q.init_image = ips::ImageSource{dataPath("tiny-sd15/model_index.json"), nullptr};
                q.latents_file.clear();
            },
            "model_index.json: not a readable image");
    }

    void nineChannelInpaintingModel() {
        // An inpainting UNet (9 input channels: latents, mask, masked-image latents), random weights in the
        // tiny layout: the pipeline feeds it the mask and the masked image, and it needs both.
        QTemporaryDir dir;
        const fs::path model = fs::path(dir.path().toStdString()) / "tiny-inpaint";
        fs::create_directories(model / "unet");
        for (const char* part : {"vae", "text_encoder", "tokenizer", "scheduler"})
            fs::copy(dataPath(std::string("tiny-sd15/") + part), model / part, fs::copy_options::recursive);
        fs::copy_file(dataPath("tiny-sd15/model_index.json"), model / "model_index.json");
        auto config = ips::io::read_json_file(dataPath("tiny-sd15/unet/config.json"));
        config["in_channels"] = 9;
        ipstest::writeBytes(model / "unet" / "config.json", config.dump());
        {
            c10::InferenceMode off(false);
            ips::nn::UNet2DConditionModel unet(ips::io::parse_unet_config(config, "config.json"));
            std::map<std::string, at::Tensor> weights;
            for (const auto& p : unet->named_parameters()) weights[p.key()] = p.value().detach().clone();
            ips::io::save_safetensors(model / "unet" / "diffusion_pytorch_model.safetensors", weights);
        }
        ips::GenerationRequest q;
        q.model = model;
        q.prompt = "a red cube";
        q.width = q.height = 128;
        q.num_inference_steps = 3;
        q.seed = 3;
        q.init_image = ips::ImageSource{dataPath("images/scene_128x128.png"), nullptr};
        q.mask_image = ips::ImageSource{dataPath("images/mask_128x128.png"), nullptr};
        const auto a = engine->generate(q, {}, nullptr);
        QCOMPARE(a.images.front().width, 128);
        q.mask_image = ips::ImageSource{dataPath("images/mask_circle_128x128.png"), nullptr};
        const auto b = engine->generate(q, {}, nullptr);
        QVERIFY(a.images.front().pixels != b.images.front().pixels);  // the mask reaches the UNet
        q.mask_image.reset();
        q.strength.reset();
        const auto message = inputErrorOf([&] { engine->generate(q, {}, nullptr); });
        QVERIFY2(message.find("an inpainting model (9 input channels) needs an init image and a mask") != std::string::npos,
                 message.c_str());
    }

    void img2imgWithEverySchedulerAndEta() {
        // Late starts (set_begin_index) and add_noise at the begin index, for each scheduler family.
        auto q = requestFor(ipstest::loadGolden("pipe_g_img2img"), scratchPath());
        for (const char* name : {"ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "lms"}) {
            q.scheduler = name;
            const auto r = engine->generate(q, {}, nullptr);
            QCOMPARE(r.images.size(), std::size_t(1));
        }
        q.scheduler = "ddim";
        q.eta = 0.0;
        const auto plain = engine->generate(q, {}, nullptr);
        q.eta = 1.0;
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels != plain.images.front().pixels);
    }

    // ComfyUI's controls reach the generation: averaging two copies of one picture is that picture alone
    // (exactly: (e + e) / 2 = e), while concat of the copies is not; K+V scaling and the precise/two-image
    // weight types change the picture; "style and composition" needs its two pictures.
    void comfyControlsReachTheEngine() {
        const ips::ImageSource shapes{dataPath("images/shapes_100x75.png"), nullptr};
        auto q = tinyIpRequest(shapes);
        q.ip_adapters[0].scale = 0.8;
        const auto single = engine->generate(q, {}, nullptr).images.front().pixels;
        q.ip_adapters[0].images = {shapes, shapes};
        const auto concat = engine->generate(q, {}, nullptr).images.front().pixels;
        q.ip_adapters[0].combine_embeds = "average";
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels == single);
        QVERIFY(concat != single);
        q.ip_adapters[0].images = {shapes};
        q.ip_adapters[0].combine_embeds = "concat";
        q.ip_adapters[0].embeds_scaling = "K+V";
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels != single);
        q.ip_adapters[0].embeds_scaling = "V only";
        q.ip_adapters[0].mode = "style transfer precise";
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels != single);
        q.ip_adapters[0].mode = "style and composition";
        QVERIFY(inputErrorOf([&] { engine->generate(q, {}, nullptr); }).find("needs two reference images") != std::string::npos);
        q.ip_adapters[0].images = {shapes, {dataPath("images/wide_256x128.png"), nullptr}};
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels != single);
    }

    // Regions (diffusers' ip_adapter_masks): each image in its own softmax and region. The numbers are checked
    // against diffusers in test_pipeline_wide (golden_masks); here what the engine must do around them.
    void ipRegions() {
        const ips::ImageSource shapes{dataPath("images/shapes_100x75.png"), nullptr};
        const ips::ImageSource wide{dataPath("images/wide_256x128.png"), nullptr};
        // Grey pictures: white where `inside(x, y)`.
        auto region = [&](const std::string& name, int w, int h, auto inside) {
            ips::Image im;
            im.width = w, im.height = h, im.channels = 3;
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    for (int c = 0; c < 3; ++c) im.pixels.push_back(inside(x, y) ? 255 : 0);
            const fs::path file = scratchPath() / name;
            ips::write_png(file, im, {}, true);
            return ips::ImageSource{file, nullptr};
        };
        const auto all = region("all.png", 64, 64, [](int, int) { return true; });
        const auto left = region("left.png", 64, 64, [](int x, int) { return x < 32; });
        const auto right = region("right.png", 64, 64, [](int x, int) { return x >= 32; });

        auto q = tinyIpRequest(shapes);
        q.ip_adapters[0].images = {shapes, wide};
        const auto shared = engine->generate(q, {}, nullptr);
        q.ip_adapters[0].regions = {all, all};
        const auto separate = engine->generate(q, {}, nullptr);
        QVERIFY(separate.warnings.empty());
        // All-white regions still attend each image on its own: not the same as no regions.
        QVERIFY(separate.images.front().pixels != shared.images.front().pixels);
        q.ip_adapters[0].regions = {left, right};
        const auto split = engine->generate(q, {}, nullptr);
        QVERIFY(split.images.front().pixels != separate.images.front().pixels);
        QVERIFY(ips::a1111_parameters(q, 5).find("2 regions") != std::string::npos);

        // Request JSON keeps them as "masks", paths relative to the request's folder.
        const auto json = ips::request_to_json(q, scratchPath());
        QVERIFY(json.find("\"masks\"") != std::string::npos);
        const auto back = ips::parse_request_json(json, scratchPath(), "test");
        QCOMPARE(back.ip_adapters[0].regions.size(), std::size_t(2));
        QCOMPARE(back.ip_adapters[0].regions[1].path, right.path);
        // An empty name is no file (it would be written back as "no picture"): refused on reading (found by fuzz_request_json).
        const std::pair<const char*, const char*> empties[] = {{"images", R"("images": [""])"}, {"masks", R"("images": ["x.png"], "masks": [""])"}};
        for (const auto& [list, fields] : empties) {
            const std::string bad = std::string(R"({"schema": 1, "ip_adapters": [{"path": "a.bin", )") + fields + "}]}";
            const std::string message = inputErrorOf([&] { ips::parse_request_json(bad, scratchPath(), "t.json"); });
            QVERIFY2(message.find(std::string(list) + " must hold file names") != std::string::npos, message.c_str());
        }

        // Another size is resized and said so; an empty region is said so too. Both still generate.
        q.ip_adapters[0].regions = {region("small.png", 16, 16, [](int x, int) { return x < 8; }),
                                    region("none.png", 64, 64, [](int, int) { return false; })};
        const auto warned = engine->generate(q, {}, nullptr);
        QCOMPARE(warned.warnings.size(), std::size_t(2));
        QVERIFY(warned.warnings[0].find("ip_adapters[0].regions[0]: the region is 16x16, resized to the output size 64x64") == 0);
        QVERIFY(warned.warnings[1].find("ip_adapters[0].regions[1]: the region is empty") == 0);

        // Refused before anything loads: a count that is not one per image, a non-picture, a combined embedding.
        q.ip_adapters[0].regions = {left};
        QVERIFY(inputErrorOf([&] { ips::validate_request(q); }).find("1 regions for 2 images") != std::string::npos);
        const fs::path text = scratchPath() / "notes.png";
        std::ofstream(text) << "not a picture";
        q.ip_adapters[0].regions = {left, {text, nullptr}};
        const std::string not_image = inputErrorOf([&] { engine->generate(q, {}, nullptr); });
        QVERIFY2(not_image.find("notes.png") != std::string::npos, not_image.c_str());
        q.ip_adapters[0].regions = {left, right};
        q.ip_adapters[0].combine_embeds = "average";
        QVERIFY(inputErrorOf([&] { ips::validate_request(q); }).find("needs combine_embeds concat") != std::string::npos);
        // The unchanged request still gives the same picture (nothing cached from the failures).
        q.ip_adapters[0].combine_embeds = "concat";
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels == split.images.front().pixels);
    }

    void perImageCropModes() {
        auto q = tinyIpRequest({dataPath("images/wide_256x128.png"), nullptr});
        const auto center = engine->generate(q, {}, nullptr).images.front().pixels;
        q.ip_adapters[0].crop = ips::CropMode::Pad;
        const auto pad = engine->generate(q, {}, nullptr).images.front().pixels;
        // The per-image list overrides the adapter's mode for its image.
        q.ip_adapters[0].crop = ips::CropMode::Center;
        q.ip_adapters[0].image_crops = {ips::CropMode::Pad};
        QVERIFY(engine->generate(q, {}, nullptr).images.front().pixels == pad);
        QVERIFY(pad != center);
        q.ip_adapters[0].image_crops = {ips::CropMode::Pad, ips::CropMode::Pad};
        QVERIFY(inputErrorOf([&] { ips::validate_request(q); }).find("2 crop modes for 1 images") != std::string::npos);

        // Request JSON: written and read back; a bad mode names the field.
        q.ip_adapters[0].images.push_back({dataPath("images/scene_128x128.png"), nullptr});
        q.ip_adapters[0].image_crops = {ips::CropMode::Pad, ips::CropMode::Squash};
        const auto back = ips::parse_request_json(ips::request_to_json(q, scratchPath()), scratchPath(), "test");
        QCOMPARE(back.ip_adapters[0].image_crops, (std::vector<ips::CropMode>{ips::CropMode::Pad, ips::CropMode::Squash}));
        const std::string bad = R"({"schema": 1, "ip_adapters": [{"path": "a.bin", "images": ["x.png"], "image_crops": ["stretch"]}]})";
        QVERIFY(inputErrorOf([&] { ips::parse_request_json(bad, scratchPath(), "bad.json"); }).find("image_crops") != std::string::npos);
        // A preset may leave the adapter file and pictures to the user; generating then says what is missing.
        const auto preset = ips::parse_request_json(R"({"schema": 1, "model": "m", "ip_adapters": [{"scale": 0.5, "mode": "style"}]})",
                                                    scratchPath(), "preset.json");
        QCOMPARE(preset.ip_adapters[0].scale, 0.5);
        QVERIFY(preset.ip_adapters[0].path.empty() && preset.ip_adapters[0].images.empty());
        auto unfinished = preset;
        unfinished.model = dataPath("tiny-sd15");
        QVERIFY(inputErrorOf([&] { ips::validate_request(unfinished); }).find("no IP-Adapter file chosen") != std::string::npos);
    }

    void pngCarriesTheParameters() {
        QTemporaryDir dir;
        const auto file = fs::path(dir.path().toStdString()) / fs::u8path("résultat.png");
        ips::Image im;
        im.width = 3;
        im.height = 2;
        im.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
        ips::write_png(file, im, {{"parameters", "un chat, 猫\nSteps: 20"}, {"ipstudio_request", "{\"schema\": 1}"}}, false);
        const auto back = ips::image::read_image_rgb(file);
        QVERIFY(back.pixels == im.pixels);
        const auto text = ips::read_png_text(file);
        QCOMPARE(QString::fromStdString(text.at("parameters")), QString::fromUtf8("un chat, 猫\nSteps: 20"));
        QCOMPARE(QString::fromStdString(text.at("ipstudio_request")), QString("{\"schema\": 1}"));
        // Never replaced without being asked.
        QVERIFY(inputErrorOf([&] { ips::write_png(file, im, {}, false); }).find("already exists") != std::string::npos);
        ips::write_png(file, im, {}, true);
        QVERIFY(ips::read_png_text(file).empty());
    }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "test_pipeline.moc"
