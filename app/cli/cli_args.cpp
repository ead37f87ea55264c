#include "cli_args.h"

#include "config_root.h"

#include <filesystem>

namespace ipscli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& switches,
           const std::set<std::string>& flags_with_value) {
    bool only_positional = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (only_positional || a.size() < 2 || a.rfind("--", 0) != 0) {
            positional_.push_back(a);
            continue;
        }
        if (a == "--") {
            only_positional = true;
            continue;
        }
        std::string name = a, inline_value;
        const auto eq = a.find('=');
        const bool has_inline = eq != std::string::npos;
        if (has_inline) name = a.substr(0, eq), inline_value = a.substr(eq + 1);
        if (switches.count(name) && !has_inline) {
            switches_seen_.insert(name);
        } else if (flags_with_value.count(name)) {
            if (has_inline) {
                values_.emplace_back(name, inline_value);
            } else {
                if (i + 1 >= argv.size()) throw UsageError{name + " needs a value"};
                values_.emplace_back(name, argv[++i]);
            }
        } else {
            throw UsageError{"unknown option " + name};
        }
    }
}

bool Args::has(const std::string& flag) const { return switches_seen_.count(flag) != 0; }

std::optional<std::string> Args::value(const std::string& flag) const {
    std::optional<std::string> last;
    for (const auto& [name, value] : values_)
        if (name == flag) last = value;
    return last;
}

std::vector<std::string> Args::values(const std::string& flag) const {
    std::vector<std::string> all;
    for (const auto& [name, value] : values_)
        if (name == flag) all.push_back(value);
    return all;
}

std::filesystem::path default_configs() { return ipsapp::default_config_root(); }

}  // namespace ipscli
