// LoRA: every file format merged into the tiny UNet and text encoder against diffusers' fused weights and
// outputs (tests/data/lora, made by tools/oracle/make_lora_golden.py), LoHa/LoKr against the formulas
// computed here, weight changes and removal (bit-identical), the errors, and detection.
#include <QtTest>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "golden.h"
#include "io/json_file.h"
#include "io/sha256.h"
#include "io/weights.h"
#include "ips/generation.h"
#include "ips/model_discovery.h"
#include "ips/request_json.h"
#include "ips/model_info.h"
#include "lora/lora_hash.h"
#include "lora/lora_keys.h"
#include "lora/lora_model.h"
#include "models/model_loader.h"
#include "nn/packed_conv.h"
#include "pipeline/engine.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::loadErrorOf;
using ips::lora::LoraRequest;
using ips::lora::LoraState;

namespace {

namespace fs = std::filesystem;

// A case of tests/data/lora/golden/manifest.json.
ipstest::GoldenCase loraGolden(const std::string& id) {
    static const auto manifest = nlohmann::json::parse(ips::io::read_text_file(dataPath("lora/golden/manifest.json")));
    for (const auto& c : manifest.at("cases")) {
        if (c.at("id") != id) continue;
        ipstest::GoldenCase g;
        g.spec = c;
        for (auto& [k, t] : ips::io::load_weights(dataPath("lora/golden/" + c.at("file").get<std::string>())).tensors)
            g.tensors.emplace(k, t.clone());
        return g;
    }
    throw std::runtime_error("no LoRA golden case " + id);
}

using Snapshot = std::map<std::string, at::Tensor>;

Snapshot snapshot(torch::nn::Module& m) {
    Snapshot s;
    for (const auto& p : m.named_parameters()) s.emplace(p.key(), p.value().detach().clone());
    return s;
}

// Names of the parameters that are not bit-identical to the snapshot.
std::vector<std::string> changed(torch::nn::Module& m, const Snapshot& s) {
    std::vector<std::string> out;
    for (const auto& p : m.named_parameters())
        if (!at::equal(p.value(), s.at(p.key()))) out.push_back(p.key());
    return out;
}

const std::string kToQ = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
const std::string kConv1 = "down_blocks.0.resnets.0.conv1";

std::string kohya(const std::string& module) { return "lora_unet_" + ips::lora::flatten_module_name(module); }

}  // namespace

class TestLora : public QObject {
    Q_OBJECT
    ips::nn::UNet2DConditionModel unet{nullptr};
    ips::nn::CLIPTextModel text{nullptr};
    Snapshot unet_base, text_base;
    QTemporaryDir tmp;

    fs::path scratch(const std::string& name) { return fs::path(tmp.path().toStdString()) / name; }

    void apply(LoraState& s, const std::vector<LoraRequest>& l) { s.apply(*unet, text.get(), l); }

    void expectBase() {
        QCOMPARE(changed(*unet, unet_base).size(), std::size_t(0));
        QCOMPARE(changed(*text, text_base).size(), std::size_t(0));
    }

    // Parameter `p` ("unet.<name>" / "text_encoder.<name>").
    at::Tensor param(const std::string& p) {
        if (p.rfind("unet.", 0) == 0) return unet->named_parameters()[p.substr(5)];
        return text->named_parameters()[p.substr(13)];
    }

    void compareOutputs(const ipstest::GoldenCase& g, double* te_diff = nullptr, double* unet_diff = nullptr) {
        c10::InferenceMode guard;
        const auto te = text->forward(g.input("input_ids")).last_hidden_state;
        ips::nn::UNetInputs in;
        in.sample = g.input("latents");
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states");
        const auto noise = unet->forward(in);
        if (te_diff) *te_diff = ipstest::maxAbsDiff(te, g.output("text_encoder_last_hidden_state"));
        if (unet_diff) *unet_diff = ipstest::maxAbsDiff(noise, g.output("noise_pred"));
        IPS_COMPARE_GOLDEN(g, "text_encoder_last_hidden_state", te);
        IPS_COMPARE_GOLDEN(g, "noise_pred", noise);
    }

    // A file of `tensors` in the scratch folder.
    fs::path write(const std::string& name, const std::map<std::string, at::Tensor>& tensors) {
        const auto p = scratch(name);
        ips::io::save_safetensors(p, tensors);
        return p;
    }

    // A valid two-module kohya file (linear + 3x3 conv) to build broken variants from.
    std::map<std::string, at::Tensor> goodKohya() {
        at::manual_seed(7);
        return {
            {kohya(kToQ) + ".lora_down.weight", at::randn({4, 32}) * 0.1},
            {kohya(kToQ) + ".lora_up.weight", at::randn({32, 4}) * 0.1},
            {kohya(kToQ) + ".alpha", at::scalar_tensor(2.0)},
            {kohya(kConv1) + ".lora_down.weight", at::randn({2, 32, 3, 3}) * 0.1},
            {kohya(kConv1) + ".lora_up.weight", at::randn({32, 2, 1, 1}) * 0.1},
        };
    }

    // Applying `file` fails with a ModelLoadError containing every `parts`, and leaves the model as it was.
    void expectRefused(const fs::path& file, const std::vector<std::string>& parts) {
        LoraState s;
        apply(s, {{dataPath("lora/kohya_noalpha.safetensors"), 0.5}});
        const auto before_unet = snapshot(*unet);
        const auto before_text = snapshot(*text);
        const std::string msg = loadErrorOf([&] { apply(s, {{dataPath("lora/peft.safetensors"), 1.0}, {file, 1.0}}); });
        QVERIFY2(!msg.empty(), file.string().c_str());
        QVERIFY2(msg.find(file.filename().string()) != std::string::npos, msg.c_str());
        for (const auto& p : parts) QVERIFY2(msg.find(p) != std::string::npos, (msg + "  [expected: " + p + "]").c_str());
        QCOMPARE(changed(*unet, before_unet).size(), std::size_t(0));
        QCOMPARE(changed(*text, before_text).size(), std::size_t(0));
        apply(s, {});
        expectBase();
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp.isValid());
        unet = ips::models::load_unet(dataPath("tiny-sd15/unet"), {});
        text = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {});
        unet_base = snapshot(*unet);
        text_base = snapshot(*text);
    }

    void goldens_data() {
        QTest::addColumn<QString>("id");
        QTest::addColumn<QString>("file");
        QTest::newRow("kohya alpha") << "lora_kohya_alpha" << "kohya_alpha.safetensors";
        QTest::newRow("kohya alpha .bin") << "lora_kohya_alpha" << "kohya_alpha.bin";
        QTest::newRow("kohya no alpha") << "lora_kohya_noalpha" << "kohya_noalpha.safetensors";
        QTest::newRow("kohya LDM names") << "lora_kohya_ldm" << "kohya_ldm.safetensors";
        QTest::newRow("diffusers old") << "lora_diffusers_old" << "diffusers_old.safetensors";
        QTest::newRow("peft") << "lora_peft" << "peft.safetensors";
    }
    // load_lora_weights + fuse_lora(lora_scale): the fused weights and both networks' outputs.
    void goldens() {
        QFETCH(QString, id);
        QFETCH(QString, file);
        const auto g = loraGolden(id.toStdString());
        const double scale = g.spec["params"]["lora_scale"].get<double>();
        LoraState s;
        apply(s, {{dataPath("lora/" + file.toStdString()), scale}});
        std::size_t fused = 0;
        double worst = 0;
        for (const auto& [name, spec] : g.spec["outputs"].items()) {
            if (name.rfind("fused.", 0) != 0) continue;
            ++fused;
            const auto got = param(name.substr(6));
            worst = std::max(worst, ipstest::maxAbsDiff(got, g.output(name)));
            IPS_COMPARE_GOLDEN(g, name, got);
        }
        QCOMPARE(s.modified_parameters(), fused);
        double te = 0, un = 0;
        compareOutputs(g, &te, &un);
        qInfo("%s: %zu fused weights, max diff %.3g; text encoder %.3g (atol %.1g); noise_pred %.3g (atol %.1g)",
              qPrintable(file), fused, worst, te, g.atol("text_encoder_last_hidden_state"), un, g.atol("noise_pred"));
        apply(s, {});
        expectBase();
        QCOMPARE(s.modified_parameters(), std::size_t(0));
    }

    // set_adapters(["a", "b"], [0.7, -0.4]) on two files.
    void twoLoras() {
        const auto g = loraGolden("lora_two_adapters");
        const auto w = g.spec["params"]["weights"];
        LoraState s;
        apply(s, {{dataPath("lora/kohya_alpha.safetensors"), w[0].get<double>()},
                  {dataPath("lora/peft.safetensors"), w[1].get<double>()}});
        double te = 0, un = 0;
        compareOutputs(g, &te, &un);
        qInfo("two LoRAs: text encoder %.3g, noise_pred %.3g", te, un);
        apply(s, {});
        expectBase();
    }

    // Weight changes re-apply from the originals (no drift) and write only the parameters they change.
    void weightChanges() {
        const auto a = dataPath("lora/kohya_alpha.safetensors");     // 13 modules
        const auto b = write("two_modules.safetensors", goodKohya());  // to_q + conv1, both also in a
        LoraState s;
        apply(s, {{a, 0.8}});
        QCOMPARE(s.last_written(), std::size_t(13));
        const auto once = snapshot(*unet);
        const auto once_text = snapshot(*text);
        apply(s, {{a, 0.8}});
        QCOMPARE(s.last_written(), std::size_t(0));
        apply(s, {{a, 0.3}});
        QCOMPARE(s.last_written(), std::size_t(13));
        apply(s, {{a, 0.8}, {b, 0.5}});
        QCOMPARE(s.last_written(), std::size_t(13));
        apply(s, {{a, 0.8}, {b, -1.5}});
        QCOMPARE(s.last_written(), std::size_t(2));
        QCOMPARE(s.modified_parameters(), std::size_t(13));
        apply(s, {{a, 0.8}});
        QCOMPARE(s.last_written(), std::size_t(2));
        QCOMPARE(changed(*unet, once).size(), std::size_t(0));
        QCOMPARE(changed(*text, once_text).size(), std::size_t(0));
        apply(s, {{b, 1.0}});
        QCOMPARE(s.modified_parameters(), std::size_t(2));
        apply(s, {});
        expectBase();
        QCOMPARE(s.signature(), std::string());
    }

    // In bfloat16 the merge is done in float32 and rounded once; removal restores the bf16 base exactly.
    void bfloat16() {
        auto text16 = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {at::kBFloat16, at::kCPU});
        auto unet16 = ips::models::load_unet(dataPath("tiny-sd15/unet"), {at::kBFloat16, at::kCPU, true});
        const auto base_unet = snapshot(*unet16);
        const auto base_text = snapshot(*text16);
        const auto g = loraGolden("lora_kohya_alpha");
        // A forward before the merge: where convolution weights are packed (nn/packed_conv), the packed copies
        // must follow the merge, so the merged UNet gives what LibTorch's own convolutions give.
        ips::nn::UNetInputs in;
        in.sample = g.input("latents").to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        in.timestep = g.input("timestep");
        in.encoder_hidden_states = g.input("encoder_hidden_states").to(at::kBFloat16);
        const auto forward = [&] {
            c10::InferenceMode guard;
            return unet16->forward(in);
        };
        ips::nn::set_packed_conv_enabled(true);  // where this CPU has the kernel (off by default)
        const at::Tensor before = forward();
        LoraState s;
        s.apply(*unet16, text16.get(), {{dataPath("lora/kohya_alpha.safetensors"), 0.8}});
        const at::Tensor merged = forward();
        QVERIFY(!at::equal(merged, before));
        ips::nn::set_packed_conv_enabled(false);
        QVERIFY(at::equal(merged, forward()));
        ips::nn::set_packed_conv_enabled(ips::nn::packed_conv_default());
        for (const auto& [name, spec] : g.spec["outputs"].items()) {
            if (name.rfind("fused.unet.", 0) != 0) continue;
            const std::string p = name.substr(11);
            const auto got = unet16->named_parameters()[p];
            QCOMPARE(got.scalar_type(), at::kBFloat16);
            // diffusers' float32 fused weight rounded once to bf16: equal up to one bf16 step.
            const auto want = g.output(name).to(at::kBFloat16).to(at::kFloat);
            const double step = want.abs().max().item<double>() / 128.0;
            QVERIFY2(ipstest::maxAbsDiff(got.to(at::kFloat), want) <= step, p.c_str());
        }
        s.apply(*unet16, text16.get(), {});
        QCOMPARE(changed(*unet16, base_unet).size(), std::size_t(0));
        QCOMPARE(changed(*text16, base_text).size(), std::size_t(0));
    }

    // LyCORIS LoHa and LoKr (which diffusers cannot load) against the formulas with plain torch ops.
    void lohaLokr() {
        at::manual_seed(3);
        const std::string te_fc1 = "text_model.encoder.layers.2.mlp.fc1";  // [64, 32]
        const std::string cs = "up_blocks.1.resnets.0.conv_shortcut";     // [32, 96, 1, 1]
        std::map<std::string, at::Tensor> t;
        // LoHa, linear (rank 3, alpha 1.5) and 3x3 conv (rank 2, no alpha).
        const auto q1a = at::randn({32, 3}) * 0.3, q1b = at::randn({3, 32}) * 0.3;
        const auto q2a = at::randn({32, 3}) * 0.3, q2b = at::randn({3, 32}) * 0.3;
        t[kohya(kToQ) + ".hada_w1_a"] = q1a, t[kohya(kToQ) + ".hada_w1_b"] = q1b;
        t[kohya(kToQ) + ".hada_w2_a"] = q2a, t[kohya(kToQ) + ".hada_w2_b"] = q2b;
        t[kohya(kToQ) + ".alpha"] = at::scalar_tensor(1.5);
        const auto c1a = at::randn({32, 2}) * 0.2, c1b = at::randn({2, 32 * 9}) * 0.2;
        const auto c2a = at::randn({32, 2}) * 0.2, c2b = at::randn({2, 32 * 9}) * 0.2;
        t[kohya(kConv1) + ".hada_w1_a"] = c1a, t[kohya(kConv1) + ".hada_w1_b"] = c1b;
        t[kohya(kConv1) + ".hada_w2_a"] = c2a, t[kohya(kConv1) + ".hada_w2_b"] = c2b;
        // LoKr, linear (full w1, factorised w2 rank 2, alpha 1) and 1x1 conv (both full: scale 1 whatever alpha).
        const auto k1 = at::randn({4, 2}) * 0.3, k2a = at::randn({16, 2}) * 0.3, k2b = at::randn({2, 16}) * 0.3;
        const std::string te_key = "lora_te_" + ips::lora::flatten_module_name(te_fc1);
        t[te_key + ".lokr_w1"] = k1, t[te_key + ".lokr_w2_a"] = k2a, t[te_key + ".lokr_w2_b"] = k2b;
        t[te_key + ".alpha"] = at::scalar_tensor(1.0);
        const auto s1 = at::randn({2, 4}) * 0.3, s2 = at::randn({16, 24, 1, 1}) * 0.3;
        t[kohya(cs) + ".lokr_w1"] = s1, t[kohya(cs) + ".lokr_w2"] = s2, t[kohya(cs) + ".alpha"] = at::scalar_tensor(5.0);
        const auto file = write("lycoris.safetensors", t);

        const auto info = ips::inspect_model(file);
        QVERIFY(info.kind == ips::ModelKind::Lora);
        QCOMPARE(QString::fromStdString(info.variant), QString("lycoris-loha+lycoris-lokr"));

        const double w = 0.9;
        std::map<std::string, at::Tensor> expect = {
            {"unet." + kToQ + ".weight", (at::mm(q1a, q1b) * at::mm(q2a, q2b)) * (1.5 / 3)},
            {"unet." + kConv1 + ".weight", (at::mm(c1a, c1b) * at::mm(c2a, c2b)).reshape({32, 32, 3, 3})},
            {"text_encoder." + te_fc1 + ".weight", at::kron(k1, at::mm(k2a, k2b)) * (1.0 / 2)},
            {"unet." + cs + ".weight", at::kron(s1.reshape({2, 4, 1, 1}), s2)},
        };
        LoraState s;
        apply(s, {{file, w}});
        QCOMPARE(s.modified_parameters(), std::size_t(4));
        for (const auto& [p, delta] : expect) {
            const auto& base = p.rfind("unet.", 0) == 0 ? unet_base.at(p.substr(5)) : text_base.at(p.substr(13));
            const auto want = (base.to(at::kDouble) + w * delta.to(at::kDouble)).to(at::kFloat);
            const double d = ipstest::maxAbsDiff(param(p), want);
            qInfo("%s: max diff %.3g", p.c_str(), d);
            QVERIFY2(d <= 1e-6, p.c_str());
        }
        apply(s, {});
        expectBase();
    }

    void refusesBrokenFiles() {
        const auto good = ipstest::readBytes(dataPath("lora/kohya_alpha.safetensors"));
        ipstest::writeBytes(scratch("truncated.safetensors"), good.substr(0, good.size() / 2));
        expectRefused(scratch("truncated.safetensors"), {});
        ipstest::writeBytes(scratch("garbage.safetensors"), std::string(300, '\x07'));
        expectRefused(scratch("garbage.safetensors"), {});
        const auto bin = ipstest::readBytes(dataPath("lora/kohya_alpha.bin"));
        ipstest::writeBytes(scratch("truncated.bin"), bin.substr(0, bin.size() * 2 / 3));
        expectRefused(scratch("truncated.bin"), {});
    }

    void refusesOtherBases() {
        auto sdxl = goodKohya();
        sdxl[kohya("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k") + ".lora_down.weight"] = at::randn({4, 2048});
        sdxl[kohya("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k") + ".lora_up.weight"] = at::randn({32, 4});
        sdxl["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = at::randn({4, 1280});
        sdxl["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight"] = at::randn({1280, 4});
        expectRefused(write("sdxl_lora.safetensors", sdxl), {"a LoRA for sdxl", "the loaded model is custom (cross_attention_dim 32)", "2048"});
        auto sd2 = goodKohya();
        sd2["lora_te_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight"] = at::randn({4, 1024});
        sd2["lora_te_text_model_encoder_layers_0_self_attn_k_proj.lora_up.weight"] = at::randn({1024, 4});
        expectRefused(write("sd2_lora.safetensors", sd2), {"a LoRA for sd2.x", "text-encoder width 1024 (model: 32)"});
    }

    void refusesUnmatchedKeys() {
        // 20 % of the modules name nothing in the model: all of them are listed, none is dropped.
        auto t = ips::io::load_weights(dataPath("lora/kohya_alpha.safetensors")).tensors;
        std::map<std::string, at::Tensor> copy(t.begin(), t.end());
        for (int i = 0; i < 3; ++i) {
            const std::string k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_" + std::to_string(i + 5) + "_attn1_to_q";
            copy[k + ".lora_down.weight"] = at::randn({2, 32});
            copy[k + ".lora_up.weight"] = at::randn({32, 2});
        }
        copy["some_other_tensor"] = at::zeros({3});
        expectRefused(write("unknown_keys.safetensors", copy),
                      {"4 of 17 LoRA modules match no module", "transformer_blocks_5_attn1_to_q", "transformer_blocks_7_attn1_to_q",
                       "some_other_tensor"});
    }

    void refusesBadUpdates() {
        auto rank = goodKohya();
        rank[kohya(kToQ) + ".lora_up.weight"] = at::randn({32, 3});
        expectRefused(write("rank_mismatch.safetensors", rank), {"rank mismatch", "[4, 32]", "[32, 3]"});
        auto conv_on_linear = goodKohya();
        conv_on_linear[kohya(kToQ) + ".lora_down.weight"] = at::randn({4, 32, 3, 3});
        conv_on_linear[kohya(kToQ) + ".lora_up.weight"] = at::randn({32, 4, 1, 1});
        expectRefused(write("conv_on_linear.safetensors", conv_on_linear), {"3x3 convolution LoRA", "linear layer [32, 32]"});
        auto nan = goodKohya();
        nan[kohya(kConv1) + ".lora_up.weight"].view({-1})[5].fill_(std::nan(""));
        expectRefused(write("nan.safetensors", nan), {"NaN"});
        auto incomplete = goodKohya();
        incomplete.erase(kohya(kConv1) + ".lora_up.weight");
        expectRefused(write("incomplete.safetensors", incomplete), {"without its up weight"});
        auto wrong_shape = goodKohya();
        wrong_shape[kohya(kToQ) + ".lora_down.weight"] = at::randn({4, 48});
        expectRefused(write("wrong_shape.safetensors", wrong_shape), {"does not fit the linear layer [32, 32]"});
        auto dora = goodKohya();
        dora[kohya(kToQ) + ".dora_scale"] = at::ones({32, 1});
        expectRefused(write("dora.safetensors", dora), {"DoRA"});
    }

    void refusesNonLoras() {
        expectRefused(dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors"), {"this is a unet, not a LoRA"});
        expectRefused(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), {"this is a ip-adapter, not a LoRA"});
        expectRefused(write("random.safetensors", {{"foo.bar", at::zeros({2})}}), {"not a LoRA"});
        LoraState s;
        QVERIFY_THROWS_EXCEPTION(ips::InputError, apply(s, {{scratch("missing.safetensors"), 1.0}}));
        QVERIFY_THROWS_EXCEPTION(ips::InputError,
                                 apply(s, {{dataPath("lora/peft.safetensors"), std::numeric_limits<double>::infinity()}}));
        expectBase();
    }

    void detection_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("variant");
        QTest::addColumn<int>("rank_min");
        QTest::addColumn<int>("rank_max");
        QTest::newRow("kohya") << "kohya_alpha.safetensors" << "kohya" << 2 << 4;
        QTest::newRow("kohya .bin") << "kohya_alpha.bin" << "kohya" << 2 << 4;
        QTest::newRow("kohya LDM") << "kohya_ldm.safetensors" << "kohya+kohya (LDM names)" << 2 << 4;
        QTest::newRow("diffusers old") << "diffusers_old.safetensors" << "diffusers (attention processors)+diffusers" << 2 << 2;
        QTest::newRow("peft") << "peft.safetensors" << "peft" << 3 << 3;
    }
    void detection() {
        QFETCH(QString, file);
        QFETCH(QString, variant);
        QFETCH(int, rank_min);
        QFETCH(int, rank_max);
        const auto info = ips::inspect_model(dataPath("lora/" + file.toStdString()));
        QVERIFY(info.kind == ips::ModelKind::Lora);
        QCOMPARE(QString(ips::model_kind_name(info.kind)), QString("lora"));
        QCOMPARE(QString::fromStdString(info.variant), variant);
        QCOMPARE(QString::fromStdString(info.base_architecture), QString("custom (cross_attention_dim 32)"));
        QCOMPARE(info.dimensions.at("modules"), std::int64_t(13));
        QCOMPARE(info.dimensions.at("unet_modules"), std::int64_t(10));
        QCOMPARE(info.dimensions.at("text_encoder_modules"), std::int64_t(3));
        QCOMPARE(info.dimensions.at("rank_min"), std::int64_t(rank_min));
        QCOMPARE(info.dimensions.at("rank_max"), std::int64_t(rank_max));
        if (file == "kohya_alpha.safetensors") {
            QVERIFY(info.trigger_words == (std::vector<std::string>{"sks style", "painting", "1girl"}));
        }
    }

    void keyNames() {
        using ips::lora::LoraFormat;
        using ips::lora::LoraPart;
        using ips::lora::LoraRole;
        const auto old = ips::lora::parse_lora_key("unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight");
        QVERIFY(old);
        QCOMPARE(QString::fromStdString(old->module), QString("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0"));
        QVERIFY(old->role == LoraRole::Up && old->format == LoraFormat::DiffusersOld);
        const auto te = ips::lora::parse_lora_key("text_encoder.text_model.encoder.layers.0.self_attn.to_k_lora.down.weight");
        QVERIFY(te && te->part == LoraPart::TextEncoder);
        QCOMPARE(QString::fromStdString(te->module), QString("text_model.encoder.layers.0.self_attn.k_proj"));
        const auto ldm = ips::lora::parse_lora_key("lora_unet_output_blocks_5_1_proj_out.alpha");
        QVERIFY(ldm && ldm->flat && ldm->format == LoraFormat::KohyaLdm && ldm->role == LoraRole::Alpha);
        QVERIFY(!ips::lora::parse_lora_key("down_blocks.0.resnets.0.conv1.weight"));
        QVERIFY(!ips::lora::parse_lora_key("image_proj.proj.weight"));
    }

    // Through the public API: a request's "loras" change the picture, and dropping them gives back the
    // base model's picture bit for bit (weights restored, text embeddings not served from a stale cache).
    void pipeline() {
        ips::Pipeline p(ips::PipelineOptions{});
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.prompt = "a sks style painting of a lighthouse";
        q.width = q.height = 64;
        q.num_inference_steps = 2;
        q.seed = 5;
        auto latents = [&](const ips::GenerationRequest& r) {
            const auto res = p.generate(r);
            return at::tensor(res.latents);
        };
        const auto base = latents(q);
        q.loras = {{dataPath("lora/kohya_alpha.safetensors"), 0.8}};
        const auto with = latents(q);
        const double effect = ipstest::maxAbsDiff(with, base);
        qInfo("LoRA changes the latents by up to %.3g", effect);
        QVERIFY(effect > 1e-3);
        q.loras = {{dataPath("lora/kohya_alpha.safetensors"), 0.3}, {dataPath("lora/peft.safetensors"), -0.5}};
        QVERIFY(ipstest::maxAbsDiff(latents(q), with) > 1e-4);
        q.loras = {{dataPath("lora/kohya_alpha.safetensors"), 0.8}};
        QVERIFY(at::equal(latents(q), with));
        q.loras = {{dataPath("tiny-sd15/unet/diffusion_pytorch_model.safetensors"), 1.0}};
        QVERIFY_THROWS_EXCEPTION(ips::ModelLoadError, p.generate(q));
        q.loras = {{dataPath("lora/peft.safetensors"), 11.0}};
        QVERIFY_THROWS_EXCEPTION(ips::InputError, p.generate(q));
        q.loras.clear();
        QVERIFY(at::equal(latents(q), base));
    }

    // diffusers' StableDiffusionPipeline with a fused LoRA and IP-Adapter base, step by step.
    void pipelineGolden() {
        const auto g = loraGolden("pipe_lora_ip_base");
        const auto& p = g.spec["params"];
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.prompt = p["prompt"];
        q.width = p["width"];
        q.height = p["height"];
        q.num_inference_steps = p["steps"];
        q.guidance_scale = p["guidance"];
        q.scheduler = p["scheduler"];
        q.seed = p["latent_seed"].get<std::uint64_t>();
        ips::IpAdapterSettings a;
        a.path = dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors");
        a.image_encoder = dataPath("tiny-sd15/image_encoder");
        a.images.push_back({dataPath(g.spec["inputs"]["ip_image_0_0"]["path"].get<std::string>()), nullptr});
        a.scale = p["ip"][0]["scale"];
        q.ip_adapters.push_back(a);
        q.loras = {{dataPath(p["lora"]["file"].get<std::string>()), p["lora"]["scale"].get<double>()}};
        q.latents_file = scratch("pipe_lora.latents.safetensors");
        ips::io::save_safetensors(q.latents_file, {{"latents", g.input("latents")}});
        ips::pipeline::Engine engine(ips::PipelineOptions{});
        ips::pipeline::Trace trace;
        engine.generate(q, {}, nullptr, &trace);
        IPS_COMPARE_GOLDEN(g, "prompt_embeds_cfg", trace.prompt_embeds);
        const auto golden_tokens = g.output("ip_tokens_0");
        IPS_COMPARE_GOLDEN(g, "ip_tokens_0", at::cat({trace.ip_tokens[0].first, trace.ip_tokens[0].second}).view(golden_tokens.sizes()));
        IPS_COMPARE_GOLDEN(g, "step_latents", at::stack(trace.step_latents));
        IPS_COMPARE_GOLDEN(g, "latents_final", trace.latents_final);
        IPS_COMPARE_GOLDEN(g, "image", trace.image);
        qInfo("LoRA + IP-Adapter pipeline: prompt_embeds %.3g, latents_final %.3g (atol %.1g), image %.3g (atol %.1g)",
              ipstest::maxAbsDiff(trace.prompt_embeds, g.output("prompt_embeds_cfg")),
              ipstest::maxAbsDiff(trace.latents_final, g.output("latents_final")), g.atol("latents_final"),
              ipstest::maxAbsDiff(trace.image, g.output("image")), g.atol("image"));
    }

    void requestJson() {
        const auto q = ips::parse_request_json(
            R"({"model": "m", "prompt": "x", "loras": [{"path": "styles/a.safetensors", "weight": 0.8}, {"path": "/abs/b.pt"}]})",
            "/base", "request.json");
        QCOMPARE(q.loras.size(), std::size_t(2));
        QCOMPARE(q.loras[0].path, fs::path("/base/styles/a.safetensors"));
        QCOMPARE(q.loras[0].weight, 0.8);
        QCOMPARE(q.loras[1].weight, 1.0);
        const auto back = ips::parse_request_json(ips::request_to_json(q, "/base"), "/base", "again");
        QCOMPARE(back.loras.size(), std::size_t(2));
        QCOMPARE(back.loras[0].path, q.loras[0].path);
        QCOMPARE(back.loras[0].weight, 0.8);
        const std::string params = ips::a1111_parameters(q, 1);
        QVERIFY2(params.rfind("x <lora:a:0.8> <lora:b:1>\n", 0) == 0, params.c_str());
        for (const char* bad : {R"({"model": "m", "loras": [{"path": "a", "weight": 11}]})",
                                R"({"model": "m", "loras": [{"weight": 1}]})", R"({"model": "m", "loras": {"path": "a"}})",
                                R"({"model": "m", "loras": [{"path": "a", "strength": 1}]})"}) {
            const auto msg = ipstest::inputErrorOf([&] { ips::parse_request_json(bad, "/base", "request.json"); });
            QVERIFY2(msg.find("loras") != std::string::npos, bad);
        }
    }

    // SHA-256 against FIPS 180-4's examples; A1111's short LoRA hash against Python's hashlib (over the
    // tensor bytes after a .safetensors header, over the whole file otherwise).
    void loraHashes() {
        QCOMPARE(ips::io::Sha256().hex_digest(), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        ips::io::Sha256 abc;
        abc.update("abc");
        QCOMPARE(abc.hex_digest(), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        ips::io::Sha256 two_blocks;
        two_blocks.update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
        QCOMPARE(two_blocks.hex_digest(), std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        ips::io::Sha256 million;
        const std::string a(1000, 'a');
        for (int i = 0; i < 1000; ++i) million.update(a.substr(0, 1 + i % 7)), million.update(a.substr(0, 999 - i % 7));
        QCOMPARE(million.hex_digest(), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));

        QCOMPARE(ips::lora::lora_short_hash(dataPath("lora/kohya_alpha.safetensors")), std::string("2916f95abc86"));
        QCOMPARE(ips::lora::lora_short_hash(dataPath("lora/kohya_alpha.bin")), std::string("c7f8141dd471"));
        QCOMPARE(ips::lora::lora_short_hash(scratch("no-such.safetensors")), std::string());

        ips::GenerationRequest q;
        q.model = "m";
        q.prompt = "x";
        q.loras = {{dataPath("lora/kohya_alpha.safetensors"), 0.5}, {dataPath("lora/kohya_alpha.bin"), 1.0},
                   {scratch("gone.safetensors"), 1.0}};
        const std::string params = ips::a1111_parameters(q, 1);
        QVERIFY2(params.find(R"(, Lora hashes: "kohya_alpha: 2916f95abc86, kohya_alpha: c7f8141dd471",)") != std::string::npos,
                 params.c_str());
    }

    // ComfyUI models/loras and A1111 models/Lora are found by the model scan.
    void discovery() {
        for (const std::string layout : {"comfy/models/loras", "a1111/models/Lora"}) {
            const auto root = scratch(layout.substr(0, layout.find('/')));
            fs::create_directories(scratch(layout));
            if (layout[0] == 'a') ipstest::writeBytes(root / "webui.py", "");
            else fs::create_directories(root / "models/checkpoints");
            fs::copy_file(dataPath("lora/peft.safetensors"), scratch(layout) / "style.safetensors");
            const auto found = ips::discover_model_folder(root);
            QCOMPARE(found.size(), std::size_t(1));
            QVERIFY(found[0].kind == ips::ModelKind::Lora);
            QCOMPARE(QString::fromStdString(found[0].problem), QString());
        }
    }
};

QTEST_GUILESS_MAIN(TestLora)
#include "test_lora.moc"
