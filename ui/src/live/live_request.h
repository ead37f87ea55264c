#pragma once
// Live mode's request: the window's request turned into a fast one (few-step sampler, smaller size, a fixed
// seed, img2img at the live strength), so a picture follows each edit within seconds.
#include <QList>
#include <QString>

#include "ips/generation.h"

namespace ipsui {

// A sampler setting Live can run: the speed LoRA it is made for is the user's to add (the LoRA panel).
struct LivePreset {
    QString id;     // stored in the settings
    QString label;  // shown in the Live bar (short: the row fits a 1280-pixel window)
    QString tooltip;
    std::string scheduler, spacing;
    int steps = 4;
    double guidance = 1.0;
};
// LCM 4 steps guidance 1 (LCM-LoRA), Hyper-SD 8 steps CFG (Krita's "Realtime"), TCD 4 steps guidance 0, and
// "own": the window's sampler, steps and guidance as they are.
const QList<LivePreset>& livePresets();
const LivePreset* findLivePreset(const QString& id);

struct LiveSettings {
    QString preset = QStringLiteral("lcm4");
    int size = 384;          // the longer side of a live frame; 0 = the window's output size
    double strength = 0.3;   // img2img from the init image (Krita's live default); inpainting keeps the window's
    bool deepCache = false;  // DeepCache interval 2 on top of the sampler
    bool tinyFrames = true;  // frames decoded by the TAESD preview decoder when one is installed (Keep uses the VAE)
};

// `full` (as the window would run it) made live: the preset's sampler, the frame size keeping the aspect ratio
// (multiples of 8, at least 64), `seed`, the live strength when there is an init image without a mask, and the
// TAESD decode when `full` has a preview decoder and the settings want it.
ips::GenerationRequest liveRequest(const ips::GenerationRequest& full, const LiveSettings& settings, std::uint64_t seed);

}  // namespace ipsui
