#pragma once
// Pipeline golden cases (tests/data/golden, tests/data/golden_wide) as engine requests, and an engine trace
// compared with a case. Shared by test_pipeline and test_pipeline_wide.
#include <QtGlobal>
#include <cstdio>
#include <filesystem>
#include <string>

#include "golden.h"
#include "image/image_io.h"
#include "io/weights.h"
#include "pipeline/engine.h"
#include "test_paths.h"

namespace ipstest {

inline const char* adapterFile(const std::string& kind) {
    if (kind == "plus") return "tiny-ip-adapter/ip-adapter-plus_sd15.safetensors";
    if (kind == "full") return "tiny-ip-adapter/ip-adapter-full-face_sd15.safetensors";
    return "tiny-ip-adapter/ip-adapter_sd15.safetensors";
}

// The pipeline folder a case runs: tiny-sd15, or, when the case names another UNet (models.unet, e.g. the
// 9-channel inpainting one), a copy of tiny-sd15's other parts with that UNet, made once in `scratch`.
inline std::filesystem::path modelFor(const GoldenCase& g, const std::filesystem::path& scratch) {
    namespace fs = std::filesystem;
    const auto& models = g.spec["models"];
    if (!models.contains("unet")) return dataPath("tiny-sd15");
    const std::string unet = models["unet"];
    const fs::path folder = scratch / ("tiny-sd15+" + unet);
    if (!fs::exists(folder / "model_index.json")) {
        fs::create_directories(folder);
        for (const char* part : {"vae", "text_encoder", "tokenizer", "scheduler"})
            fs::copy(dataPath(std::string("tiny-sd15/") + part), folder / part, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        fs::copy(dataPath(unet), folder / "unet", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        fs::copy_file(dataPath("tiny-sd15/model_index.json"), folder / "model_index.json", fs::copy_options::overwrite_existing);
    }
    return folder;
}

// The request a golden pipeline case describes (make_golden.py's run_pipeline parameters).
inline ips::GenerationRequest requestFor(const GoldenCase& g, const std::filesystem::path& scratch) {
    const auto& p = g.spec["params"];
    ips::GenerationRequest q;
    q.model = modelFor(g, scratch);
    q.prompt = p.value("prompt", "");
    q.negative_prompt = p["negative_prompt"].is_null() ? "" : p["negative_prompt"].get<std::string>();
    q.width = p["width"];
    q.height = p["height"];
    q.num_inference_steps = p["steps"];
    q.guidance_scale = p["guidance"];
    q.scheduler = p["scheduler"];
    q.eta = p.value("eta", 0.0);
    q.timestep_spacing = p.value("timestep_spacing", "");
    if (!p["clip_skip"].is_null()) q.clip_skip = p["clip_skip"].get<int>();
    q.num_images_per_prompt = p["num_images_per_prompt"];
    q.seed = p.contains("gen_seed") ? p["gen_seed"].get<std::uint64_t>() : p["latent_seed"].get<std::uint64_t>();
    auto input_path = [&](const std::string& name) { return dataPath(g.spec["inputs"][name]["path"].get<std::string>()); };
    if (p.contains("ip")) {
        for (std::size_t a = 0; a < p["ip"].size(); ++a) {
            ips::IpAdapterSettings s;
            s.path = dataPath(adapterFile(p["ip"][a]["adapter"]));
            s.image_encoder = dataPath("tiny-sd15/image_encoder");
            for (std::size_t k = 0; k < p["ip"][a]["images"].size(); ++k)
                s.images.push_back({input_path("ip_image_" + std::to_string(a) + "_" + std::to_string(k)), nullptr});
            if (p["ip"][a].contains("masks"))  // diffusers' ip_adapter_masks: one region per image
                for (std::size_t k = 0; k < p["ip"][a]["masks"].size(); ++k)
                    s.regions.push_back({input_path("ip_mask_" + std::to_string(a) + "_" + std::to_string(k)), nullptr});
            s.scale = p["ip"][a]["scale"];
            q.ip_adapters.push_back(s);
        }
    }
    if (p.contains("controlnets")) {  // several: each with its image, scale and guidance window
        for (std::size_t j = 0; j < p["controlnets"].size(); ++j) {
            const auto& n = p["controlnets"][j];
            ips::ControlNetSettings c;
            c.path = dataPath("tiny-controlnet");
            c.image = {input_path("control_image_" + std::to_string(j)), nullptr};
            c.conditioning_scale = n["scale"];
            c.start = n["start"];
            c.end = n["end"];
            q.controlnets.push_back(c);
        }
    } else if (p.contains("control_image")) {
        ips::ControlNetSettings c;
        c.path = dataPath("tiny-controlnet");
        c.image = {input_path("control_image"), nullptr};
        c.conditioning_scale = p["cn_scale"];
        q.controlnets.push_back(c);
    }
    if (p.contains("lora"))  // fused by the oracle as load_lora_weights + fuse_lora(lora_scale)
        q.loras = {{dataPath(p["lora"]["file"].get<std::string>()), p["lora"]["scale"].get<double>()}};
    if (p.contains("init_image")) q.init_image = ips::ImageSource{input_path("init_image"), nullptr};
    if (p.contains("strength")) q.strength = p["strength"].get<double>();
    if (p.contains("mask_image")) q.mask_image = ips::ImageSource{input_path("mask_image"), nullptr};
    if (g.hasInput("latents")) {
        q.latents_file = scratch / (g.spec["id"].get<std::string>() + ".latents.safetensors");
        ips::io::save_safetensors(q.latents_file, {{"latents", g.input("latents")}});
    }
    return q;
}

// The engine's trace and pictures against every output the case stores (and its PNGs within png_atol). Returns
// the failures, one a line ("" when all pass); with `log`, prints each measured difference and tolerance.
inline std::string compareWithGolden(const GoldenCase& g, const ips::pipeline::Trace& trace, const ips::GenerationResult& result,
                                     bool log = false) {
    std::string failures;
    const std::string id = g.spec["id"];
    auto check = [&](const std::string& name, const at::Tensor& actual) {
        if (!g.hasOutput(name)) return;
        const double diff = maxAbsDiff(actual, g.output(name)), tol = g.atol(name);
        if (log) qInfo("%s %s: max abs diff %.3g, atol %.3g", id.c_str(), name.c_str(), diff, tol);
        if (!(diff <= tol)) failures += name + ": max abs diff " + std::to_string(diff) + " > atol " + std::to_string(tol) + "\n";
    };
    check("prompt_embeds_cfg", trace.prompt_embeds);
    check("timesteps", trace.timesteps.to(g.output("timesteps").scalar_type()));
    for (std::size_t a = 0; a < trace.ip_tokens.size(); ++a) {
        const std::string name = "ip_tokens_" + std::to_string(a);
        const auto golden = g.output(name);  // [2 * images per prompt, reference images, tokens, C]: uncond then cond
        auto per = golden.sizes().vec();
        const std::int64_t copies = per[0] / 2;
        per[0] = 1;
        const auto& [uncond, cond] = trace.ip_tokens[a];
        check(name, at::cat({uncond.reshape(per).repeat({copies, 1, 1, 1}), cond.reshape(per).repeat({copies, 1, 1, 1})}));
    }
    for (std::size_t a = 0; a < trace.ip_regions.size(); ++a)
        if (trace.ip_regions[a].defined()) check("ip_mask_" + std::to_string(a), trace.ip_regions[a]);
    check("step_latents", at::stack(trace.step_latents));
    check("latents_final", trace.latents_final);
    check("decoded_sample", trace.decoded);
    check("image", trace.image);
    if (g.spec.contains("png")) {
        // The 8-bit pictures against diffusers' PNGs (round(x * 255)), within the manifest's png_atol.
        const int png_atol = g.spec["png_atol"];
        for (const auto& [name, rel] : g.spec["png"].items()) {
            const std::size_t b = std::stoul(name.substr(5));  // "image<b>"
            const auto png = ips::image::read_image_rgb(dataPath(g.folder + "/" + rel.get<std::string>()));
            if (b >= result.images.size() || result.images[b].width != png.width || result.images[b].height != png.height) {
                failures += name + ": no picture of " + std::to_string(png.width) + "x" + std::to_string(png.height) + "\n";
                continue;
            }
            int worst = 0;
            for (std::size_t i = 0; i < png.pixels.size(); ++i)
                worst = std::max(worst, std::abs(int(result.images[b].pixels[i]) - int(png.pixels[i])));
            if (log) qInfo("%s %s.png: max diff %d, png_atol %d", id.c_str(), name.c_str(), worst, png_atol);
            if (worst > png_atol) failures += name + ".png: max diff " + std::to_string(worst) + " > " + std::to_string(png_atol) + "\n";
        }
    }
    return failures;
}

}  // namespace ipstest
