#include "schedulers/noise_schedule.h"

#include <cmath>

#include "ips/errors.h"

namespace ips::schedulers {

NoiseScheduleConfig read_noise_schedule(const nlohmann::json& j, const std::string& default_spacing) {
    NoiseScheduleConfig c;
    try {
        c.num_train_timesteps = j.value("num_train_timesteps", 1000);
        c.beta_start = j.value("beta_start", 0.0001);
        c.beta_end = j.value("beta_end", 0.02);
        c.beta_schedule = j.value("beta_schedule", std::string("linear"));
        if (j.contains("trained_betas") && !j.at("trained_betas").is_null())
            c.trained_betas = j.at("trained_betas").get<std::vector<double>>();
        c.prediction_type = j.value("prediction_type", std::string("epsilon"));
        c.timestep_spacing = j.contains("timestep_spacing") && !j.at("timestep_spacing").is_null()
                                 ? j.at("timestep_spacing").get<std::string>()
                                 : default_spacing;
        c.steps_offset = j.value("steps_offset", 0);
        c.rescale_betas_zero_snr = j.value("rescale_betas_zero_snr", false);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(std::string("scheduler config: unexpected value (") + e.what() + ")");
    }
    if (c.num_train_timesteps < 2) throw InputError("scheduler config: num_train_timesteps must be at least 2");
    if (c.prediction_type != "epsilon" && c.prediction_type != "v_prediction" && c.prediction_type != "sample")
        throw InputError("scheduler config: prediction_type '" + c.prediction_type + "' is not supported");
    if (c.timestep_spacing != "linspace" && c.timestep_spacing != "leading" && c.timestep_spacing != "trailing")
        throw InputError("scheduler config: timestep_spacing '" + c.timestep_spacing + "' is not supported");
    return c;
}

at::Tensor alphas_cumprod(const NoiseScheduleConfig& c) {
    at::Tensor betas;
    const auto n = c.num_train_timesteps;
    if (!c.trained_betas.empty()) {
        betas = at::tensor(c.trained_betas, at::kDouble).to(at::kFloat);
    } else if (c.beta_schedule == "linear") {
        betas = at::linspace(c.beta_start, c.beta_end, n, at::kFloat);
    } else if (c.beta_schedule == "scaled_linear") {
        betas = at::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end), n, at::kFloat).pow(2);
    } else if (c.beta_schedule == "squaredcos_cap_v2") {
        // betas_for_alpha_bar with the cosine alpha_bar, max beta 0.999 (float64, then float32).
        std::vector<double> b;
        auto alpha_bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
        for (int i = 0; i < n; ++i)
            b.push_back(std::min(1 - alpha_bar(double(i + 1) / n) / alpha_bar(double(i) / n), 0.999));
        betas = at::tensor(b, at::kDouble).to(at::kFloat);
    } else {
        throw InputError("scheduler config: beta_schedule '" + c.beta_schedule + "' is not supported");
    }
    if (c.rescale_betas_zero_snr) {
        // diffusers' rescale_zero_terminal_snr: the last step reaches zero signal.
        at::Tensor sqrt_bar = at::cumprod(1 - betas, 0).sqrt();
        const at::Tensor first = sqrt_bar[0].clone(), last = sqrt_bar[-1].clone();
        sqrt_bar = (sqrt_bar - last) * (first / (first - last));
        const at::Tensor bar = sqrt_bar.pow(2);
        const at::Tensor alphas = at::cat({bar.narrow(0, 0, 1), bar.narrow(0, 1, n - 1) / bar.narrow(0, 0, n - 1)});
        betas = 1 - alphas;
    }
    at::Tensor ac = at::cumprod(1 - betas, 0);
    if (c.rescale_betas_zero_snr) ac[-1] = std::pow(2.0, -24);  // as diffusers, to keep sigmas finite
    return ac;
}

std::vector<double> spaced_timesteps(const NoiseScheduleConfig& c, int n, bool round_linspace) {
    const int N = c.num_train_timesteps;
    std::vector<double> t;
    if (c.timestep_spacing == "linspace") {
        const double step = n > 1 ? static_cast<double>(N - 1) / (n - 1) : 0.0;
        for (int i = 0; i < n; ++i) t.push_back(i == n - 1 && n > 1 ? N - 1.0 : i * step);
        if (round_linspace)
            for (double& v : t) v = std::nearbyint(v);
    } else if (c.timestep_spacing == "leading") {
        const int ratio = N / n;
        for (int i = 0; i < n; ++i) t.push_back(static_cast<double>(i) * ratio + c.steps_offset);
    } else {
        t = trailing_timesteps(N, N, n);
    }
    if (c.timestep_spacing != "trailing") std::reverse(t.begin(), t.end());
    return t;
}

std::vector<double> trailing_timesteps(int start, int num_train_timesteps, int n) {
    // numpy.arange(start, 0, -N / n): length ceil((0 - start) / step), values start + i * step.
    const double step = -static_cast<double>(num_train_timesteps) / n;
    const auto length = static_cast<std::int64_t>(std::ceil((0.0 - start) / step));
    std::vector<double> t;
    for (std::int64_t i = 0; i < length; ++i) t.push_back(std::nearbyint(start + static_cast<double>(i) * step) - 1);
    return t;
}

std::vector<double> interp_on_index(const std::vector<double>& x, const std::vector<double>& fp) {
    std::vector<double> out;
    const auto last = static_cast<double>(fp.size() - 1);
    for (double v : x) {
        if (v <= 0) out.push_back(fp.front());
        else if (v >= last) out.push_back(fp.back());
        else {
            const auto j = static_cast<std::size_t>(std::floor(v));
            const double slope = (fp[j + 1] - fp[j]) / 1.0;
            out.push_back(slope * (v - static_cast<double>(j)) + fp[j]);
        }
    }
    return out;
}

std::vector<double> train_sigmas(const at::Tensor& ac) {
    const at::Tensor s = ((1 - ac) / ac).pow(0.5).contiguous();
    const float* p = s.data_ptr<float>();
    return std::vector<double>(p, p + s.numel());
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n) {
    constexpr double rho = 7.0;
    const double min_inv = std::pow(sigma_min, 1 / rho), max_inv = std::pow(sigma_max, 1 / rho);
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        const double ramp = n > 1 ? (i == n - 1 ? 1.0 : i * (1.0 / (n - 1))) : 0.0;
        out.push_back(std::pow(max_inv + ramp * (min_inv - max_inv), rho));
    }
    return out;
}

double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
    const double log_sigma = std::log(std::max(sigma, 1e-10));
    // Last index whose log sigma is <= log_sigma (0 when none), at most size - 2.
    std::size_t low = 0;
    for (std::size_t i = 0; i < log_sigmas.size(); ++i)
        if (log_sigma - static_cast<double>(log_sigmas[i]) >= 0) low = i;
    low = std::min(low, log_sigmas.size() - 2);
    const float lo = log_sigmas[low], hi = log_sigmas[low + 1];
    double w = (static_cast<double>(lo) - log_sigma) / static_cast<double>(lo - hi);
    w = std::clamp(w, 0.0, 1.0);
    return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

}  // namespace ips::schedulers
