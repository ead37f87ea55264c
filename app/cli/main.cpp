// ipstudio-cli: generate images, inspect model files, tokenize prompts, encode references, benchmark.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli_args.h"
#include "files_bench.h"
#include "library_output.h"
#include "ips/errors.h"
#include "ips/version.h"

namespace {

const char* const kUsage =
    "Usage: ipstudio-cli COMMAND [ARGS]\n"
    "\n"
    "IP Studio's command line: Stable Diffusion with IP-Adapter image prompts.\n"
    "\n"
    "Commands:\n"
    "  inspect PATH [--json]               what a model file or folder is: kind, variant, tensor count,\n"
    "                                      dtypes, parameter count\n"
    "  tokenize --tokenizer DIR TEXT...    CLIP token ids of each TEXT (a JSON array of 77 ids per line)\n"
    "  bench [--json] [--only NAMES] [--dtype float32,bfloat16] [--size WxH] [--repeat N]\n"
    "        [--batch N] [--channels-last on|off] [--threads N] [--configs DIR] [--attention fused,plain,amx,avx512]\n"
    "        [--upsample phase,plain]       (unet_forward, vae_decode: 2x upsampling + 3x3 convolution as four 2x2\n"
    "                                      phase convolutions, the default, and/or as written)\n"
    "                                      time the networks at SD1.5 sizes with random weights\n"
    "                                      (NAMES: unet_forward,vae_decode,preview_decode,vae_encode,\n"
    "                                      text_encoder,image_encoder; generation = a whole 20-step\n"
    "                                      generation with IP-Adapter base, only when named; --steps N;\n"
    "                                      --preset lcm4,lcm4-deepcache2,lcm4-taesd,lcm4-taesd-deepcache2,\n"
    "                                      hyper8cfg,ddim20-deepcache3 times those after it on the warm engine;\n"
    "                                      --packed-conv on,off runs each preset with packed convolution\n"
    "                                      weights and with LibTorch's, one after the other;\n"
    "                                      --rounds N runs the plain run and the presets N times in turn\n"
    "                                      and prints each one's median;\n"
    "                                      lora = merging a rank-64 LoRA, only when named;\n"
    "                                      files = a cold generate from SD1.5-size fp16 files in a child\n"
    "                                      process, peak RSS with file pages released and kept, only when\n"
    "                                      named; --files DIR keeps the 3.5 GB of files there for reuse)\n"
    "  generate [REQUEST.json] --output OUT.png [--force] [--quiet] [flags]\n"
    "                                      generate images; REQUEST.json is a preset (schema 1, diffusers\n"
    "                                      names, paths relative to it); flags override its fields:\n"
    "        --model PATH --vae PATH --prompt TEXT --negative-prompt TEXT --width N --height N --steps N\n"
    "        --guidance X --seed N|--random-seed --scheduler NAME --clip-skip N --batch N\n"
    "        --prompt-syntax plain|a1111 (a1111: (emphasis:1.2), [less], BREAK, prompts over 75 tokens)\n"
    "        --timestep-spacing leading|linspace|trailing (trailing for Hyper-SD and other few-step LoRAs)\n"
    "        --dtype float32|bfloat16 --init-image FILE --strength X --mask FILE\n"
    "        --deep-cache N [--deep-cache-branch B] (DeepCache: the whole UNet every N steps, between them only\n"
    "                                  branch B, 0 = the shallowest and fastest; --deep-cache 0 turns it off)\n"
    "        --draft-decoder DIR (a draft: the picture decoded by this TAESD decoder, not the VAE)\n"
    "        --ip-adapter FILE --ip-image FILE (repeatable) --ip-image-encoder DIR --ip-scale X\n"
    "        --ip-weight-type TYPE (ComfyUI's: linear, ease in, style transfer, composition, style and composition, ...;\n"
    "        full|style|composition still work; --ip-mode is the old name) --ip-crop center|pad|squash\n"
    "        --ip-combine concat|add|subtract|average|\"norm average\" (several --ip-image)\n"
    "        --ip-mask FILE (repeatable, one per --ip-image: where that image applies, white = here; diffusers'\n"
    "        ip_adapter_masks: each image then attended in its own region)\n"
    "        --ip-embeds-scaling \"V only\"|K+V|\"K+V w/ C penalty\"|\"K+mean(V) w/ C penalty\"\n"
    "        --controlnet DIR --control-image FILE --control-scale X\n"
    "        --lora FILE[:WEIGHT] (repeatable; kohya, diffusers, PEFT, LyCORIS LoHa/LoKr; weight 1 by default)\n"
    "        --embedding FILE[:TOKEN] (repeatable; textual inversion, A1111 .pt/.safetensors or diffusers\n"
    "                                  learned_embeds; token = file stem by default, also 'embedding:TOKEN')\n"
    "        --latents FILE (initial latents, key 'latents') --save-latents FILE\n"
    "        --save-request FILE --from-png IMAGE.png (reproduce an IP Studio PNG)\n"
    "        --library DIR | --to-library (also, or instead of --output: into a result library, the window's\n"
    "                                      with --to-library: PNG + index row, inputs kept by content hash)\n"
    "        --threads N --configs DIR (SD1.5 configs for single-file checkpoints)\n"
    "                                      schedulers: ddim, pndm, euler, euler_a, dpmpp_2m,\n"
    "                                      dpmpp_2m_karras, lms, lcm, tcd; --eta X: DDIM's noise,\n"
    "                                      TCD's gamma (0.3 in TCD's examples)\n"
    "  import FOLDER --library DIR | --to-library\n"
    "                                      copy the PNGs of FOLDER (A1111, ComfyUI, IP Studio or plain)\n"
    "                                      into a result library and index them\n"
    "  embed --image-encoder DIR [--crop center|pad|squash] [--force] IMAGE --output FILE\n"
    "                                      encode a reference picture once; the embedding file\n"
    "                                      replaces the picture in later generations\n"
    "\n"
    "Options:\n"
    "  --help      show this help\n"
    "  --version   show the version\n"
    "\n"
    "Exit codes: 0 success, 2 bad input (the message names the file and what was expected),\n"
    "1 internal error.\n";

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << kUsage;
        return ipscli::kBadInput;
    }
    const std::string command = args.front();
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    try {
        if (command == "--help" || command == "-h" || command == "help") {
            std::cout << kUsage;
            return ipscli::kOk;
        }
        if (command == "--version") {
            std::cout << "ipstudio-cli " << ips::version_string() << "\n";
            return ipscli::kOk;
        }
        if (command == "inspect") return ipscli::run_inspect(rest);
        if (command == "tokenize") return ipscli::run_tokenize(rest);
        if (command == "bench") return ipscli::run_bench(rest);
        if (command == "embed") return ipscli::run_embed(rest);
        if (command == "generate") {
            ipscli::report_peak_rss_at_exit();  // for bench --only files, which runs generate as a child
            return ipscli::run_generate(rest);
        }
        if (command == "import") return ipscli::run_import(rest);
        std::cerr << "ipstudio-cli: unknown command '" << command << "'\n\n" << kUsage;
        return ipscli::kBadInput;
    } catch (const ipscli::UsageError& e) {
        std::cerr << "ipstudio-cli " << command << ": " << e.message << "\n\n" << kUsage;
        return ipscli::kBadInput;
    } catch (const ips::InputError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return ipscli::kBadInput;
    } catch (const ips::Cancelled&) {
        std::cerr << "cancelled\n";
        return ipscli::kInternalError;
    } catch (const ips::ModelLoadError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return ipscli::kBadInput;
    } catch (const std::exception& e) {
        std::cerr << "internal error: " << e.what() << "\n";
        return ipscli::kInternalError;
    } catch (...) {
        std::cerr << "internal error: unknown exception\n";
        return ipscli::kInternalError;
    }
}
