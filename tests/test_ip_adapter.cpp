// IP-Adapter: projections, the UNet with image prompts, per-layer scales, cached keys/values, embedding
// cache and files, and the errors for adapters that do not fit — against diffusers' golden outputs.
#include <QtTest>

#include "golden.h"
#include "image/image_io.h"
#include "io/weights.h"
#include "ipadapter/image_embedding.h"
#include "ipadapter/image_prompts.h"
#include "ipadapter/ip_adapter_model.h"
#include "ipadapter/layer_scales.h"
#include "models/model_loader.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::inputErrorOf;
using namespace ips::ipadapter;

namespace {

ImageEmbedding embeds(const at::Tensor& image_embeds) { return {image_embeds, {}}; }
ImageEmbedding hidden(const at::Tensor& hidden_states) { return {{}, hidden_states}; }

}  // namespace

class TestIpAdapter : public QObject {
    Q_OBJECT
    ips::nn::UNet2DConditionModel unet{nullptr};

    IPAdapterModel load(const std::string& file) { return load_ip_adapter(dataPath("tiny-ip-adapter/" + file), *unet, {}); }

    std::vector<double> all(double s) { return std::vector<double>(unet->cross_attention_layers().size(), s); }

    // The golden UNet-with-IP case: its uncond/cond inputs, through our prepared image prompts.
    at::Tensor unetWithImagePrompt(const ipstest::GoldenCase& g, IPAdapterModel adapter, bool cache_text) {
        const double scale = g.spec["params"]["ip_adapter_scale"].get<double>();
        const auto inputs = g.input("ip_image_embeds");  // [2, 1, ...]: uncond, cond
        AdapterConditioning c;
        c.adapter = adapter;
        if (adapter->uses_hidden_states()) {
            c.images = {hidden(inputs[1])};
            c.negative = hidden(inputs[0]);
        } else {
            c.images = {embeds(inputs[1])};  // negative: zeros, as diffusers
        }
        c.layer_scales = all(scale);
        PreparedImagePrompts prompts(*unet, {c}, {});
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        in.image_prompts = prompts.for_step(0, 1);
        std::vector<ips::nn::KeyValue> text;
        if (cache_text) {
            text = unet->precompute_text_key_values(in.encoder_hidden_states);
            in.text_key_values = &text;
        }
        return unet->forward(in);
    }

private Q_SLOTS:
    void initTestCase() { unet = ips::models::load_unet(dataPath("tiny-sd15/unet"), {}); }

    void projections_data() {
        QTest::addColumn<QString>("id");
        QTest::addColumn<QString>("file");
        for (const char* ext : {".safetensors", ".bin"}) {
            QTest::newRow((std::string("base") + ext).c_str()) << "ip_proj_base" << QString("ip-adapter_sd15") + ext;
            QTest::newRow((std::string("plus") + ext).c_str()) << "ip_proj_plus" << QString("ip-adapter-plus_sd15") + ext;
            QTest::newRow((std::string("full") + ext).c_str()) << "ip_proj_full" << QString("ip-adapter-full-face_sd15") + ext;
        }
    }
    void projections() {
        QFETCH(QString, id);
        QFETCH(QString, file);
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden(id.toStdString());
        auto adapter = load(file.toStdString());
        IPS_COMPARE_GOLDEN(g, "tokens", adapter->project(g.input("embeds")));
        IPS_COMPARE_GOLDEN(g, "negative_tokens", adapter->project(g.input("negative_embeds")));
        // Two images of one adapter: tokens side by side; the unconditional side repeats the negative.
        AdapterConditioning c;
        c.adapter = adapter;
        const auto in = g.input("embeds");
        const bool h = adapter->uses_hidden_states();
        c.images = {h ? hidden(in.slice(0, 0, 1)) : embeds(in.slice(0, 0, 1)), h ? hidden(in.slice(0, 1, 2)) : embeds(in.slice(0, 1, 2))};
        c.negative = h ? hidden(g.input("negative_embeds")) : embeds(g.input("negative_embeds"));
        const auto [uncond, cond] = image_prompt_tokens(c);
        const auto tokens = g.output("tokens");
        QVERIFY(ipstest::maxAbsDiff(cond, tokens.flatten(0, 1).unsqueeze(0)) <= g.atol("tokens"));
        const auto neg = g.output("negative_tokens");
        QVERIFY(ipstest::maxAbsDiff(uncond, at::cat({neg, neg}, 1)) <= g.atol("negative_tokens"));
    }

    void variantsDetected() {
        QCOMPARE(QString::fromStdString(load("ip-adapter_sd15.safetensors")->variant), QString("base"));
        QCOMPARE(QString::fromStdString(load("ip-adapter-plus_sd15.bin")->variant), QString("plus"));
        QCOMPARE(QString::fromStdString(load("ip-adapter-full-face_sd15.safetensors")->variant), QString("full-face"));
        QCOMPARE(load("ip-adapter-plus_sd15.safetensors")->input_dim, std::int64_t(48));
    }

    void unetWithImagePrompts_data() {
        QTest::addColumn<QString>("id");
        QTest::addColumn<QString>("file");
        QTest::newRow("base 0.0") << "unet_ip_base_scale00" << "ip-adapter_sd15.safetensors";
        QTest::newRow("base 0.6") << "unet_ip_base_scale06" << "ip-adapter_sd15.safetensors";
        QTest::newRow("base 1.0") << "unet_ip_base_scale10" << "ip-adapter_sd15.bin";
        QTest::newRow("plus 0.6") << "unet_ip_plus_scale06" << "ip-adapter-plus_sd15.safetensors";
    }
    void unetWithImagePrompts() {
        QFETCH(QString, id);
        QFETCH(QString, file);
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden(id.toStdString());
        auto adapter = load(file.toStdString());
        // The projected tokens diffusers used.
        AdapterConditioning c;
        c.adapter = adapter;
        const auto inputs = g.input("ip_image_embeds");
        c.images = {adapter->uses_hidden_states() ? hidden(inputs[1]) : embeds(inputs[1])};
        if (adapter->uses_hidden_states()) c.negative = hidden(inputs[0]);
        const auto [uncond, cond] = image_prompt_tokens(c);
        IPS_COMPARE_GOLDEN(g, "ip_tokens", at::stack({uncond, cond}));
        IPS_COMPARE_GOLDEN(g, "noise_pred", unetWithImagePrompt(g, adapter, false));
    }

    void scaleZeroIsThePlainUnet() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_base_scale00");
        const auto with_ip = unetWithImagePrompt(g, load("ip-adapter_sd15.safetensors"), false);
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        QVERIFY(at::equal(with_ip, unet->forward(in)));
        // And a real scale changes the result.
        const auto g6 = ipstest::loadGolden("unet_ip_base_scale06");
        QVERIFY(ipstest::maxAbsDiff(unetWithImagePrompt(g6, load("ip-adapter_sd15.safetensors"), false), with_ip) > 1e-3);
    }

    void cachedKeysValuesGiveTheUncachedResult() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_plus_scale06");
        auto adapter = load("ip-adapter-plus_sd15.safetensors");
        // Prompt keys/values precomputed once vs projected inside every layer: bit for bit equal.
        const auto uncached = unetWithImagePrompt(g, adapter, false);
        QVERIFY(at::equal(unetWithImagePrompt(g, adapter, true), uncached));
        // Image keys/values projected once and reused over several steps: every step equals a fresh
        // projection (nothing mutates the cached tensors).
        AdapterConditioning c;
        c.adapter = adapter;
        c.images = {hidden(g.input("ip_image_embeds")[1])};
        c.negative = hidden(g.input("ip_image_embeds")[0]);
        c.layer_scales = all(0.6);
        c.image_weights = {0.5};
        PreparedImagePrompts once(*unet, {c}, {});
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        const auto text = unet->precompute_text_key_values(in.encoder_hidden_states);
        in.text_key_values = &text;
        for (int step = 0; step < 3; ++step) {
            in.image_prompts = once.for_step(step, 3);
            const auto cached = unet->forward(in);
            PreparedImagePrompts fresh(*unet, {c}, {});
            ips::nn::UNetInputs plain = in;
            plain.text_key_values = nullptr;
            plain.image_prompts = fresh.for_step(step, 3);
            QVERIFY(at::equal(cached, unet->forward(plain)));
        }
    }

    void imageWeightsAndSeveralAdapters() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_base_scale06");
        auto base = load("ip-adapter_sd15.safetensors");
        const auto image = embeds(g.input("ip_image_embeds")[1]);
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        auto run = [&](std::vector<AdapterConditioning> adapters) {
            PreparedImagePrompts p(*unet, std::move(adapters), {});
            in.image_prompts = p.for_step(0, 1);
            return unet->forward(in);
        };
        AdapterConditioning one;
        one.adapter = base;
        one.images = {image};
        one.layer_scales = all(0.6);
        const auto reference = run({one});
        IPS_COMPARE_GOLDEN(g, "noise_pred", reference);
        // Weight 1 is the reference behaviour exactly.
        auto weighted = one;
        weighted.image_weights = {1.0};
        QVERIFY(at::equal(run({weighted}), reference));
        // Weight 0.5 on the only image equals scale 0.3 (the weight scales that image's values).
        weighted.image_weights = {0.5};
        auto half_scale = one;
        half_scale.layer_scales = all(0.3);
        QVERIFY(ipstest::maxAbsDiff(run({weighted}), run({half_scale})) < 1e-5);
        // Two adapters at 0.3 each on the same image add up to one at 0.6.
        QVERIFY(ipstest::maxAbsDiff(run({half_scale, half_scale}), reference) < 1e-5);
        // An adapter outside its start/end range adds nothing.
        auto late = one;
        late.start = 0.5;
        PreparedImagePrompts p(*unet, {late}, {});
        QVERIFY(p.for_step(0, 10) == nullptr);
        QVERIFY(p.for_step(5, 10) != nullptr);
        QVERIFY(p.for_step(9, 10) != nullptr);
    }

    void batchLayoutRepeatsTokens() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_base_scale06");
        AdapterConditioning c;
        c.adapter = load("ip-adapter_sd15.safetensors");
        c.images = {embeds(g.input("ip_image_embeds")[1])};
        c.layer_scales = all(0.6);
        PreparedImagePrompts p(*unet, {c}, {true, 3});
        const auto* layers = p.for_step(0, 1);
        QCOMPARE((*layers)[0][0].key.size(0), std::int64_t(6));
        QVERIFY(at::equal((*layers)[0][0].key[0], (*layers)[0][0].key[2]));  // uncond copies
        QVERIFY(at::equal((*layers)[0][0].key[3], (*layers)[0][0].key[5]));  // cond copies
        QVERIFY(!at::equal((*layers)[0][0].key[0], (*layers)[0][0].key[3]));
        PreparedImagePrompts no_cfg(*unet, {c}, {false, 2});
        QCOMPARE((*no_cfg.for_step(0, 1))[0][0].key.size(0), std::int64_t(2));
    }

    void layerScalesAsDiffusers() {
        const auto names = unet->cross_attention_layer_names();
        QCOMPARE(names.size(), std::size_t(16));
        QCOMPARE(QString::fromStdString(names[6]), QString("mid_block.attentions.0.transformer_blocks.0.attn2"));
        // Forward order: down 0-5, mid 6, up 7-15. The issue's example dict:
        const auto scales = resolve_layer_scales(
            nlohmann::json::parse(R"({"down": {"block_2": [0.0, 1.0]}, "mid": 0.5, "up": {"block_1": [0.0, 1.0, 0.0]}})"), "full", names);
        const std::vector<double> expected{0, 0, 0, 0, 0, 1, 0.5, 0, 1, 0, 0, 0, 0, 0, 0, 0};
        QCOMPARE(scales, expected);
        // One number per block, and a whole part.
        QCOMPARE(resolve_layer_scales(nlohmann::json::parse(R"({"up": 0.7})"), "full", names),
                 (std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7}));
        QCOMPARE(resolve_layer_scales(0.8, "full", names), all(0.8));
        // ComfyUI_IPAdapter_plus's SD1.5 layer sets.
        QCOMPARE(resolve_layer_scales(1.0, "style", names),
                 (std::vector<double>{1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
        QCOMPARE(resolve_layer_scales(0.8, "composition", names),
                 (std::vector<double>{0, 0, 0, 0, 0.2, 0.8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
        // Errors: a block without attention (SD1.5's up_blocks.0), wrong counts, unknown names.
        auto error = [&](const char* json, const char* mode = "full") {
            return inputErrorOf([&] { resolve_layer_scales(nlohmann::json::parse(json), mode, names); });
        };
        QVERIFY(error(R"({"up": {"block_0": 1.0}})").find("up.block_0 has no attention layers") != std::string::npos);
        QVERIFY(error(R"({"down": {"block_3": 1.0}})").find("down.block_3") != std::string::npos);
        QVERIFY(error(R"({"down": {"block_1": [1, 2, 3]}})").find("has 3 values, the block has 2") != std::string::npos);
        QVERIFY(error(R"({"side": 1})").find("unknown key 'side'") != std::string::npos);
        QVERIFY(error(R"({"down": {"blk_1": 1}})").find("not block_N") != std::string::npos);
        QVERIFY(error(R"(1.0)", "dreamy").find("unknown") != std::string::npos);
        QVERIFY(error(R"({"mid": 1})", "style").find("cannot be combined") != std::string::npos);
        QVERIFY(error(R"("high")").find("must be a number") != std::string::npos);
    }

    void trainingCheckpointNames() {
        // image_proj_model.* / adapter_modules.* (the training script's names) load the same adapter.
        c10::InferenceMode guard;
        QTemporaryDir dir;
        auto w = ips::io::load_weights(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors")).tensors;
        std::map<std::string, at::Tensor> renamed;
        for (const auto& [k, t] : w) {
            const bool proj = k.rfind("image_proj.", 0) == 0;
            renamed[(proj ? "image_proj_model." + k.substr(11) : "adapter_modules." + k.substr(11))] = t;
        }
        renamed["unet.conv_in.weight"] = at::zeros({4, 4, 3, 3});
        const auto file = std::filesystem::path(dir.path().toStdString()) / "checkpoint.safetensors";
        ips::io::save_safetensors(file, renamed);
        auto from_training = load_ip_adapter(file, *unet, {});
        const auto g = ipstest::loadGolden("ip_proj_base");
        IPS_COMPARE_GOLDEN(g, "tokens", from_training->project(g.input("embeds")));
    }

    void adaptersThatDoNotFit() {
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        // An SDXL adapter: key width 2048, 70 layers (a few suffice for the check).
        std::map<std::string, at::Tensor> sdxl{{"image_proj.proj.weight", at::zeros({4 * 2048, 1280})},
                                               {"image_proj.proj.bias", at::zeros({4 * 2048})},
                                               {"image_proj.norm.weight", at::zeros({2048})},
                                               {"image_proj.norm.bias", at::zeros({2048})}};
        for (int i = 1; i < 140; i += 2)
            for (const char* kv : {"to_k_ip", "to_v_ip"})
                sdxl["ip_adapter." + std::to_string(i) + "." + kv + ".weight"] = at::zeros({4, 2048});
        ips::io::save_safetensors(folder / "ip-adapter_sdxl.safetensors", sdxl);
        auto message = ipstest::loadErrorOf([&] { load_ip_adapter(folder / "ip-adapter_sdxl.safetensors", *unet, {}); });
        QVERIFY2(message.find("ip-adapter_sdxl.safetensors: an IP-Adapter for sdxl (cross_attention_dim 2048, 70 attention layers)") !=
                     std::string::npos, message.c_str());

        // FaceID: not supported yet, and said so.
        std::map<std::string, at::Tensor> faceid{{"image_proj.proj.0.weight", at::zeros({1024, 512})},
                                                 {"image_proj.norm.weight", at::zeros({32})},
                                                 {"ip_adapter.1.to_k_ip.weight", at::zeros({32, 32})},
                                                 {"ip_adapter.1.to_k_lora.down.weight", at::zeros({4, 32})}};
        ips::io::save_safetensors(folder / "faceid.safetensors", faceid);
        message = ipstest::loadErrorOf([&] { load_ip_adapter(folder / "faceid.safetensors", *unet, {}); });
        QVERIFY2(message.find("faceid.safetensors: IP-Adapter FaceID is not supported yet") != std::string::npos, message.c_str());

        // Not an adapter at all.
        message = ipstest::loadErrorOf(
            [&] { load_ip_adapter(dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors"), *unet, {}); });
        QVERIFY2(message.find("expected an IP-Adapter") != std::string::npos, message.c_str());

        // Truncated file.
        const auto bytes = ipstest::readBytes(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"));
        ipstest::writeBytes(folder / "cut.safetensors", bytes.substr(0, bytes.size() / 2));
        message = ipstest::loadErrorOf([&] { load_ip_adapter(folder / "cut.safetensors", *unet, {}); });
        QVERIFY2(message.find("cut.safetensors") != std::string::npos, message.c_str());

        // An adapter for a bigG encoder with a ViT-H one (widths as the real models).
        auto adapter = load("ip-adapter_sd15.safetensors");
        ips::io::CLIPVisionConfig vit_h;
        vit_h.hidden_size = 1280;
        vit_h.projection_dim = 1024;
        adapter->input_dim = 1280;
        message = ipstest::loadErrorOf([&] { check_image_encoder(*adapter, vit_h, "image_encoder"); });
        QVERIFY2(message.find("image_embeds of width 1280 (ViT-bigG/14); image_encoder gives 1024 (ViT-H/14)") != std::string::npos,
                 message.c_str());
        // The tiny pair fits.
        auto tiny = load("ip-adapter-plus_sd15.safetensors");
        const auto encoder = ips::models::load_image_encoder(dataPath("tiny-sd15/image_encoder"), {});
        check_image_encoder(*tiny, encoder->config, "tiny");
    }

    void embeddingCacheAndFiles() {
        c10::InferenceMode guard;
        auto encoder = ImageEncoder::load(dataPath("tiny-sd15/image_encoder"), {});
        const auto image = ips::image::read_image_rgb(dataPath("images/shapes_100x75.png"));
        ImageEmbeddingCache cache;
        const auto first = cache.encode(encoder, image, ips::CropMode::Center);
        const auto again = cache.encode(encoder, image, ips::CropMode::Center);
        QCOMPARE(cache.misses(), std::size_t(1));
        QVERIFY(at::equal(first.image_embeds, again.image_embeds));
        cache.encode(encoder, image, ips::CropMode::Pad);
        QCOMPARE(cache.misses(), std::size_t(2));
        // The golden image_embeds of this picture (preprocessing + encoder end to end).
        const auto g = ipstest::loadGolden("clip_image_shapes_100x75");
        IPS_COMPARE_GOLDEN(g, "image_embeds", first.image_embeds);
        IPS_COMPARE_GOLDEN(g, "penultimate_hidden_state", first.hidden_states);
        const auto zeros = ipstest::loadGolden("clip_image_zeros");
        IPS_COMPARE_GOLDEN(zeros, "penultimate_hidden_state", encoder.encode_zero_image().hidden_states);

        // Round trip through a file, then use it without the encoder.
        QTemporaryDir dir;
        const auto file = std::filesystem::path(dir.path().toStdString()) / std::filesystem::u8path("référence.safetensors");
        save_image_embedding(file, first, {{"crop", "center"}});
        std::map<std::string, std::string> meta;
        const auto loaded = load_image_embedding(file, &meta);
        QVERIFY(at::equal(loaded.image_embeds, first.image_embeds));
        QVERIFY(at::equal(loaded.hidden_states, first.hidden_states));
        QCOMPARE(QString::fromStdString(meta["crop"]), QString("center"));
        // An adapter file is not an embedding file.
        const auto message =
            inputErrorOf([&] { load_image_embedding(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors")); });
        QVERIFY2(message.find("not an image embedding file") != std::string::npos, message.c_str());
        // Embeddings of the wrong width for the adapter: named.
        AdapterConditioning c;
        c.adapter = load("ip-adapter_sd15.safetensors");
        c.images = {embeds(at::zeros({1, 7}))};
        c.layer_scales = all(1.0);
        const auto wrong = inputErrorOf([&] { PreparedImagePrompts(*unet, {c}, {}); });
        QVERIFY2(wrong.find("7-wide image_embeds, the adapter expects 24") != std::string::npos, wrong.c_str());
    }
};

QTEST_GUILESS_MAIN(TestIpAdapter)
#include "test_ip_adapter.moc"
