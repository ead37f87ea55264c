#include "schedulers/scheduler.h"

#include <algorithm>

#include "ips/errors.h"
#include "ips/samplers.h"
#include "schedulers/factories.h"

namespace ips::schedulers {

namespace {

std::string joined(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

std::unique_ptr<Scheduler> make_scheduler_unchecked(const std::string& name, const nlohmann::json& config_in,
                                                    const SchedulerOptions& options) {
    const auto names = scheduler_names();
    if (std::find(names.begin(), names.end(), name) == names.end())
        throw InputError("unknown scheduler '" + name + "' (expected one of " + joined(names) + ")");
    const double eta = options.eta;
    if (eta != 0.0 && name != "ddim" && name != "tcd") throw InputError("eta applies to the ddim and tcd schedulers only");
    nlohmann::json config = config_in;
    if (!options.timestep_spacing.empty()) {
        const auto& s = options.timestep_spacing;
        if (s != "linspace" && s != "leading" && s != "trailing")
            throw InputError("timestep_spacing '" + s + "' is not supported (expected linspace, leading or trailing)");
        if (name == "lcm" || name == "tcd")
            throw InputError("timestep_spacing does not apply to the " + name +
                             " scheduler (its timesteps come from original_inference_steps)");
        config["timestep_spacing"] = s;  // from_config(config, timestep_spacing=s)
    }
    if (name == "ddim") return make_ddim(config, eta);
    if (name == "pndm") return make_pndm(config);
    if (name == "euler") return make_euler(config, false);
    if (name == "euler_a") return make_euler(config, true);
    if (name == "dpmpp_2m") return make_dpm_solver(config, false);
    if (name == "dpmpp_2m_karras") return make_dpm_solver(config, true);
    if (name == "lms") return make_lms(config);
    if (name == "lcm") return make_lcm(config);
    if (name == "tcd") return make_tcd(config, eta);
    throw InputError("unknown scheduler '" + name + "' (expected one of " + joined(names) + ")");
}

}  // namespace

void Scheduler::set_timesteps_with_strength(int num_inference_steps, double strength) {
    (void)num_inference_steps;
    (void)strength;
    throw InputError("set_timesteps with a strength applies to the lcm and tcd schedulers only (the others start late instead)");
}

std::vector<std::string> scheduler_names() {
    std::vector<std::string> names;
    for (const auto& choice : sampler_choices()) names.push_back(choice.id);
    return names;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config, const SchedulerOptions& options) {
    try {
        return make_scheduler_unchecked(name, config, options);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(std::string("scheduler config: a value has the wrong type (") + e.what() + ")");
    }
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config, double eta) {
    SchedulerOptions options;
    options.eta = eta;
    return make_scheduler(name, config, options);
}

}  // namespace ips::schedulers
