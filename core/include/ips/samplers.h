#pragma once
// The samplers (diffusers schedulers) a request can name, with the labels other tools show for them.
#include <string>
#include <vector>

namespace ips {

struct SamplerChoice {
    std::string id;     // the request's "scheduler" value
    std::string label;  // A1111's name, used in PNG parameters and menus
};

const std::vector<SamplerChoice>& sampler_choices();

}  // namespace ips
