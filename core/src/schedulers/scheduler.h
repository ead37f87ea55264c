#pragma once
// The denoising schedulers of diffusers, mirrored formula for formula (float32 tensor arithmetic where
// diffusers uses torch, float64 where it uses numpy) so every step's output equals the reference.
// Steps are addressed by their index in the schedule, not by timestep value.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace ips::schedulers {

struct StepOutput {
    at::Tensor prev_sample;
    at::Tensor pred_original_sample;  // the model's estimate of the clean latents (for previews)
};

class Scheduler {
public:
    virtual ~Scheduler() = default;

    virtual void set_timesteps(int num_inference_steps) = 0;
    // LCM's and TCD's set_timesteps(n, strength=s), as LatentConsistencyModelImg2ImgPipeline calls it: n timesteps
    // taken from the first `strength` part of their origin schedule, and all of them run (begin index 0).
    // The other schedulers have no such argument (img2img starts them late: set_begin_index): InputError.
    virtual void set_timesteps_with_strength(int num_inference_steps, double strength);
    // The timesteps to run (int64 or float32, as diffusers' scheduler.timesteps).
    const at::Tensor& timesteps() const { return timesteps_; }
    std::size_t size() const { return static_cast<std::size_t>(timesteps_.size(0)); }
    // diffusers' scheduler.order: how many entries of `timesteps` one inference step uses.
    virtual int order() const { return 1; }

    virtual at::Tensor init_noise_sigma() const = 0;  // 0-dim float32
    virtual at::Tensor scale_model_input(const at::Tensor& sample, std::size_t index) { (void)index; return sample; }
    // `generator` feeds the ancestral/eta noise; null where the scheduler draws none.
    virtual StepOutput step(const at::Tensor& model_output, std::size_t index, const at::Tensor& sample,
                            c10::optional<at::Generator> generator) = 0;
    // Noise `original` to the noise level of schedule entry `index` (img2img start, inpaint blend).
    virtual at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, std::size_t index) const = 0;
    // Start the schedule at `index` (img2img skips the first entries): resets multistep history.
    virtual void set_begin_index(std::size_t index) { (void)index; }

    const at::Tensor& alphas_cumprod() const { return alphas_cumprod_; }
    // Karras-style sigmas (num steps + 1) for sigma-based schedulers; undefined otherwise.
    virtual at::Tensor sigmas() const { return {}; }

protected:
    at::Tensor timesteps_;
    at::Tensor alphas_cumprod_;  // float32 [num_train_timesteps]
};

// Names accepted by make_scheduler.
std::vector<std::string> scheduler_names();

// What a request sets beside the model's scheduler_config.json.
struct SchedulerOptions {
    // DDIM's noise amount, TCD's gamma: the pipeline's `eta`, which diffusers passes to step() (default 0.0 in
    // StableDiffusionPipeline; TCD's own step() default 0.3 applies only when it is called without one).
    double eta = 0.0;
    // "" keeps the config's timestep_spacing (or the class default); "linspace", "leading" or "trailing"
    // replace it, as from_config(config, timestep_spacing=...) does (Hyper-SD: "trailing"). For ddim, pndm,
    // euler, euler_a, dpmpp_2m, lms (dpmpp_2m_karras takes its timesteps from the Karras sigmas: no effect);
    // lcm and tcd have no spacing (their timesteps come from original_inference_steps): InputError.
    // ComfyUI's "sgm_uniform" (Krita's Hyper-SD preset) is not a diffusers 0.30 option: it is trailing with
    // fractional timesteps 999 * (1 - i/n) and log-linear sigma interpolation (8 steps: t 874.125 vs 874, sigma
    // 7.3020 vs 7.2974, under 0.6 % apart); diffusers (and this option) give Hyper-SD "trailing".
    std::string timestep_spacing;
};

// `name`: ddim, pndm, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lms, lcm, tcd. `config` is the model's
// scheduler_config.json; keys a scheduler class does not know are ignored (diffusers' from_config).
// Throws InputError naming the field for unknown names, unsupported settings and values of the wrong type.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config, const SchedulerOptions& options);
// The same with only `eta` set.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config, double eta = 0.0);

}  // namespace ips::schedulers
