#pragma once
// A small argument reader for the CLI subcommands: positional arguments and --flags with values.
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ipscli {

// Exit codes of every subcommand.
enum ExitCode { kOk = 0, kInternalError = 1, kBadInput = 2 };

// Thrown for a malformed command line; main prints it with the usage and exits with kBadInput.
struct UsageError {
    std::string message;
};

class Args {
public:
    // `flags_with_value` lists the --options that take a value; other --options are switches.
    Args(const std::vector<std::string>& argv, const std::set<std::string>& switches,
         const std::set<std::string>& flags_with_value);
    bool has(const std::string& flag) const;
    std::optional<std::string> value(const std::string& flag) const;  // the last one given
    std::vector<std::string> values(const std::string& flag) const;   // every one, in order
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::set<std::string> switches_seen_;
    std::vector<std::pair<std::string, std::string>> values_;
    std::vector<std::string> positional_;
};

// models/sd15 of the source tree, else of the installed share folder: SD1.5 configs for single files.
std::filesystem::path default_configs();

int run_inspect(const std::vector<std::string>& args);
int run_tokenize(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);
int run_embed(const std::vector<std::string>& args);
int run_generate(const std::vector<std::string>& args);

}  // namespace ipscli
