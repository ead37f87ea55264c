// ipstudio-cli embed --image-encoder DIR [--crop MODE] [--force] IMAGE --output FILE
#include <iostream>

#include "cli_args.h"
#include "ips/image_prompt.h"

namespace ipscli {

int run_embed(const std::vector<std::string>& argv) {
    Args args(argv, {"--force"}, {"--image-encoder", "--crop", "--output"});
    const auto encoder = args.value("--image-encoder");
    const auto output = args.value("--output");
    if (!encoder) throw UsageError{"--image-encoder DIR is required (a CLIP vision model folder)"};
    if (!output) throw UsageError{"--output FILE is required (the embedding file to write)"};
    if (args.positional().size() != 1) throw UsageError{"expected one IMAGE"};
    const std::string crop_name = args.value("--crop").value_or("center");
    const auto crop = ips::parse_crop_mode(crop_name);
    if (!crop) throw UsageError{"--crop must be center, pad or squash (got '" + crop_name + "')"};
    ips::save_reference_embedding(std::filesystem::u8path(args.positional().front()), std::filesystem::u8path(*encoder), *crop,
                                  std::filesystem::u8path(*output), args.has("--force"));
    std::cout << *output << "\n";
    return kOk;
}

}  // namespace ipscli
