// DDIM and PNDM (PLMS with skip_prk_steps): schedulers driven by alphas_cumprod at integer timesteps.
#include "schedulers/factories.h"
#include "schedulers/noise_schedule.h"

#include <deque>

#include "ips/errors.h"

namespace ips::schedulers {
namespace {

// What DDIM and PNDM share: integer timesteps, alphas_cumprod lookups, add_noise on alphas.
class AlphaScheduler : public Scheduler {
public:
    AlphaScheduler(const nlohmann::json& j) : config_(read_noise_schedule(j, "leading")) {
        alphas_cumprod_ = schedulers::alphas_cumprod(config_);
        set_alpha_to_one_ = j.value("set_alpha_to_one", true);
        final_alpha_cumprod_ = set_alpha_to_one_ ? scalar(1.0) : alphas_cumprod_[0];
    }
    at::Tensor init_noise_sigma() const override { return scalar(1.0); }

    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, std::size_t index) const override {
        const at::Tensor a = alphas_cumprod_[timesteps_[static_cast<std::int64_t>(index)].item<std::int64_t>()].to(original.scalar_type());
        return a.pow(0.5) * original + (1 - a).pow(0.5) * noise;
    }

protected:
    at::Tensor alpha_at(std::int64_t t) const { return t >= 0 ? alphas_cumprod_[t] : final_alpha_cumprod_; }
    // x0 from an epsilon/v/sample prediction at alpha a (the preview, and DDIM's formula).
    std::pair<at::Tensor, at::Tensor> predict(const at::Tensor& model_output, const at::Tensor& sample, const at::Tensor& a) const {
        const at::Tensor b = 1 - a;
        if (config_.prediction_type == "epsilon") return {(sample - b.pow(0.5) * model_output) / a.pow(0.5), model_output};
        if (config_.prediction_type == "sample") return {model_output, (sample - a.pow(0.5) * model_output) / b.pow(0.5)};
        return {a.pow(0.5) * sample - b.pow(0.5) * model_output, a.pow(0.5) * model_output + b.pow(0.5) * sample};
    }

    NoiseScheduleConfig config_;
    bool set_alpha_to_one_ = true;
    at::Tensor final_alpha_cumprod_;
    int num_inference_steps_ = 0;
};

class DDIMScheduler : public AlphaScheduler {
public:
    DDIMScheduler(const nlohmann::json& j) : AlphaScheduler(j) {
        clip_sample_ = j.value("clip_sample", true);
        clip_sample_range_ = j.value("clip_sample_range", 1.0);
        if (j.value("thresholding", false)) throw InputError("scheduler config: DDIM thresholding is not supported");
    }
    void set_timesteps(int n) override {
        num_inference_steps_ = n;
        auto t = spaced_timesteps(config_, n, true);
        timesteps_ = at::tensor(t, at::kDouble).to(at::kLong);
    }
    StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample,
                    c10::optional<at::Generator> generator) override {
        const std::int64_t t = timesteps_[static_cast<std::int64_t>(index)].item<std::int64_t>();
        const std::int64_t prev_t = t - config_.num_train_timesteps / num_inference_steps_;
        const at::Tensor a = alphas_cumprod_[t], a_prev = alpha_at(prev_t);
        auto [x0, eps] = predict(model_output, sample, a);
        if (clip_sample_) x0 = x0.clamp(-clip_sample_range_, clip_sample_range_);
        const at::Tensor variance = ((1 - a_prev) / (1 - a)) * (1 - a / a_prev);
        const at::Tensor std_dev = eta_ * variance.pow(0.5);
        at::Tensor prev = a_prev.pow(0.5) * x0 + (1 - a_prev - std_dev.pow(2)).pow(0.5) * eps;
        if (eta_ > 0) prev = prev + std_dev * at::randn(model_output.sizes(), generator, model_output.options());
        return {prev, x0};
    }
    double eta_ = 0.0;

private:
    bool clip_sample_ = true;
    double clip_sample_range_ = 1.0;
};

class PNDMScheduler : public AlphaScheduler {
public:
    PNDMScheduler(const nlohmann::json& j) : AlphaScheduler(j) {
        if (!j.value("skip_prk_steps", false))
            throw InputError("scheduler config: PNDM with Runge-Kutta warm-up steps (skip_prk_steps false) is not supported");
    }
    void set_timesteps(int n) override {
        num_inference_steps_ = n;
        auto t = spaced_timesteps(config_, n, true);
        std::reverse(t.begin(), t.end());  // ascending, as diffusers builds plms_timesteps
        // [t0 .. t_{n-2}, t_{n-2}, t_{n-1}] reversed: the second-to-last timestep runs twice.
        std::vector<double> plms(t.begin(), t.end() - 1);
        if (t.size() >= 2) plms.push_back(t[t.size() - 2]);  // one step: just [t0]
        plms.push_back(t.back());
        std::reverse(plms.begin(), plms.end());
        timesteps_ = at::tensor(plms, at::kDouble).to(at::kLong);
        ets_.clear();
        counter_ = 0;
        cur_sample_ = at::Tensor();
    }
    void set_begin_index(std::size_t) override {}

    StepOutput step(const at::Tensor& model_output_in, std::size_t index, const at::Tensor& sample_in,
                    c10::optional<at::Generator>) override {
        std::int64_t timestep = timesteps_[static_cast<std::int64_t>(index)].item<std::int64_t>();
        const std::int64_t ratio = config_.num_train_timesteps / num_inference_steps_;
        std::int64_t prev_t = timestep - ratio;
        at::Tensor model_output = model_output_in, sample = sample_in;
        if (counter_ != 1) {
            if (ets_.size() > 3) ets_.pop_front();
            ets_.push_back(model_output_in);
        } else {
            prev_t = timestep;
            timestep = timestep + ratio;
        }
        const std::size_t n = ets_.size();
        if (n == 1 && counter_ == 0) {
            cur_sample_ = sample;
        } else if (n == 1 && counter_ == 1) {
            model_output = (model_output + ets_.back()) / 2;
            sample = cur_sample_;
            cur_sample_ = at::Tensor();
        } else if (n == 2) {
            model_output = (3 * ets_[1] - ets_[0]) / 2;
        } else if (n == 3) {
            model_output = (23 * ets_[2] - 16 * ets_[1] + 5 * ets_[0]) / 12;
        } else {
            model_output = (1.0 / 24) * (55 * ets_[3] - 59 * ets_[2] + 37 * ets_[1] - 9 * ets_[0]);
        }
        const at::Tensor a = alphas_cumprod_[timestep], a_prev = alpha_at(prev_t);
        const at::Tensor b = 1 - a, b_prev = 1 - a_prev;
        if (config_.prediction_type == "v_prediction") model_output = a.pow(0.5) * model_output + b.pow(0.5) * sample;
        const at::Tensor sample_coeff = (a_prev / a).pow(0.5);
        const at::Tensor denom = a * b_prev.pow(0.5) + (a * b * a_prev).pow(0.5);
        const at::Tensor prev = sample_coeff * sample - (a_prev - a) * model_output / denom;
        ++counter_;
        const at::Tensor x0 = predict(model_output_in, sample_in, alphas_cumprod_[timesteps_[static_cast<std::int64_t>(index)].item<std::int64_t>()]).first;
        return {prev, x0};
    }

private:
    std::deque<at::Tensor> ets_;
    int counter_ = 0;
    at::Tensor cur_sample_;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim(const nlohmann::json& config, double eta) {
    auto s = std::make_unique<DDIMScheduler>(config);
    s->eta_ = eta;  // a step() argument in diffusers, not a config key
    return s;
}
std::unique_ptr<Scheduler> make_pndm(const nlohmann::json& config) { return std::make_unique<PNDMScheduler>(config); }

}  // namespace ips::schedulers
