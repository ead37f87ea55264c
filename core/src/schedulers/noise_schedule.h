#pragma once
// Pieces the schedulers share: beta schedules, timestep spacings, sigma interpolation and Karras sigmas,
// each computed as diffusers does (torch float32 vs numpy float64 included).
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace ips::schedulers {

// The scheduler_config.json keys the schedulers read, with a class's defaults filled in by the caller.
struct NoiseScheduleConfig {
    int num_train_timesteps = 1000;
    double beta_start = 0.0001;
    double beta_end = 0.02;
    std::string beta_schedule = "linear";
    std::vector<double> trained_betas;
    std::string prediction_type = "epsilon";
    std::string timestep_spacing = "leading";
    int steps_offset = 0;
    bool rescale_betas_zero_snr = false;
};

// Reads the common keys; `default_spacing` is the class's timestep_spacing default.
NoiseScheduleConfig read_noise_schedule(const nlohmann::json& config, const std::string& default_spacing);

// float32 [num_train_timesteps]: cumprod(1 - betas).
at::Tensor alphas_cumprod(const NoiseScheduleConfig& config);

// numpy-style timestep spacings as float64 values, descending. "linspace": linspace(0, last, n) (not
// rounded: callers round where diffusers does); "leading": arange(n) * (N // n) + steps_offset;
// "trailing": round(arange(N, 0, -N / n)) - 1.
std::vector<double> spaced_timesteps(const NoiseScheduleConfig& config, int n, bool round_linspace);

// "trailing": round(numpy.arange(start, 0, -N / n)) - 1, with numpy's length and values.
std::vector<double> trailing_timesteps(int start, int num_train_timesteps, int n);

// np.interp(x, arange(len(fp)), fp) in float64.
std::vector<double> interp_on_index(const std::vector<double>& x, const std::vector<double>& fp);

// sqrt((1 - ac) / ac) computed in float32 (torch), returned as float64 values of those float32 numbers.
std::vector<double> train_sigmas(const at::Tensor& alphas_cumprod);

// diffusers' _convert_to_karras (rho 7) from in_sigmas[-1] (min) to in_sigmas[0] (max).
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n);

// diffusers' _sigma_to_t: fractional timestep of `sigma` by log-linear interpolation; `log_sigmas` are
// np.log of the float32 train sigmas (float32 values).
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);

// A 0-dim float32 tensor.
inline at::Tensor scalar(double v) { return at::scalar_tensor(v, at::kFloat); }

}  // namespace ips::schedulers
