#pragma once
// The one place where LoRA tensor names map to the modules they change. Torch-free (detection and
// `inspect` use it on headers alone). Formats:
//   kohya / A1111 / ComfyUI   lora_unet_<flat>.lora_down.weight / .lora_up.weight / .alpha, lora_te_<flat>...;
//                             <flat> is a diffusers module name with '.' -> '_' or an LDM module name
//                             (lora_unet_input_blocks_1_1_...), resolved against the model (lora_model.h)
//   diffusers (old)           unet.<module>.processor.to_q_lora.down.weight, unet.<module>.lora.down.weight,
//                             text_encoder.<module>.to_q_lora.down.weight / .lora_linear_layer.down.weight
//   PEFT                      unet.<module>.lora_A.weight / lora_B.weight, text_encoder.<module>...
//   LyCORIS                   <kohya name>.hada_w1_a ... (LoHa), <kohya name>.lokr_w1 ... (LoKr)
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/tensor_info.h"

namespace ips::lora {

enum class LoraPart { UNet, TextEncoder, TextEncoder2 };

// What one tensor is within its module's update.
enum class LoraRole {
    Down, Up, Alpha, Mid, DoraScale,                      // LoRA (Mid: LoCon's Tucker core)
    HadaW1A, HadaW1B, HadaW2A, HadaW2B, HadaT1, HadaT2,   // LoHa
    LokrW1, LokrW1A, LokrW1B, LokrW2, LokrW2A, LokrW2B, LokrT2,  // LoKr
};

enum class LoraFormat { Kohya, KohyaLdm, DiffusersOld, Diffusers, Peft, LoHa, LoKr };

struct LoraKey {
    LoraPart part = LoraPart::UNet;
    // The module: a dotted diffusers/transformers name ("down_blocks.0.attentions.0.proj_in"), or for
    // kohya-style names the flat name after the prefix ("down_blocks_0_attentions_0_proj_in"), `flat` set.
    std::string module;
    bool flat = false;
    LoraRole role = LoraRole::Down;
    LoraFormat format = LoraFormat::Kohya;
};

// nullopt when `key` is not a LoRA tensor name.
std::optional<LoraKey> parse_lora_key(const std::string& key);

const char* lora_part_name(LoraPart part);      // "UNet", "text encoder", "text encoder 2"
const char* lora_format_name(LoraFormat format);  // "kohya", "kohya (LDM names)", "diffusers (old)", ...

// A module name made flat as kohya makes it ('.' -> '_').
std::string flatten_module_name(const std::string& module);

// The base model a LoRA was trained for, judged from widths: the cross-attention input width of the
// UNet's attn2.to_k/to_v (768 SD1.x, 1024 SD2.x, 2048 SDXL) and the text encoder's width (768 SD1.x, 1024
// SD2.x); any second text encoder means SDXL. Empty when nothing tells.
struct LoraBase {
    std::string base;                      // "sd1.x", "sd2.x", "sdxl", "custom (...)" or ""
    std::int64_t cross_attention_dim = 0;  // 0 when unknown
    std::int64_t text_hidden_size = 0;     // 0 when unknown
};

// Everything `inspect` says about a LoRA file, from names and shapes only.
struct LoraSummary {
    std::size_t lora_tensors = 0;  // tensors whose names parse as LoRA tensors
    std::size_t other_tensors = 0;
    std::set<LoraFormat> formats;
    std::map<LoraPart, std::size_t> modules;  // per part
    std::int64_t rank_min = 0, rank_max = 0;
    LoraBase base;
    bool is_lora() const { return lora_tensors > 0 && lora_tensors >= other_tensors; }
};

LoraSummary summarize_lora(const std::vector<io::TensorInfo>& tensors);

// The LoRA's base from its tensors: `down_in_dim(part, module-name-contains)` lookups are done here.
LoraBase lora_base_from_tensors(const std::vector<io::TensorInfo>& tensors);

// The trigger words kohya's trainer records: the tags of `ss_tag_frequency` metadata (a JSON object
// {dataset: {tag: count}}), most frequent first, at most `limit`. Empty when absent or malformed.
std::vector<std::string> trigger_words(const std::map<std::string, std::string>& metadata, std::size_t limit = 20);

}  // namespace ips::lora
