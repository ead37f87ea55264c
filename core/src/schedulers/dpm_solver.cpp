// DPMSolverMultistepScheduler with algorithm dpmsolver++ (DPM++ 2M), optionally on Karras sigmas.
#include <array>
#include <cmath>

#include "ips/errors.h"
#include "schedulers/factories.h"
#include "schedulers/noise_schedule.h"

namespace ips::schedulers {
namespace {

class DPMSolverMultistepScheduler : public Scheduler {
public:
    DPMSolverMultistepScheduler(const nlohmann::json& j, bool karras) : config_(read_noise_schedule(j, "linspace")) {
        alphas_cumprod_ = schedulers::alphas_cumprod(config_);
        use_karras_ = karras || j.value("use_karras_sigmas", false);
        lower_order_final_ = j.value("lower_order_final", true);
        euler_at_final_ = j.value("euler_at_final", false);
        final_sigma_min_ = j.value("final_sigmas_type", std::string("zero")) == "sigma_min";
        const std::string solver = j.value("solver_type", std::string("midpoint"));
        if (solver != "midpoint" && solver != "heun") throw InputError("scheduler config: solver_type '" + solver + "' is not supported");
        heun_ = solver == "heun";
        if (j.value("thresholding", false)) throw InputError("scheduler config: DPM-Solver thresholding is not supported");
        if (j.value("use_lu_lambdas", false)) throw InputError("scheduler config: use_lu_lambdas is not supported");
    }

    void set_timesteps(int n) override {
        // lambda_min_clipped is -inf for SD: no clipping, last_timestep = num_train_timesteps.
        const int last = config_.num_train_timesteps;
        std::vector<double> t;
        if (config_.timestep_spacing == "linspace") {
            const double step = static_cast<double>(last - 1) / n;
            for (int i = n; i >= 1; --i) t.push_back(std::nearbyint(i == n ? last - 1.0 : i * step));
        } else if (config_.timestep_spacing == "leading") {
            const int ratio = last / (n + 1);
            for (int i = n; i >= 1; --i) t.push_back(static_cast<double>(i) * ratio + config_.steps_offset);
        } else {
            t = trailing_timesteps(last, config_.num_train_timesteps, n);
        }
        const auto train = train_sigmas(alphas_cumprod_);
        std::vector<double> s;
        if (use_karras_) {
            std::vector<float> log_sigmas;
            for (double v : train) log_sigmas.push_back(std::log(static_cast<float>(v)));
            s = karras_sigmas(static_cast<float>(train.front()), static_cast<float>(train.back()), n);
            t.clear();
            for (double v : s) t.push_back(std::nearbyint(sigma_to_t(v, log_sigmas)));
        } else {
            s = interp_on_index(t, train);
        }
        s.push_back(final_sigma_min_ ? train.front() : 0.0);
        std::vector<float> s32(s.begin(), s.end());
        sigmas_ = at::tensor(s32, at::kFloat);
        timesteps_ = at::tensor(t, at::kDouble).to(at::kLong);
        set_begin_index(0);
    }
    void set_begin_index(std::size_t) override {
        model_outputs_ = {};
        lower_order_nums_ = 0;
    }

    at::Tensor init_noise_sigma() const override { return scalar(1.0); }
    at::Tensor sigmas() const override { return sigmas_; }

    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, std::size_t index) const override {
        const auto [alpha, sigma] = alpha_sigma(sigmas_[static_cast<std::int64_t>(index)].to(original.scalar_type()));
        return alpha * original + sigma * noise;
    }

    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample_in,
                    c10::optional<at::Generator>) override {
        const auto i = static_cast<std::int64_t>(index);
        const std::int64_t steps = timesteps_.size(0);
        const bool final_step = i == steps - 1 && (euler_at_final_ || (lower_order_final_ && steps < 15) || !final_sigma_min_);
        const bool second_last = i == steps - 2 && lower_order_final_ && steps < 15;

        const auto [alpha_s0, sigma_s0] = alpha_sigma(sigmas_[i]);
        at::Tensor x0;
        if (config_.prediction_type == "epsilon") x0 = (sample_in - sigma_s0 * model_output) / alpha_s0;
        else if (config_.prediction_type == "sample") x0 = model_output;
        else x0 = alpha_s0 * sample_in - sigma_s0 * model_output;
        model_outputs_[0] = model_outputs_[1];
        model_outputs_[1] = x0;

        const at::Tensor sample = sample_in.to(at::kFloat);
        at::Tensor prev;
        const auto [alpha_t, sigma_t] = alpha_sigma(sigmas_[i + 1]);
        const at::Tensor lambda_t = at::log(alpha_t) - at::log(sigma_t);
        const at::Tensor lambda_s0 = at::log(alpha_s0) - at::log(sigma_s0);
        const at::Tensor h = lambda_t - lambda_s0;
        if (lower_order_nums_ < 1 || final_step) {
            prev = (sigma_t / sigma_s0) * sample - (alpha_t * (at::exp(-h) - 1.0)) * x0;
        } else {
            (void)second_last;  // order 2 is the highest used: second-to-last steps are second order anyway
            const auto [alpha_s1, sigma_s1] = alpha_sigma(sigmas_[i - 1]);
            const at::Tensor lambda_s1 = at::log(alpha_s1) - at::log(sigma_s1);
            const at::Tensor r0 = (lambda_s0 - lambda_s1) / h;
            const at::Tensor& m0 = model_outputs_[1];
            const at::Tensor& m1 = model_outputs_[0];
            const at::Tensor d0 = m0, d1 = (1.0 / r0) * (m0 - m1);
            if (heun_)
                prev = (sigma_t / sigma_s0) * sample - (alpha_t * (at::exp(-h) - 1.0)) * d0 +
                       (alpha_t * ((at::exp(-h) - 1.0) / h + 1.0)) * d1;
            else
                prev = (sigma_t / sigma_s0) * sample - (alpha_t * (at::exp(-h) - 1.0)) * d0 -
                       0.5 * (alpha_t * (at::exp(-h) - 1.0)) * d1;
        }
        if (lower_order_nums_ < 2) ++lower_order_nums_;
        return {prev.to(model_output.scalar_type()), x0};
    }

private:
    static std::pair<at::Tensor, at::Tensor> alpha_sigma(const at::Tensor& sigma) {
        const at::Tensor alpha = 1 / (sigma.pow(2) + 1).pow(0.5);
        return {alpha, sigma * alpha};
    }

    NoiseScheduleConfig config_;
    bool use_karras_ = false, lower_order_final_ = true, euler_at_final_ = false, final_sigma_min_ = false, heun_ = false;
    at::Tensor sigmas_;
    std::array<at::Tensor, 2> model_outputs_;
    int lower_order_nums_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_dpm_solver(const nlohmann::json& config, bool karras) {
    return std::make_unique<DPMSolverMultistepScheduler>(config, karras);
}

}  // namespace ips::schedulers
