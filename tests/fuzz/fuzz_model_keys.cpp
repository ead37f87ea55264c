// The key mappers (what inspect, discovery and the loaders run on a file's tensor names): LoRA names and
// their summary, model detection, the LDM single-file name map. The input's lines are tensor names (the
// first line is kohya's ss_tag_frequency metadata), each with a shape drawn from its bytes. Nothing may
// crash; a parsed LoRA key always names a module; a mapped LDM key is never empty.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "io/detect.h"
#include "io/ldm_key_map.h"
#include "io/tensor_info.h"
#include "lora/lora_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i)
        if (i == text.size() || text[i] == '\n') lines.push_back(text.substr(start, i - start)), start = i + 1;
    std::vector<ips::io::TensorInfo> tensors;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        ips::io::TensorInfo t{lines[i], "F16", {}};
        const std::size_t rank = lines[i].size() % 5;
        for (std::size_t d = 0; d < rank; ++d) t.shape.push_back(1 + std::uint8_t(lines[i][d]) % 64);
        if (const auto key = ips::lora::parse_lora_key(t.name); key && key->module.empty()) std::abort();
        for (const auto component : {ips::io::LdmComponent::UNet, ips::io::LdmComponent::Vae, ips::io::LdmComponent::TextEncoder})
            if (const auto mapped = ips::io::ldm_to_diffusers(t.name, component, {}); mapped && mapped->empty()) std::abort();
        tensors.push_back(std::move(t));
    }
    (void)ips::lora::summarize_lora(tensors);
    (void)ips::io::detect_from_tensors(tensors);
    (void)ips::lora::trigger_words({{"ss_tag_frequency", lines.front()}});
    return 0;
}
