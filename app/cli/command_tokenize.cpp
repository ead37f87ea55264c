// ipstudio-cli tokenize --tokenizer DIR TEXT...
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "ips/clip_tokenizer.h"

namespace ipscli {

int run_tokenize(const std::vector<std::string>& argv) {
    Args args(argv, {}, {"--tokenizer"});
    const auto folder = args.value("--tokenizer");
    if (!folder) throw UsageError{"--tokenizer DIR is required (a diffusers tokenizer/ folder)"};
    if (args.positional().empty()) throw UsageError{"expected at least one TEXT"};
    const auto tokenizer = ips::ClipTokenizer::from_folder(std::filesystem::u8path(*folder));
    for (const auto& text : args.positional())
        std::cout << nlohmann::json(tokenizer.tokenize(text).input_ids).dump() << "\n";
    return kOk;
}

}  // namespace ipscli
