#include "golden.h"

#include <limits>

#include "io/json_file.h"
#include "io/weights.h"
#include "test_paths.h"

namespace ipstest {

namespace {
// Python's json writes Infinity/NaN for some recorded statistics; JSON has no such numbers, so they
// become null (outside strings only).
std::string nonFiniteToNull(const std::string& text) {
    std::string out;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) out += text[++i];
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        bool replaced = false;
        for (const std::string word : {"-Infinity", "Infinity", "NaN"}) {
            if (text.compare(i, word.size(), word) == 0) {
                out += "null";
                i += word.size() - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out += c;
    }
    return out;
}
}  // namespace

GoldenCase loadGolden(const std::string& id, const std::string& folder) {
    static std::map<std::string, nlohmann::json> manifests;
    auto it = manifests.find(folder);
    if (it == manifests.end())
        it = manifests.emplace(folder, nlohmann::json::parse(nonFiniteToNull(ips::io::read_text_file(dataPath(folder + "/manifest.json"))))).first;
    for (const auto& c : it->second.at("cases")) {
        if (c.at("id") != id) continue;
        GoldenCase g;
        g.spec = c;
        g.folder = folder;
        // Copy out of the mapping so tests may modify tensors in place.
        for (auto& [k, t] : ips::io::load_weights(dataPath(folder + "/" + c.at("file").get<std::string>())).tensors)
            g.tensors.emplace(k, t.clone());
        return g;
    }
    throw std::runtime_error("no golden case " + id + " in " + folder + "/manifest.json");
}

at::Tensor GoldenCase::input(const std::string& name) const {
    return tensors.at(spec.at("inputs").at(name).at("key").get<std::string>());
}
at::Tensor GoldenCase::output(const std::string& name) const {
    return tensors.at(spec.at("outputs").at(name).at("key").get<std::string>());
}
double GoldenCase::atol(const std::string& name) const { return spec.at("outputs").at(name).at("atol").get<double>(); }

bool GoldenCase::hasInput(const std::string& name) const { return spec.at("inputs").contains(name); }
bool GoldenCase::hasOutput(const std::string& name) const { return spec.at("outputs").contains(name); }

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
    if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
    const at::Tensor d = (a.to(at::kDouble) - b.to(at::kDouble)).abs();
    if (at::isnan(d).any().item<bool>()) return std::numeric_limits<double>::infinity();
    return d.numel() == 0 ? 0.0 : d.max().item<double>();
}

}  // namespace ipstest
