#include "schedulers/scheduler.h"

#include "ips/errors.h"
#include "ips/samplers.h"
#include "schedulers/factories.h"

namespace ips::schedulers {

std::unique_ptr<Scheduler> make_scheduler_unchecked(const std::string& name, const nlohmann::json& config, double eta);

std::vector<std::string> scheduler_names() {
    std::vector<std::string> names;
    for (const auto& choice : sampler_choices()) names.push_back(choice.id);
    return names;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config, double eta) {
    try {
        return make_scheduler_unchecked(name, config, eta);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(std::string("scheduler config: a value has the wrong type (") + e.what() + ")");
    }
}

std::unique_ptr<Scheduler> make_scheduler_unchecked(const std::string& name, const nlohmann::json& config, double eta) {
    if (eta != 0.0 && name != "ddim") throw InputError("eta applies to the ddim scheduler only");
    if (name == "ddim") return make_ddim(config, eta);
    if (name == "pndm") return make_pndm(config);
    if (name == "euler") return make_euler(config, false);
    if (name == "euler_a") return make_euler(config, true);
    if (name == "dpmpp_2m") return make_dpm_solver(config, false);
    if (name == "dpmpp_2m_karras") return make_dpm_solver(config, true);
    if (name == "lms") return make_lms(config);
    std::string known;
    for (const auto& n : scheduler_names()) known += (known.empty() ? "" : ", ") + n;
    throw InputError("unknown scheduler '" + name + "' (expected one of " + known + ")");
}

}  // namespace ips::schedulers
