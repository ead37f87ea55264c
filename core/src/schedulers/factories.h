#pragma once
// Constructors of the concrete schedulers (one file per family), used by make_scheduler.
#include "schedulers/scheduler.h"

namespace ips::schedulers {

std::unique_ptr<Scheduler> make_ddim(const nlohmann::json& config, double eta);
std::unique_ptr<Scheduler> make_pndm(const nlohmann::json& config);
std::unique_ptr<Scheduler> make_euler(const nlohmann::json& config, bool ancestral);
std::unique_ptr<Scheduler> make_lms(const nlohmann::json& config);
std::unique_ptr<Scheduler> make_dpm_solver(const nlohmann::json& config, bool karras);
std::unique_ptr<Scheduler> make_lcm(const nlohmann::json& config);
std::unique_ptr<Scheduler> make_tcd(const nlohmann::json& config, double eta);

}  // namespace ips::schedulers
