#include "live_request.h"

#include <algorithm>
#include <cmath>

namespace ipsui {

const QList<LivePreset>& livePresets() {
    static const QList<LivePreset> presets{
        {QStringLiteral("lcm4"), QStringLiteral("LCM 4"), QStringLiteral("LCM, 4 steps, guidance 1 (for LCM-LoRA)"), "lcm", "", 4, 1.0},
        {QStringLiteral("lcm2"), QStringLiteral("LCM 2"), QStringLiteral("LCM, 2 steps, guidance 1 (for LCM-LoRA)"), "lcm", "", 2, 1.0},
        {QStringLiteral("hyper8cfg"), QStringLiteral("Hyper-SD 8"),
         QStringLiteral("Euler with trailing timesteps, 8 steps, guidance 3.5 (for Hyper-SD15 8-step CFG)"), "euler", "trailing", 8, 3.5},
        {QStringLiteral("tcd4"), QStringLiteral("TCD 4"), QStringLiteral("TCD, 4 steps, guidance 0, gamma 0.3 (for TCD-SD15)"), "tcd", "", 4, 0.0},
        {QStringLiteral("own"), QStringLiteral("Own"), QStringLiteral("The window's sampler, steps and guidance"), "", "", 0, 0.0},
    };
    return presets;
}

const LivePreset* findLivePreset(const QString& id) {
    for (const auto& p : livePresets())
        if (p.id == id) return &p;
    return nullptr;
}

namespace {
int multipleOf8(double value) { return std::max(64, static_cast<int>(std::lround(value / 8.0)) * 8); }
}  // namespace

ips::GenerationRequest liveRequest(const ips::GenerationRequest& full, const LiveSettings& settings, std::uint64_t seed) {
    ips::GenerationRequest q = full;
    q.seed = seed;
    q.num_images_per_prompt = 1;
    const LivePreset* preset = findLivePreset(settings.preset);
    if (preset && !preset->scheduler.empty()) {
        q.scheduler = preset->scheduler;
        q.timestep_spacing = preset->spacing;
        q.num_inference_steps = preset->steps;
        q.guidance_scale = preset->guidance;
        q.eta = preset->scheduler == "tcd" ? 0.3 : 0.0;  // TCD's gamma; the others take none
    }
    const int longer = std::max(full.width, full.height);
    if (settings.size > 0 && longer > settings.size) {
        const double scale = double(settings.size) / longer;
        q.width = multipleOf8(full.width * scale);
        q.height = multipleOf8(full.height * scale);
    }
    if (q.init_image && !q.mask_image) q.strength = settings.strength;
    // A strength too low for the steps would run none: at least one step always runs; LCM and TCD pick their
    // steps among original_inference_steps (50) x strength timesteps, so they need at least steps / 50.
    if (q.init_image && q.strength) {
        const bool consistency = q.scheduler == "lcm" || q.scheduler == "tcd";
        const double lowest = consistency ? q.num_inference_steps / 50.0 : 1.0 / q.num_inference_steps;
        q.strength = std::min(1.0, std::max(*q.strength, lowest));
    }
    q.draft_decode = settings.tinyFrames && !q.preview_decoder.empty();
    q.deep_cache.reset();
    if (settings.deepCache && q.num_inference_steps >= 2) q.deep_cache = ips::DeepCacheSettings{2, 0};
    return q;
}

}  // namespace ipsui
