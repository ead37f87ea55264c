#pragma once
// Picture operations the UI shows live: what the image encoder will see of a reference, and an edge
// map for a ControlNet. They use the engine's own resampling so the preview matches the generation.
#include "ips/image.h"
#include "ips/image_prompt.h"

namespace ips {

// The square RGB picture the CLIP image encoder receives for `rgb` under `mode` (CLIPImageProcessor
// with shortest_edge = crop = `size`, the default of every IP-Adapter encoder being 224).
Image reference_encoder_view(const Image& rgb, CropMode mode, int size = 224);

// Canny edges (OpenCV, L1 gradient as cv2.Canny's default) as a 3-channel white-on-black map, the
// form the canny ControlNets were trained on. Thresholds are on the 0-255 gradient scale.
Image canny_edge_map(const Image& rgb, double low_threshold, double high_threshold);

}  // namespace ips
