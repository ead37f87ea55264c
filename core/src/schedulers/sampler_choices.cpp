#include "ips/samplers.h"

namespace ips {

const std::vector<SamplerChoice>& sampler_choices() {
    static const std::vector<SamplerChoice> choices{
        {"ddim", "DDIM"},         {"pndm", "PLMS"},
        {"euler", "Euler"},       {"euler_a", "Euler a"},
        {"dpmpp_2m", "DPM++ 2M"}, {"dpmpp_2m_karras", "DPM++ 2M Karras"},
        {"lms", "LMS"},           {"lcm", "LCM"},
        {"tcd", "TCD"},
    };
    return choices;
}

}  // namespace ips
