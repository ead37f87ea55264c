// Loading networks from the files users have: key sets, single-file = folder, fp16 variants, shards,
// and clear errors for the wrong file.
#include <QtTest>

#include "golden.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "ips/bench.h"
#include "ips/request_json.h"
#include "models/model_loader.h"
#include "pipeline/engine.h"
#include "test_paths.h"

using ipstest::dataPath;
namespace fs = std::filesystem;

namespace {
std::set<std::string> parameterNames(const torch::nn::Module& m) {
    std::set<std::string> names;
    for (const auto& p : m.named_parameters(true)) names.insert(p.key());
    for (const auto& b : m.named_buffers(true)) names.insert(b.key());
    return names;
}
std::set<std::string> fileKeys(const fs::path& file, const std::set<std::string>& ignore = {}) {
    std::set<std::string> keys;
    for (const auto& info : ips::io::read_tensor_infos(file))
        if (!ignore.count(info.name)) keys.insert(info.name);
    return keys;
}
void expectEqualParameters(const torch::nn::Module& a, const torch::nn::Module& b) {
    const auto pa = a.named_parameters(true);
    const auto pb = b.named_parameters(true);
    QCOMPARE(pa.size(), pb.size());
    for (const auto& p : pa) QVERIFY2(at::equal(p.value(), pb[p.key()]), p.key().c_str());
}
}  // namespace

class TestModelLoading : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    fs::path scratch(const std::string& name) { return fs::path(dir.path().toStdString()) / name; }

private Q_SLOTS:
    // ipstudio-cli bench --only files writes networks in the published layout (fp16 diffusers folder, image
    // encoder, IP-Adapter, TAESD, request.json); here at tiny-sd15's sizes: every file is what the loaders read,
    // and the request runs.
    void benchModelFilesLoadBack() {
        ips::BenchOptions o;
        o.config_root = dataPath("tiny-sd15");
        o.width = o.height = 64;
        o.steps = 2;
        const fs::path request = ips::write_model_files(o, scratch("bench-files"));
        for (const auto& info : ips::io::read_tensor_infos(scratch("bench-files/stable-diffusion-v1-5/unet/diffusion_pytorch_model.fp16.safetensors")))
            QCOMPARE(info.dtype, std::string("F16"));
        ips::GenerationRequest q = ips::read_request_file(request);
        QCOMPARE(q.ip_adapters.size(), std::size_t(1));
        q.preview_decoder = scratch("bench-files/taesd");
        q.draft_decode = true;  // the TAESD decoder loads too
        ips::pipeline::Engine engine(ips::PipelineOptions{});
        const auto result = engine.generate(q, {}, nullptr);
        QCOMPARE(result.images.size(), std::size_t(1));
        QCOMPARE(result.images.front().width, 64);
    }

    void keySetsEqualTheFiles() {
        // The modules' parameter names are exactly the files' tensor names: weights load by name.
        const std::set<std::string> position_ids = {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"};
        QCOMPARE(parameterNames(*ips::models::load_unet(dataPath("tiny-sd15/unet"), {})),
                 fileKeys(dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors")));
        QCOMPARE(parameterNames(*ips::models::load_vae(dataPath("tiny-sd15/vae"), {})),
                 fileKeys(dataPath("tiny-sd15/vae/diffusion_pytorch_model.safetensors")));
        QCOMPARE(parameterNames(*ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {})),
                 fileKeys(dataPath("tiny-sd15/text_encoder/model.safetensors"), position_ids));
        QCOMPARE(parameterNames(*ips::models::load_image_encoder(dataPath("tiny-sd15/image_encoder"), {})),
                 fileKeys(dataPath("tiny-sd15/image_encoder/model.safetensors"), position_ids));
        QCOMPARE(parameterNames(*ips::models::load_controlnet(dataPath("tiny-controlnet"), {})),
                 fileKeys(dataPath("tiny-controlnet/diffusion_pytorch_model.safetensors")));
    }

    void singleFileEqualsFolder() {
        const auto folder = ips::models::load_pipeline_folder(dataPath("tiny-sd15"), {});
        auto single = ips::models::load_single_file(dataPath("tiny-sd15-single.safetensors"), dataPath("tiny-sd15"), {});
        expectEqualParameters(*folder.unet, *single.unet);
        expectEqualParameters(*folder.vae, *single.vae);
        expectEqualParameters(*folder.text_encoder, *single.text_encoder);
        // And therefore the same outputs.
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_plain");
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        IPS_COMPARE_GOLDEN(g, "noise_pred", single.unet->forward(in));
        const auto d = ipstest::loadGolden("vae_decode");
        IPS_COMPARE_GOLDEN(d, "sample", single.vae->decode(d.input("latents") / 0.18215));
    }

    // VAE files from before diffusers 0.14 (the SD1.5 and sd-vae-ft-mse uploads) name the attention
    // query/key/value/proj_attn: they load into the same parameters.
    void deprecatedVaeAttentionNames() {
        QTemporaryDir dir;
        const std::filesystem::path old = std::filesystem::path(dir.path().toStdString()) / "vae";
        std::filesystem::create_directories(old);
        std::filesystem::copy_file(dataPath("tiny-sd15/vae/config.json"), old / "config.json");
        std::map<std::string, at::Tensor> renamed;
        int renames = 0;
        for (auto& [key, t] : ips::io::load_weights(dataPath("tiny-sd15/vae/diffusion_pytorch_model.safetensors")).tensors) {
            std::string k = key;
            for (auto [from, to] : {std::pair{".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."}, {".to_out.0.", ".proj_attn."}})
                if (auto at = k.find(from); at != std::string::npos) {
                    k.replace(at, std::string(from).size(), to);
                    ++renames;
                }
            renamed.emplace(k, t);
        }
        QCOMPARE(renames, 16);  // weight and bias of four projections, encoder and decoder
        ips::io::save_safetensors(old / "diffusion_pytorch_model.safetensors", renamed);
        expectEqualParameters(*ips::models::load_vae(dataPath("tiny-sd15/vae"), {}), *ips::models::load_vae(old, {}));
    }

    void fp16VariantAndShards() {
        // A folder with only the .fp16 file, split into two shards with an index: loads, converts to fp32.
        const auto folder = scratch("unet-fp16");
        fs::create_directories(folder);
        fs::copy_file(dataPath("tiny-sd15/unet/config.json"), folder / "config.json");
        auto weights = ips::io::load_weights(dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors")).tensors;
        std::map<std::string, at::Tensor> a, b;
        nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
        bool first = true;
        for (const auto& [k, t] : weights) {
            (first ? a : b).emplace(k, t.to(at::kHalf));
            index["weight_map"][k] = first ? "diffusion_pytorch_model.fp16-00001-of-00002.safetensors"
                                           : "diffusion_pytorch_model.fp16-00002-of-00002.safetensors";
            first = !first;
        }
        ips::io::save_safetensors(folder / "diffusion_pytorch_model.fp16-00001-of-00002.safetensors", a);
        ips::io::save_safetensors(folder / "diffusion_pytorch_model.fp16-00002-of-00002.safetensors", b);
        ipstest::writeBytes(folder / "diffusion_pytorch_model.fp16.safetensors.index.json", index.dump());
        const auto unet = ips::models::load_unet(folder, {});
        const auto reference = ips::models::load_unet(dataPath("tiny-sd15/unet"), {});
        const auto loaded = unet->named_parameters(true);
        for (const auto& p : reference->named_parameters(true)) {
            const auto& got = loaded[p.key()];
            QCOMPARE(got.scalar_type(), at::kFloat);
            QVERIFY(at::equal(got, p.value().to(at::kHalf).to(at::kFloat)));
        }
    }

    void wrongKindIsRefused() {
        auto msg = ipstest::loadErrorOf([] { ips::models::load_unet(dataPath("tiny-controlnet"), {}); });
        QVERIFY2(msg.find("controlnet") != std::string::npos && msg.find("expected a unet") != std::string::npos, msg.c_str());
        msg = ipstest::loadErrorOf([] { ips::models::load_text_encoder(dataPath("tiny-sd15/vae"), {}); });
        QVERIFY2(msg.find("holds a vae") != std::string::npos, msg.c_str());
        msg = ipstest::loadErrorOf([] { ips::models::load_single_file(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), dataPath("tiny-sd15"), {}); });
        QVERIFY2(msg.find("ip-adapter") != std::string::npos, msg.c_str());
        msg = ipstest::loadErrorOf([] { ips::models::load_vae(dataPath("tiny-sd15/tokenizer"), {}); });
        QVERIFY2(msg.find("config.json") != std::string::npos, msg.c_str());
    }

    void sdxlConfigIsRefused() {
        const auto folder = scratch("sdxl-unet");
        fs::create_directories(folder);
        fs::copy_file(dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors"), folder / "diffusion_pytorch_model.safetensors");
        ipstest::writeBytes(folder / "config.json",
                            R"({"block_out_channels": [32, 32, 32, 64], "cross_attention_dim": 2048, "addition_embed_type": "text_time",
                                "norm_num_groups": 32})");
        const auto msg = ipstest::loadErrorOf([&] { ips::models::load_unet(folder, {}); });
        QVERIFY2(msg.find("SDXL") != std::string::npos && msg.find("config.json") != std::string::npos, msg.c_str());
    }

    void mismatchListsEveryProblem() {
        // Weights of a slightly different model: one tensor missing, one extra, one with another shape.
        const auto folder = scratch("bad-vae");
        fs::create_directories(folder);
        fs::copy_file(dataPath("tiny-sd15/vae/config.json"), folder / "config.json");
        auto weights = ips::io::load_weights(dataPath("tiny-sd15/vae/diffusion_pytorch_model.safetensors")).tensors;
        std::map<std::string, at::Tensor> changed(weights.begin(), weights.end());
        changed.erase("decoder.conv_out.bias");
        changed["decoder.extra.weight"] = at::zeros({2});
        changed["encoder.conv_in.weight"] = at::zeros({32, 3, 1, 1});
        ips::io::save_safetensors(folder / "diffusion_pytorch_model.safetensors", changed);
        const auto msg = ipstest::loadErrorOf([&] { ips::models::load_vae(folder, {}); });
        QVERIFY2(msg.find("bad-vae") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("missing: decoder.conv_out.bias") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("unexpected: decoder.extra.weight") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("encoder.conv_in.weight got [32, 3, 1, 1] expected [32, 3, 3, 3]") != std::string::npos, msg.c_str());
    }

    void weightsStayMemoryMapped() {
        // fp32 weights loaded as fp32 are views of the file mapping, not copies.
        const auto unet = ips::models::load_unet(dataPath("tiny-sd15/unet"), {});
        const auto& w = unet->conv_in->weight;
        // The storage was not allocated by the CPU allocator: its deleter keeps the mapping alive.
        QVERIFY(w.storage().data_ptr().get_deleter() != c10::GetAllocator(c10::DeviceType::CPU)->raw_deleter());
    }
};

QTEST_GUILESS_MAIN(TestModelLoading)
#include "test_model_loading.moc"
