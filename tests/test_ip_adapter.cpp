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
#include "ips/generation.h"
#include "ips/request_json.h"
#include "models/model_loader.h"
#include "nn/ip_region.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::inputErrorOf;
using namespace ips::ipadapter;

namespace {

// One cross-attention layer in float64 (width 8, 2 heads of 4, 5 queries, 3 context tokens) and the pieces of its
// forward pass computed by hand, for checking what the image attentions add.
struct HandAttention {
    ips::nn::Attention attention{make()};
    std::unique_ptr<c10::InferenceMode> guard = std::make_unique<c10::InferenceMode>();  // after the module: its parameters stay ordinary tensors
    at::Tensor hidden = at::randn({1, 5, 8}, at::kDouble);
    at::Tensor context = at::randn({1, 3, 6}, at::kDouble);
    at::Tensor q = attention->split_heads(attention->to_q(hidden));
    at::Tensor text = attend(q, attention->split_heads(attention->to_k(context)), attention->split_heads(attention->to_v(context)));

    static ips::nn::Attention make() {
        ips::nn::AttentionOptions o;
        o.query_dim = 8;
        o.cross_attention_dim = 6;
        o.heads = 2;
        o.dim_head = 4;
        ips::nn::Attention a(o);
        a->to(at::kDouble);
        return a;
    }
    static at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
        return at::softmax(at::matmul(q, k.transpose(-1, -2)) * 0.5, -1).matmul(v);  // 0.5 = 1/sqrt(dim_head)
    }
    // Heads [1, 2, 5, 4] -> the layer's output [1, 5, 8].
    at::Tensor output(const at::Tensor& heads) {
        return attention->to_out[0]->as<torch::nn::Linear>()->forward(heads.transpose(1, 2).reshape({1, 5, 8}));
    }
};

ImageEmbedding embeds(const at::Tensor& image_embeds) { return {image_embeds, {}}; }
ImageEmbedding hidden(const at::Tensor& hidden_states) { return {{}, hidden_states}; }

bool near(const std::vector<double>& got, const std::vector<double>& expected) {
    if (got.size() != expected.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
        if (std::abs(got[i] - expected[i]) > 1e-12) {
            qWarning("layer %zu: got %.17g, expected %.17g", i, got[i], expected[i]);
            return false;
        }
    return true;
}

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

    // ComfyUI_IPAdapter_plus's weight types on SD1.5's 16 layers (forward order = its transformer_index:
    // down 0-5, mid 6, up 7-15), values worked out by hand from its formulas with weight 1.
    void weightTypesPerLayerAsComfyUI() {
        const auto names = unet->cross_attention_layer_names();
        using V = std::vector<double>;
        auto scales = [&](const char* type, double w = 1.0) { return resolve_layer_scales(w, type, names); };
        QVERIFY(near(scales("linear", 0.7), all(0.7)));
        // ease in: 0.05 + 0.95 * (1 - i/16) = 1 - 0.059375 i
        QVERIFY(near(scales("ease in"), V{1, 0.940625, 0.88125, 0.821875, 0.7625, 0.703125, 0.64375, 0.584375, 0.525, 0.465625,
                                          0.40625, 0.346875, 0.2875, 0.228125, 0.16875, 0.109375}));
        // ease out: 0.05 + 0.95 * i/16 = 0.05 + 0.059375 i (times the weight)
        QVERIFY(near(scales("ease out", 2.0), V{0.1, 0.21875, 0.3375, 0.45625, 0.575, 0.69375, 0.8125, 0.93125, 1.05, 1.16875,
                                                 1.2875, 1.40625, 1.525, 1.64375, 1.7625, 1.88125}));
        // ease in-out: 0.05 + 0.95 * (1 - |i - 8| / 8) = 1 - 0.11875 |i - 8|
        QVERIFY(near(scales("ease in-out"), V{0.05, 0.16875, 0.2875, 0.40625, 0.525, 0.64375, 0.7625, 0.88125, 1, 0.88125, 0.7625,
                                              0.64375, 0.525, 0.40625, 0.2875, 0.16875}));
        // reverse in-out: 0.05 + 0.95 * |i - 8| / 8
        QVERIFY(near(scales("reverse in-out"), V{1, 0.88125, 0.7625, 0.64375, 0.525, 0.40625, 0.2875, 0.16875, 0.05, 0.16875,
                                                 0.2875, 0.40625, 0.525, 0.64375, 0.7625, 0.88125}));
        const double w = 0.2;
        QVERIFY(near(scales("weak input"), V{w, w, w, w, w, w, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
        QVERIFY(near(scales("weak output"), V{1, 1, 1, 1, 1, 1, 1, w, w, w, w, w, w, w, w, w}));
        QVERIFY(near(scales("weak middle"), V{1, 1, 1, 1, 1, 1, w, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
        QVERIFY(near(scales("strong middle"), V{w, w, w, w, w, w, 1, w, w, w, w, w, w, w, w, w}));
        QVERIFY(near(scales("style transfer"), V{1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
        QVERIFY(near(scales("composition", 0.8), V{0, 0, 0, 0, 0.2, 0.8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
        QVERIFY(near(scales("strong style transfer"), V{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
        QVERIFY(near(scales("style and composition"), V{1, 1, 1, 1, 0.25, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
        QVERIFY(near(scales("style transfer precise"), V{1, 1, 1, 1, 0.25, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
        QVERIFY(near(scales("composition precise"), V{1, 1, 1, 1, 0.25, 1, 0.1, 0.1, 0.1, 1, 1, 1, 1, 1, 1, 1}));
        // The old modes are aliases.
        QCOMPARE(scales("full", 0.6), scales("linear", 0.6));
        QCOMPARE(scales("style"), scales("style transfer"));
        // Which tokens each layer gets: the second reference on down_blocks.2 (layers 4, 5) for style and
        // composition; the precise types hand the reference to the unconditional branch only.
        using T = LayerTokens;
        const auto R = T::Reference, C = T::Composition, U = T::UnconditionalOnly;
        QCOMPARE(resolve_layer_tokens("linear", names), std::vector<T>(16, R));
        QCOMPARE(resolve_layer_tokens("style and composition", names), (std::vector<T>{R, R, R, R, C, C, R, R, R, R, R, R, R, R, R, R}));
        QCOMPARE(resolve_layer_tokens("style transfer precise", names), (std::vector<T>{R, R, R, R, U, U, R, R, R, R, R, R, R, R, R, R}));
        QCOMPARE(resolve_layer_tokens("composition precise", names), (std::vector<T>{U, U, U, U, R, R, U, U, U, U, U, U, U, U, U, U}));
        const auto bad = inputErrorOf([&] { scales("ease sideways"); });
        QVERIFY2(bad.find("ease sideways") != std::string::npos && bad.find("'reverse in-out'") != std::string::npos, bad.c_str());
        QVERIFY(inputErrorOf([&] { resolve_layer_scales(nlohmann::json::parse(R"({"mid": 1})"), "ease in", names); })
                    .find("cannot be combined") != std::string::npos);
    }

    // ComfyUI's combine_embeds on known vectors: three "images" [3, 2].
    void combineEmbedsOnKnownVectors() {
        const auto e = at::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 8.0}, at::kDouble).view({3, 2});
        auto check = [&](const char* mode, std::vector<double> expected) {
            const auto got = combine_embeddings(e, mode);
            QCOMPARE(got.sizes().vec(), (std::vector<std::int64_t>{1, 2}));
            for (int i = 0; i < 2; ++i) QVERIFY2(std::abs(got[0][i].item<double>() - expected[i]) < 1e-12, mode);
        };
        check("add", {9, 14});
        check("subtract", {1 - (3 + 5) / 2.0, 2 - (4 + 8) / 2.0});  // the first minus the mean of the rest
        check("average", {3, 14 / 3.0});
        // Each value divided by its norm across the images (sqrt(1+9+25), sqrt(4+16+64)), then the mean.
        check("norm average", {9 / std::sqrt(35.0) / 3, 14 / std::sqrt(84.0) / 3});
        QVERIFY(inputErrorOf([&] { combine_embeddings(e, "concat"); }).find("not a reduction") != std::string::npos);

        // In an adapter: the embeddings are combined before the projection (image weights first), and
        // one unconditional set of tokens goes with the one combined set.
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_base_scale06");
        const auto first = g.input("ip_image_embeds")[1];
        const auto second = first.flip({-1});
        AdapterConditioning c;
        c.adapter = load("ip-adapter_sd15.safetensors");
        c.images = {embeds(first), embeds(second)};
        c.image_weights = {1.0, 0.5};
        c.combine_embeds = "average";
        const auto [uncond, cond] = image_prompt_tokens(c);
        QVERIFY(ipstest::maxAbsDiff(cond, c.adapter->project((first + second * 0.5) / 2)) < 1e-6);
        QCOMPARE(uncond.sizes().vec(), cond.sizes().vec());
        c.combine_embeds = "concat";  // today's behaviour: tokens side by side
        QCOMPARE(image_prompt_tokens(c).second.size(1), 2 * cond.size(1));
    }

    // ComfyUI's embeds_scaling through one attention layer, in float64 against the formulas written out.
    void embedsScalingThroughOneAttention() {
        HandAttention h;
        const auto& [attention, hidden, context, q, text] = std::tie(h.attention, h.hidden, h.context, h.q, h.text);
        const auto k_ip = at::randn({1, 2, 4, 4}, at::kDouble), v_ip = at::randn({1, 2, 4, 4}, at::kDouble);  // [B, heads, N, d]
        const double w = 0.7;
        auto attend = HandAttention::attend;
        auto output = [&](const at::Tensor& heads) { return h.output(heads); };
        const double penalty = w * 8 / 1280.0;  // C = heads * dim_head = 8
        const auto v_mean = v_ip.mean({2}, true);
        const std::vector<std::pair<const char*, at::Tensor>> cases{
            {"V only", w * attend(q, k_ip, v_ip)},
            {"K+V", attend(q, w * k_ip, w * v_ip)},
            {"K+V w/ C penalty", attend(q, penalty * k_ip, penalty * v_ip)},
            {"K+mean(V) w/ C penalty", attend(q, penalty * k_ip, v_ip - v_mean + penalty * v_mean)},
        };
        for (const auto& [mode, ip] : cases) {
            const std::vector<ips::nn::ImagePromptAttention> prompts{scale_image_attention({k_ip, v_ip, w, {}}, mode)};
            const auto got = attention->forward(hidden, context, &prompts);
            QVERIFY2(ipstest::maxAbsDiff(got, output(text + ip)) < 1e-12, mode);
        }
        // V only leaves the tensors alone (the golden path stays bit-identical).
        const auto v_only = scale_image_attention({k_ip, v_ip, w, {}}, "V only");
        QVERIFY(v_only.key.is_same(k_ip) && v_only.value.is_same(v_ip) && v_only.scale == w);
        QVERIFY(inputErrorOf([&] { scale_image_attention({k_ip, v_ip, w, {}}, "Q only"); }).find("'K+V'") != std::string::npos);
    }

    // diffusers' IPAdapterMaskProcessor.downsample grid: mask_h = int(sqrt(Q / ratio)), + 1 unless it divides Q;
    // mask_w = Q // mask_h; the rest of the Q weights are zeros.
    void regionGridAsDiffusers() {
        auto grid = [](std::int64_t h, std::int64_t w, std::int64_t q) {
            const auto g = ips::nn::region_grid(h, w, q);
            return std::make_pair(g.height, g.width);
        };
        QCOMPARE(grid(128, 128, 256), std::make_pair(std::int64_t(16), std::int64_t(16)));
        QCOMPARE(grid(64, 64, 14), std::make_pair(std::int64_t(4), std::int64_t(3)));    // sqrt 3.74 -> 3, 14 % 3 != 0 -> 4
        QCOMPARE(grid(64, 64, 17), std::make_pair(std::int64_t(5), std::int64_t(3)));    // 4 -> 5, 17 // 5 = 3
        QCOMPARE(grid(96, 160, 240), std::make_pair(std::int64_t(12), std::int64_t(20)));  // sqrt(143.99..) = 11.99 -> 11 -> 12
        QCOMPARE(grid(96, 160, 15), std::make_pair(std::int64_t(3), std::int64_t(5)));
        // A white region weighs 1 on the grid's queries and 0 on the padding.
        const auto w = ips::nn::region_query_weights(at::ones({64, 64}), 14, at::kFloat).flatten();
        QCOMPARE(w.size(0), std::int64_t(14));
        QVERIFY((w.narrow(0, 0, 12) - 1).abs().max().item<float>() < 1e-6f);
        QVERIFY(w.narrow(0, 12, 2).abs().max().item<float>() == 0.0f);
        // A left half at 2x2: the left column weighs about 1, the right one about 0 (bicubic overshoot aside).
        at::Tensor half = at::zeros({64, 64});
        half.narrow(1, 0, 32).fill_(1);
        const auto h = ips::nn::region_query_weights(half, 4, at::kFloat).flatten();
        QVERIFY(h[0].item<float>() > 0.9f && h[2].item<float>() > 0.9f);
        QVERIFY(std::abs(h[1].item<float>()) < 0.1f && std::abs(h[3].item<float>()) < 0.1f);
    }

    // With regions, each image's attention is its own softmax times its region's weights (hand-built check).
    void regionsThroughOneAttention() {
        HandAttention h;
        const auto& [attention, hidden, context, q, text] = std::tie(h.attention, h.hidden, h.context, h.q, h.text);
        const auto k1 = at::randn({1, 2, 4, 4}, at::kDouble), v1 = at::randn({1, 2, 4, 4}, at::kDouble);
        const auto k2 = at::randn({1, 2, 4, 4}, at::kDouble), v2 = at::randn({1, 2, 4, 4}, at::kDouble);
        auto attend = HandAttention::attend;
        auto output = [&](const at::Tensor& heads) { return h.output(heads); };
        // 5 queries on a square mask: a 3x1 grid, then two zero weights. Image 1 everywhere, image 2 nowhere.
        const auto m = at::tensor({1.0, 1.0, 1.0, 0.0, 0.0}, at::kDouble).view({1, 1, 5, 1});
        ips::nn::ImagePromptAttention a{k1, v1, 0.7, at::ones({8, 8})}, b{k2, v2, 0.4, at::zeros({8, 8})};
        const std::vector<ips::nn::ImagePromptAttention> prompts{a, b};
        const auto got = attention->forward(hidden, context, &prompts);
        const auto want = output(text + 0.7 * attend(q, k1, v1) * m);
        QVERIFY2(ipstest::maxAbsDiff(got, want) < 1e-6, std::to_string(ipstest::maxAbsDiff(got, want)).c_str());
        // Without regions the same two attentions add everywhere.
        a.region = b.region = at::Tensor();
        const std::vector<ips::nn::ImagePromptAttention> everywhere{a, b};
        QVERIFY(ipstest::maxAbsDiff(attention->forward(hidden, context, &everywhere),
                                    output(text + 0.7 * attend(q, k1, v1) + 0.4 * attend(q, k2, v2))) < 1e-12);
    }

    // Two references feed different layers; the precise types swap the guidance branches.
    void styleAndCompositionAndPreciseLayers() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_base_scale06");
        const auto style = embeds(g.input("ip_image_embeds")[1]);
        const auto composition = embeds(g.input("ip_image_embeds")[1].flip({-1}));
        const auto names = unet->cross_attention_layer_names();
        auto prepared = [&](std::vector<ImageEmbedding> images, const char* type, bool cfg) {
            AdapterConditioning c;
            c.adapter = load("ip-adapter_sd15.safetensors");
            c.images = std::move(images);
            c.weight_type = type;
            c.layer_scales = resolve_layer_scales(1.0, type, names);
            return PreparedImagePrompts(*unet, {c}, {cfg, 1});
        };
        auto both = prepared({style, composition}, "style and composition", true);
        auto style_only = prepared({style}, "linear", true);
        auto composition_only = prepared({composition}, "linear", true);
        const auto& mixed = *both.for_step(0, 1);
        const auto& s = *style_only.for_step(0, 1);
        const auto& k = *composition_only.for_step(0, 1);
        QVERIFY(at::equal(mixed[0][0].key, s[0][0].key) && at::equal(mixed[15][0].value, s[15][0].value));
        QVERIFY(at::equal(mixed[4][0].key, k[4][0].key) && at::equal(mixed[5][0].value, k[5][0].value));
        QCOMPARE(mixed[4][0].scale, 0.25);
        QVERIFY(mixed[6].empty());  // the mid block is off
        QVERIFY(inputErrorOf([&] { prepared({style}, "style and composition", true); }).find("two reference images") != std::string::npos);

        // style transfer precise: on layers 4-5 the uncond half gets the reference, the cond half zeros.
        auto precise = prepared({style}, "style transfer precise", true);
        const auto& p = *precise.for_step(0, 1);
        QVERIFY(ipstest::maxAbsDiff(p[4][0].key[0], s[4][0].key[1]) < 1e-6 && ipstest::maxAbsDiff(p[5][0].value[0], s[5][0].value[1]) < 1e-6);
        QVERIFY(p[4][0].key[1].abs().max().item<double>() == 0.0 && p[5][0].value[1].abs().max().item<double>() == 0.0);
        QVERIFY(at::equal(p[0][0].key, s[0][0].key));
        // Without guidance those layers add nothing.
        auto precise_no_cfg = prepared({style}, "style transfer precise", false);
        QVERIFY((*precise_no_cfg.for_step(0, 1))[4].empty() && !(*precise_no_cfg.for_step(0, 1))[0].empty());
    }

    // The defaults (linear, concat, V only), named or aliased, prepare exactly today's keys and values.
    void defaultControlsAreTodaysBehaviour() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("unet_ip_base_scale06");
        AdapterConditioning c;
        c.adapter = load("ip-adapter_sd15.safetensors");
        c.images = {embeds(g.input("ip_image_embeds")[1]), embeds(g.input("ip_image_embeds")[1].flip({-1}))};
        c.image_weights = {1.0, 0.5};
        c.layer_scales = all(0.6);
        PreparedImagePrompts today(*unet, {c}, {});
        c.weight_type = "full";
        c.combine_embeds = "concat";
        c.embeds_scaling = "V only";
        PreparedImagePrompts named(*unet, {c}, {});
        const auto& a = *today.for_step(0, 1);
        const auto& b = *named.for_step(0, 1);
        for (std::size_t l = 0; l < a.size(); ++l)
            QVERIFY(at::equal(a[l][0].key, b[l][0].key) && at::equal(a[l][0].value, b[l][0].value) && a[l][0].scale == b[l][0].scale);
    }

    // Request JSON: the new fields round trip, "mode" is still read (and written as weight_type), bad
    // values name the field and the allowed values.
    void requestJsonControls() {
        const auto base = std::filesystem::temp_directory_path();
        auto parse = [&](const std::string& adapter) {
            return ips::parse_request_json(R"({"schema": 1, "model": "m", "ip_adapters": [)" + adapter + "]}", base, "t.json");
        };
        const auto old = parse(R"({"scale": 0.5, "mode": "style"})");
        QCOMPARE(QString::fromStdString(old.ip_adapters[0].mode), QString("style transfer"));
        QCOMPARE(QString::fromStdString(old.ip_adapters[0].combine_embeds), QString("concat"));
        QCOMPARE(QString::fromStdString(old.ip_adapters[0].embeds_scaling), QString("V only"));
        QCOMPARE(QString::fromStdString(parse(R"({"mode": "full"})").ip_adapters[0].mode), QString("linear"));
        const auto q = parse(R"({"weight_type": "ease in-out", "combine_embeds": "norm average", "embeds_scaling": "K+mean(V) w/ C penalty"})");
        const auto text = ips::request_to_json(q, base);
        const auto j = nlohmann::json::parse(text)["ip_adapters"][0];
        QVERIFY(!j.contains("mode"));
        QCOMPARE(QString::fromStdString(j["weight_type"].get<std::string>()), QString("ease in-out"));
        const auto back = ips::parse_request_json(text, base, "back.json").ip_adapters[0];
        QCOMPARE(QString::fromStdString(back.mode), QString("ease in-out"));
        QCOMPARE(QString::fromStdString(back.combine_embeds), QString("norm average"));
        QCOMPARE(QString::fromStdString(back.embeds_scaling), QString("K+mean(V) w/ C penalty"));
        // An alias set in code is written under its new name.
        auto aliased = q;
        aliased.ip_adapters[0].mode = "style";
        QCOMPARE(QString::fromStdString(nlohmann::json::parse(ips::request_to_json(aliased, base))["ip_adapters"][0]["weight_type"].get<std::string>()),
                 QString("style transfer"));
        // Bad values.
        const auto type = inputErrorOf([&] { parse(R"({"weight_type": "sharp"})"); });
        QVERIFY2(type.find("ip_adapters[0].weight_type") != std::string::npos && type.find("'style and composition'") != std::string::npos, type.c_str());
        QVERIFY(inputErrorOf([&] { parse(R"({"mode": "dreamy"})"); }).find("ip_adapters[0].mode") != std::string::npos);
        const auto combine = inputErrorOf([&] { parse(R"({"combine_embeds": "max"})"); });
        QVERIFY2(combine.find("combine_embeds") != std::string::npos && combine.find("'norm average'") != std::string::npos, combine.c_str());
        const auto scaling = inputErrorOf([&] { parse(R"({"embeds_scaling": "K only"})"); });
        QVERIFY2(scaling.find("embeds_scaling") != std::string::npos && scaling.find("'K+V w/ C penalty'") != std::string::npos, scaling.c_str());
        // "style and composition" with one picture is refused before any work.
        ips::GenerationRequest r;
        r.model = dataPath("tiny-sd15");
        r.prompt = "a cat";
        ips::IpAdapterSettings a;
        a.path = dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors");
        a.images = {{dataPath("images/scene_128x128.png"), nullptr}};
        a.mode = "style and composition";
        r.ip_adapters = {a};
        const auto one = inputErrorOf([&] { ips::validate_request(r); });
        QVERIFY2(one.find("two reference images") != std::string::npos, one.c_str());
        r.ip_adapters[0].mode = "linear";
        r.ip_adapters[0].combine_embeds = "max";
        QVERIFY(inputErrorOf([&] { ips::validate_request(r); }).find("combine_embeds") != std::string::npos);
        // PNG parameters name the weight type when it is not linear.
        r.ip_adapters[0].combine_embeds = "concat";
        QVERIFY(ips::a1111_parameters(r, 1).find("(scale 1)") != std::string::npos);
        r.ip_adapters[0].mode = "style";
        QVERIFY(ips::a1111_parameters(r, 1).find("(scale 1, style transfer)") != std::string::npos);
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
