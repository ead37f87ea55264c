// ipstudio-cli inspect PATH [--json]
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "ips/model_info.h"

namespace ipscli {
namespace {

std::string utf8(const std::filesystem::path& p) {
    const auto s = p.u8string();
    return std::string(s.begin(), s.end());
}

nlohmann::json to_json(const ips::ModelInfo& info) {
    nlohmann::json j = {
        {"path", utf8(info.path)},
        {"kind", ips::model_kind_name(info.kind)},
        {"variant", info.variant},
        {"base_architecture", info.base_architecture},
        {"format", info.format},
        {"tensor_count", info.tensor_count},
        {"parameter_count", info.parameter_count},
        {"dtypes", info.dtype_counts},
        {"dimensions", info.dimensions},
        {"notes", info.notes},
    };
    if (!info.trigger_words.empty()) j["trigger_words"] = info.trigger_words;
    if (!info.components.empty()) {
        j["components"] = nlohmann::json::array();
        for (const auto& c : info.components) j["components"].push_back(to_json(c));
    }
    return j;
}

void print_text(const ips::ModelInfo& info, const std::string& indent) {
    std::cout << indent << utf8(info.path) << "\n";
    std::cout << indent << "  kind:        " << ips::model_kind_name(info.kind);
    if (!info.variant.empty()) std::cout << " (" << info.variant << ")";
    std::cout << "\n";
    if (!info.base_architecture.empty()) std::cout << indent << "  base:        " << info.base_architecture << "\n";
    std::cout << indent << "  format:      " << info.format << "\n";
    if (info.tensor_count > 0) {
        std::cout << indent << "  tensors:     " << info.tensor_count << "\n";
        std::cout << indent << "  parameters:  " << info.parameter_count << "\n";
        std::cout << indent << "  dtypes:     ";
        for (const auto& [dtype, count] : info.dtype_counts) std::cout << " " << dtype << " x" << count;
        std::cout << "\n";
    }
    for (const auto& [name, value] : info.dimensions)
        std::cout << indent << "  " << name << ": " << value << "\n";
    for (const auto& note : info.notes) std::cout << indent << "  note: " << note << "\n";
    if (!info.trigger_words.empty()) {
        std::cout << indent << "  trigger words:";
        for (std::size_t i = 0; i < info.trigger_words.size(); ++i) std::cout << (i ? ", " : " ") << info.trigger_words[i];
        std::cout << "\n";
    }
    for (const auto& c : info.components) print_text(c, indent + "  ");
}

}  // namespace

int run_inspect(const std::vector<std::string>& argv) {
    Args args(argv, {"--json"}, {});
    if (args.positional().size() != 1) throw UsageError{"expected exactly one PATH"};
    const auto info = ips::inspect_model(std::filesystem::u8path(args.positional()[0]));
    if (args.has("--json")) std::cout << to_json(info).dump(2) << "\n";
    else print_text(info, "");
    return kOk;
}

}  // namespace ipscli
