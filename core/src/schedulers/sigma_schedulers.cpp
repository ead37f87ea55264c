// Euler, Euler ancestral and LMS: schedulers on the sigma (noise level) scale, as k-diffusion.
#include <cmath>
#include <deque>

#include "ips/errors.h"
#include "schedulers/factories.h"
#include "schedulers/noise_schedule.h"

namespace ips::schedulers {
namespace {

class SigmaScheduler : public Scheduler {
public:
    SigmaScheduler(const nlohmann::json& j, bool float32_timesteps, bool karras_option)
        : config_(read_noise_schedule(j, "linspace")), float32_timesteps_(float32_timesteps) {
        alphas_cumprod_ = schedulers::alphas_cumprod(config_);
        // EulerAncestralDiscreteScheduler has no use_karras_sigmas: from_config ignores the key there.
        use_karras_ = karras_option && j.value("use_karras_sigmas", false);
        if (j.contains("interpolation_type") && j.at("interpolation_type") != "linear")
            throw InputError("scheduler config: interpolation_type " + j.at("interpolation_type").dump() + " is not supported");
        final_sigma_min_ = j.value("final_sigmas_type", std::string("zero")) == "sigma_min";
    }

    void set_timesteps(int n) override {
        // Timesteps as numpy gives them: float32 for Euler, float64 for LMS (interpolated before rounding).
        std::vector<double> t = spaced_timesteps(config_, n, false);
        if (float32_timesteps_)
            for (double& v : t) v = static_cast<float>(v);
        const auto train = train_sigmas(alphas_cumprod_);
        std::vector<double> s = interp_on_index(t, train);
        if (use_karras_) {
            std::vector<float> log_sigmas;
            for (double v : train) log_sigmas.push_back(std::log(static_cast<float>(v)));
            s = karras_sigmas(static_cast<float>(s.back()), static_cast<float>(s.front()), n);
            t.clear();
            for (double v : s) t.push_back(static_cast<float>(sigma_to_t(v, log_sigmas)));
        }
        s.push_back(final_sigma_min_ ? train.front() : 0.0);
        std::vector<float> s32(s.begin(), s.end());
        sigmas_ = at::tensor(s32, at::kFloat);
        std::vector<float> t32(t.begin(), t.end());
        timesteps_ = at::tensor(t32, at::kFloat);
        reset();
    }

    at::Tensor init_noise_sigma() const override {
        const at::Tensor max = sigmas_.max();
        if (config_.timestep_spacing == "linspace" || config_.timestep_spacing == "trailing") return max;
        return (max.pow(2) + 1).pow(0.5);
    }
    at::Tensor scale_model_input(const at::Tensor& sample, std::size_t index) override {
        const at::Tensor sigma = sigmas_[static_cast<std::int64_t>(index)];
        return sample / (sigma.pow(2) + 1).pow(0.5);
    }
    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, std::size_t index) const override {
        return original + noise * sigmas_[static_cast<std::int64_t>(index)].to(original.scalar_type());
    }
    at::Tensor sigmas() const override { return sigmas_; }

protected:
    virtual void reset() {}
    at::Tensor predict_x0(const at::Tensor& model_output, const at::Tensor& sample, const at::Tensor& sigma) const {
        if (config_.prediction_type == "epsilon") return sample - sigma * model_output;
        if (config_.prediction_type == "sample") return model_output;
        return model_output * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + (sample / (sigma.pow(2) + 1));
    }

    NoiseScheduleConfig config_;
    bool float32_timesteps_ = true;
    bool use_karras_ = false;
    bool final_sigma_min_ = false;
    at::Tensor sigmas_;
};

class EulerScheduler : public SigmaScheduler {
public:
    explicit EulerScheduler(const nlohmann::json& j) : SigmaScheduler(j, true, true) {}
    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample_in,
                    c10::optional<at::Generator>) override {
        // s_churn = 0: sigma_hat = sigma, no noise is added (diffusers still draws and discards one).
        const at::Tensor sample = sample_in.to(at::kFloat);
        const at::Tensor sigma = sigmas_[static_cast<std::int64_t>(index)];
        const at::Tensor sigma_hat = sigma * 1.0;
        const at::Tensor x0 = predict_x0(model_output, sample, sigma_hat);
        const at::Tensor derivative = (sample - x0) / sigma_hat;
        const at::Tensor dt = sigmas_[static_cast<std::int64_t>(index) + 1] - sigma_hat;
        return {(sample + derivative * dt).to(model_output.scalar_type()), x0};
    }
};

class EulerAncestralScheduler : public SigmaScheduler {
public:
    explicit EulerAncestralScheduler(const nlohmann::json& j) : SigmaScheduler(j, true, false) {}
    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample_in,
                    c10::optional<at::Generator> generator) override {
        const at::Tensor sample = sample_in.to(at::kFloat);
        const auto i = static_cast<std::int64_t>(index);
        const at::Tensor sigma = sigmas_[i];
        const at::Tensor x0 = predict_x0(model_output, sample, sigma);
        const at::Tensor from = sigmas_[i], to = sigmas_[i + 1];
        const at::Tensor up = (to.pow(2) * (from.pow(2) - to.pow(2)) / from.pow(2)).pow(0.5);
        const at::Tensor down = (to.pow(2) - up.pow(2)).pow(0.5);
        const at::Tensor derivative = (sample - x0) / sigma;
        at::Tensor prev = sample + derivative * (down - sigma);
        const at::Tensor noise = at::randn(model_output.sizes(), generator, model_output.options());
        prev = prev + noise * up;
        return {prev.to(model_output.scalar_type()), x0};
    }
};

// Linear multistep: integrates the Lagrange polynomial through the last (up to 4) derivatives.
class LMSScheduler : public SigmaScheduler {
public:
    explicit LMSScheduler(const nlohmann::json& j) : SigmaScheduler(j, false, true) {}
    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample,
                    c10::optional<at::Generator>) override {
        constexpr int kOrder = 4;
        const auto i = static_cast<std::int64_t>(index);
        const at::Tensor sigma = sigmas_[i];
        const at::Tensor x0 = predict_x0(model_output, sample, sigma);
        derivatives_.push_back((sample - x0) / sigma);
        if (derivatives_.size() > kOrder) derivatives_.pop_front();
        const int order = std::min<int>(static_cast<int>(index) + 1, kOrder);
        at::Tensor prev = sample;
        // As diffusers' zip(coefficients, reversed(derivatives)): after a late start (img2img) fewer
        // derivatives than the order exist yet.
        const int available = std::min<int>(order, static_cast<int>(derivatives_.size()));
        for (int k = 0; k < available; ++k)
            prev = prev + coefficient(order, i, k) * derivatives_[derivatives_.size() - 1 - k];
        return {prev, x0};
    }

private:
    void reset() override { derivatives_.clear(); }
    // ∫ from sigma[t] to sigma[t+1] of the Lagrange basis polynomial for the point t - current.
    // The integrand is a polynomial of degree < 4: 8-point Gauss-Legendre is exact (diffusers uses
    // scipy's quad, which agrees to rounding).
    double coefficient(int order, std::int64_t t, int current) const {
        auto s = [&](std::int64_t k) { return static_cast<double>(sigmas_[k].item<float>()); };
        auto basis = [&](double tau) {
            double prod = 1.0;
            for (int k = 0; k < order; ++k) {
                if (k == current) continue;
                prod *= (tau - s(t - k)) / (s(t - current) - s(t - k));
            }
            return prod;
        };
        static const double x[4] = {0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363};
        static const double w[4] = {0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};
        const double a = s(t), b = s(t + 1), half = (b - a) / 2, mid = (a + b) / 2;
        double sum = 0;
        for (int k = 0; k < 4; ++k) sum += w[k] * (basis(mid - half * x[k]) + basis(mid + half * x[k]));
        return sum * half;
    }
    std::deque<at::Tensor> derivatives_;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const nlohmann::json& config, bool ancestral) {
    if (ancestral) return std::make_unique<EulerAncestralScheduler>(config);
    return std::make_unique<EulerScheduler>(config);
}
std::unique_ptr<Scheduler> make_lms(const nlohmann::json& config) { return std::make_unique<LMSScheduler>(config); }

}  // namespace ips::schedulers
