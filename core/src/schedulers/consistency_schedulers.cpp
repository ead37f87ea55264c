// Mirrors diffusers 0.30 LCMScheduler and TCDScheduler: few-step samplers for consistency-distilled
// models (LCM, LCM-LoRA, TCD, Hyper-SD). Both take their timesteps from an "origin" schedule of
// original_inference_steps training timesteps (k - 1, 2k - 1, ..., k = num_train_timesteps /
// original), optionally cut to its first `strength` part (their img2img), then n of them evenly
// spaced by index.
#include <cmath>

#include "ips/errors.h"
#include "schedulers/factories.h"
#include "schedulers/noise_schedule.h"

namespace ips::schedulers {
namespace {

// The __init__ defaults of both classes (they differ from DDIM's: scaled_linear 0.00085..0.012);
// the model's config overrides them key by key, as from_config does.
nlohmann::json with_class_defaults(const nlohmann::json& config) {
    nlohmann::json j = {{"num_train_timesteps", 1000},
                        {"beta_start", 0.00085},
                        {"beta_end", 0.012},
                        {"beta_schedule", "scaled_linear"},
                        {"original_inference_steps", 50},
                        {"clip_sample", false},
                        {"clip_sample_range", 1.0},
                        {"set_alpha_to_one", true},
                        {"steps_offset", 0},
                        {"prediction_type", "epsilon"},
                        {"thresholding", false},
                        {"timestep_spacing", "leading"},
                        {"timestep_scaling", 10.0},
                        {"rescale_betas_zero_snr", false}};
    if (config.is_object())
        for (const auto& [key, value] : config.items())
            if (!value.is_null() || key == "trained_betas") j[key] = value;
    return j;
}

class ConsistencyScheduler : public Scheduler {
public:
    ConsistencyScheduler(const nlohmann::json& config, std::string name)
        : config_(read_noise_schedule(with_class_defaults(config), "leading")),
          name_(std::move(name)) {
        const nlohmann::json j = with_class_defaults(config);
        alphas_cumprod_ = schedulers::alphas_cumprod(config_);
        const auto& original = j.at("original_inference_steps");
        if (!original.is_number_integer() || original.get<std::int64_t>() < 1)
            throw InputError(
                "scheduler config: original_inference_steps must be a positive integer (got " +
                original.dump() + ")");
        original_steps_ = original.get<int>();
        clip_sample_ = j.at("clip_sample").get<bool>();
        clip_sample_range_ = j.at("clip_sample_range").get<double>();
        final_alpha_cumprod_ =
            j.at("set_alpha_to_one").get<bool>() ? scalar(1.0) : alphas_cumprod_[0];
        timestep_scaling_ = j.at("timestep_scaling").get<double>();
        if (j.at("thresholding").get<bool>())
            throw InputError("scheduler config: " + name_ + " thresholding is not supported");
    }

    void set_timesteps(int n) override { set_timesteps_with_strength(n, 1.0); }

    // diffusers' set_timesteps(num_inference_steps, strength=strength) without custom timesteps.
    void set_timesteps_with_strength(int n, double strength) override {
        const int N = config_.num_train_timesteps;
        const std::string where = name_ + " scheduler: ";
        if (original_steps_ > N)
            throw InputError(where + "original_inference_steps " + std::to_string(original_steps_) +
                             " cannot exceed num_train_timesteps " + std::to_string(N));
        if (!(strength > 0.0 && strength <= 1.0))
            throw InputError(where + "strength must be in (0, 1] (got " + std::to_string(strength) +
                             ")");
        if (n < 1 || n > N)
            throw InputError(where + "num_inference_steps must be between 1 and " +
                             std::to_string(N) + " (got " + std::to_string(n) + ")");
        const int k = N / original_steps_;
        const auto count = static_cast<std::int64_t>(original_steps_ *
                                                     strength);  // int(original_steps * strength)
        if (count / n < 1) {
            if (strength == 1.0)
                throw InputError(where + "num_inference_steps " + std::to_string(n) +
                                 " cannot exceed original_inference_steps " +
                                 std::to_string(original_steps_) +
                                 " (the steps are a subset of that schedule)");
            throw InputError(where + "num_inference_steps " + std::to_string(n) +
                             " is more than original_inference_steps x strength = " +
                             std::to_string(original_steps_) + " x " + std::to_string(strength) +
                             " = " + std::to_string(count) +
                             " timesteps; lower the steps or raise the strength");
        }
        if (n > original_steps_)
            throw InputError(where + "num_inference_steps " + std::to_string(n) +
                             " cannot exceed original_inference_steps " +
                             std::to_string(original_steps_));
        // origin = arange(1, count + 1) * k - 1, reversed; indices = floor(linspace(0, count, n,
        // endpoint=False)).
        std::vector<std::int64_t> t;
        const double step = static_cast<double>(count) / n;
        for (int i = 0; i < n; ++i) {
            const auto idx = static_cast<std::int64_t>(std::floor(static_cast<double>(i) * step));
            t.push_back((count - idx) * k - 1);
        }
        timesteps_ = at::tensor(t, at::kLong);
        num_inference_steps_ = n;
    }

    at::Tensor init_noise_sigma() const override { return scalar(1.0); }

    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise,
                         std::size_t index) const override {
        const at::Tensor a = alphas_cumprod_.to(original.scalar_type())[timestep(index)];
        return a.pow(0.5) * original + (1 - a).pow(0.5) * noise;
    }

protected:
    std::int64_t timestep(std::size_t index) const {
        return timesteps_[static_cast<std::int64_t>(index)].item<std::int64_t>();
    }
    // The next entry of the schedule (diffusers' prev_timestep), or `last` after the final step.
    at::Tensor next_timestep(std::size_t index, const at::Tensor& last) const {
        const auto next = static_cast<std::int64_t>(index) + 1;
        return next < timesteps_.size(0) ? timesteps_[next] : last;
    }
    at::Tensor alpha_at(const at::Tensor& t) const {
        const std::int64_t v = t.item<std::int64_t>();
        return v >= 0 ? alphas_cumprod_[v] : final_alpha_cumprod_;
    }
    bool is_last(std::size_t index) const {
        return static_cast<int>(index) == num_inference_steps_ - 1;
    }

    NoiseScheduleConfig config_;
    std::string name_;
    int original_steps_ = 50;
    int num_inference_steps_ = 0;
    bool clip_sample_ = false;
    double clip_sample_range_ = 1.0;
    double timestep_scaling_ = 10.0;
    at::Tensor final_alpha_cumprod_;
};

class LCMScheduler : public ConsistencyScheduler {
public:
    explicit LCMScheduler(const nlohmann::json& j) : ConsistencyScheduler(j, "lcm") {}

    // pred_original_sample is LCM's `denoised` (what its pipelines decode at the end).
    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample,
                    c10::optional<at::Generator> generator) override {
        const at::Tensor t = timesteps_[static_cast<std::int64_t>(index)];
        const at::Tensor prev_t = next_timestep(index, t);
        const at::Tensor a = alphas_cumprod_[t.item<std::int64_t>()], a_prev = alpha_at(prev_t);
        const at::Tensor b = 1 - a, b_prev = 1 - a_prev;

        // get_scalings_for_boundary_condition_discrete (sigma_data 0.5); `0.25 / x` is torch's
        // reciprocal(x) * 0.25.
        const at::Tensor scaled = t * timestep_scaling_;  // int64 * float -> float32
        const at::Tensor c_skip = at::reciprocal(scaled.pow(2) + 0.25) * 0.25;
        const at::Tensor c_out = scaled / (scaled.pow(2) + 0.25).pow(0.5);

        at::Tensor x0;
        if (config_.prediction_type == "epsilon")
            x0 = (sample - b.sqrt() * model_output) / a.sqrt();
        else if (config_.prediction_type == "sample")
            x0 = model_output;
        else
            x0 = a.sqrt() * sample - b.sqrt() * model_output;
        if (clip_sample_) x0 = x0.clamp(-clip_sample_range_, clip_sample_range_);

        const at::Tensor denoised = c_out * x0 + c_skip * sample;
        if (is_last(index)) return {denoised, denoised};
        const at::Tensor noise = at::randn(model_output.sizes(), generator, denoised.options());
        return {a_prev.sqrt() * denoised + b_prev.sqrt() * noise, denoised};
    }
};

class TCDScheduler : public ConsistencyScheduler {
public:
    TCDScheduler(const nlohmann::json& j, double eta) : ConsistencyScheduler(j, "tcd"), eta_(eta) {
        if (!(eta >= 0.0 && eta <= 1.0))
            throw InputError("eta (TCD's gamma) must be between 0 and 1 (got " +
                             std::to_string(eta) + ")");
    }

    // prev_sample as diffusers; pred_original_sample is the x0 estimate (TCD's second output is
    // pred_noised_sample, the x0 estimate re-noised to timestep s).
    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample,
                    c10::optional<at::Generator> generator) override {
        const at::Tensor t = timesteps_[static_cast<std::int64_t>(index)];
        const at::Tensor prev_t = next_timestep(index, at::scalar_tensor(0, at::kLong));
        const at::Tensor timestep_s =
            at::floor(prev_t * (1 - eta_)).to(at::kLong);  // float32 product, floored
        const at::Tensor a = alphas_cumprod_[t.item<std::int64_t>()];
        const at::Tensor b = 1 - a;
        const at::Tensor a_prev = alpha_at(prev_t);
        const at::Tensor a_s = alphas_cumprod_[timestep_s.item<std::int64_t>()];
        const at::Tensor b_s = 1 - a_s;

        at::Tensor x0, eps;
        if (config_.prediction_type == "epsilon") {
            x0 = (sample - b.sqrt() * model_output) / a.sqrt();
            eps = model_output;
        } else if (config_.prediction_type == "sample") {
            x0 = model_output;
            eps = (sample - a.pow(0.5) * x0) / b.pow(0.5);
        } else {
            x0 = a.pow(0.5) * sample - b.pow(0.5) * model_output;
            eps = a.pow(0.5) * model_output + b.pow(0.5) * sample;
        }
        const at::Tensor noised = a_s.sqrt() * x0 + b_s.sqrt() * eps;
        if (eta_ > 0 && !is_last(index)) {
            const at::Tensor noise = at::randn(model_output.sizes(), generator, noised.options());
            return {(a_prev / a_s).sqrt() * noised + (1 - a_prev / a_s).sqrt() * noise, x0};
        }
        return {noised, x0};
    }

private:
    double eta_ = 0.0;
};

}  // namespace

std::unique_ptr<Scheduler> make_lcm(const nlohmann::json& config) {
    return std::make_unique<LCMScheduler>(config);
}
std::unique_ptr<Scheduler> make_tcd(const nlohmann::json& config, double eta) {
    return std::make_unique<TCDScheduler>(config, eta);
}

}  // namespace ips::schedulers
