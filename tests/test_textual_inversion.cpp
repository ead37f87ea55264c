// Textual inversion: each file format (A1111 .pt and .safetensors, diffusers learned_embeds.bin) against
// diffusers' load_textual_inversion + encode_prompt (tests/data/textual_inversion, made by
// tools/oracle/make_ti_golden.py): token ids, the added table rows and the prompt embeddings; the A1111 and
// ComfyUI spellings; removal restoring the table bit for bit; the errors (model unchanged after each);
// detection, discovery, request JSON and one tiny pipeline run with an embedding in the negative prompt.
#include <QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

#include "golden.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ips/clip_tokenizer.h"
#include "ips/generation.h"
#include "ips/model_discovery.h"
#include "ips/model_info.h"
#include "ips/request_json.h"
#include "models/model_loader.h"
#include "pipeline/engine.h"
#include "test_paths.h"
#include "text/textual_inversion.h"

using ipstest::dataPath;
using ips::text::EmbeddingRequest;
using ips::text::TextualInversionState;

namespace {

namespace fs = std::filesystem;

// A case of tests/data/textual_inversion/golden/manifest.json.
ipstest::GoldenCase tiGolden(const std::string& id) {
    static const auto manifest =
        nlohmann::json::parse(ips::io::read_text_file(dataPath("textual_inversion/golden/manifest.json")));
    for (const auto& c : manifest.at("cases")) {
        if (c.at("id") != id) continue;
        ipstest::GoldenCase g;
        g.spec = c;
        for (auto& [k, t] : ips::io::load_weights(dataPath("textual_inversion/golden/" + c.at("file").get<std::string>())).tensors)
            g.tensors.emplace(k, t.clone());
        return g;
    }
    throw std::runtime_error("no textual-inversion golden case " + id);
}

fs::path tiFile(const std::string& name) { return dataPath("textual_inversion/" + name); }

// The message of the ips::Error `f` throws, or "" when it throws none.
template <typename F>
std::string errorOf(F&& f) {
    try {
        f();
    } catch (const ips::Error& e) {
        return e.what();
    }
    return "";
}

at::Tensor idsTensor(const std::vector<std::int64_t>& ids) { return at::tensor(ids, at::kLong).unsqueeze(0); }

}  // namespace

class TestTextualInversion : public QObject {
    Q_OBJECT
    ips::nn::CLIPTextModel text{nullptr};
    std::optional<ips::ClipTokenizer> tokenizer;
    at::Tensor original_table;  // a copy of the loaded table
    QTemporaryDir tmp;

    fs::path scratch(const std::string& name) { return fs::path(tmp.path().toStdString()) / name; }

    void apply(TextualInversionState& s, const std::vector<EmbeddingRequest>& list) { s.apply(*tokenizer, *text, list); }

    const at::Tensor& table() { return text->token_embedding_weight(); }

    void expectOriginal() {
        QCOMPARE(table().size(0), original_table.size(0));
        QVERIFY(at::equal(table(), original_table));
        QVERIFY(tokenizer->added_tokens().empty());
    }

    at::Tensor embed(const std::vector<std::int64_t>& ids) {
        c10::InferenceMode guard;
        return text->encode_prompt(idsTensor(ids), 0)[0];
    }

    // Applying `list` fails with an error naming `file` and containing every `parts`; the model and tokenizer
    // are as they were (the learned_embeds embedding applied before stays).
    void expectRefused(const std::vector<EmbeddingRequest>& list, const fs::path& file, const std::vector<std::string>& parts) {
        TextualInversionState s;
        apply(s, {{tiFile("learned_embeds.bin"), ""}});
        const at::Tensor before = table().clone();
        const auto ids_before = tokenizer->encode("a <cat-toy> photo");
        const std::string sig_before = s.signature();
        const std::string msg = errorOf([&] { apply(s, list); });
        QVERIFY2(!msg.empty(), file.string().c_str());
        QVERIFY2(msg.find(file.filename().string()) != std::string::npos, msg.c_str());
        for (const auto& p : parts) QVERIFY2(msg.find(p) != std::string::npos, (msg + "  [expected: " + p + "]").c_str());
        QVERIFY(at::equal(table(), before));
        QVERIFY(tokenizer->encode("a <cat-toy> photo") == ids_before);
        QCOMPARE(s.signature(), sig_before);
        apply(s, {});
        expectOriginal();
    }

    fs::path writeSafetensors(const std::string& name, const std::map<std::string, at::Tensor>& tensors) {
        const auto p = scratch(name);
        ips::io::save_safetensors(p, tensors);
        return p;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp.isValid());
        text = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {});
        tokenizer = ips::ClipTokenizer::from_folder(dataPath("tiny-sd15/tokenizer"));
        original_table = table().clone();
    }

    void goldens_data() {
        QTest::addColumn<QString>("id");
        QTest::newRow("A1111 .pt, 3 vectors") << "ti_a1111_pt";
        QTest::newRow("A1111 .safetensors, 2 vectors") << "ti_a1111_safetensors";
        QTest::newRow("diffusers learned_embeds.bin") << "ti_diffusers_bin";
        QTest::newRow("two embeddings") << "ti_two";
    }
    // pipe.load_textual_inversion + encode_prompt: the ids (exactly), the added rows and the embeddings.
    void goldens() {
        QFETCH(QString, id);
        const auto g = tiGolden(id.toStdString());
        std::vector<EmbeddingRequest> list;
        for (const auto& f : g.spec["params"]["files"]) list.push_back({dataPath(f.get<std::string>()), ""});  // default tokens
        TextualInversionState s;
        apply(s, list);
        const auto rows = g.output("added_rows");
        QCOMPARE(s.added_rows(), rows.size(0));
        const std::int64_t base = g.spec["params"]["base_vocab_rows"].get<std::int64_t>();
        IPS_COMPARE_GOLDEN(g, "added_rows", table().narrow(0, base, rows.size(0)));
        double worst = 0;
        const auto& prompts = g.spec["params"]["prompts"];
        for (std::size_t k = 0; k < prompts.size(); ++k) {
            const std::string prompt = prompts[k].get<std::string>();
            const std::string negative = g.spec["params"]["negative_prompts"][k].get<std::string>();
            const std::string K = std::to_string(k);
            const auto ids = tokenizer->tokenize(prompt).input_ids;
            const auto negative_ids = tokenizer->tokenize(negative).input_ids;
            QVERIFY2(at::equal(idsTensor(ids)[0], g.output("ids_" + K)), prompt.c_str());
            QVERIFY2(at::equal(idsTensor(negative_ids)[0], g.output("negative_ids_" + K)), negative.c_str());
            const auto pe = embed(ids), ne = embed(negative_ids);
            IPS_COMPARE_GOLDEN(g, "prompt_embeds_" + K, pe);
            IPS_COMPARE_GOLDEN(g, "negative_prompt_embeds_" + K, ne);
            worst = std::max({worst, ipstest::maxAbsDiff(pe, g.output("prompt_embeds_" + K)),
                              ipstest::maxAbsDiff(ne, g.output("negative_prompt_embeds_" + K))});
        }
        qInfo("%s: prompt embeddings max abs diff %.3g (atol %.1g)", qPrintable(id), worst, g.atol("prompt_embeds_0"));
        apply(s, {});
        expectOriginal();
    }

    // A1111 writes the file stem as a word, ComfyUI "embedding:name" (with or without the extension): the
    // same ids, so the same embeddings. A token named in the request replaces the stem as the word.
    void spellings() {
        TextualInversionState s;
        apply(s, {{tiFile("ti-cat.pt"), ""}, {tiFile("ti-style.safetensors"), ""}});
        const auto a1111 = tokenizer->encode("a ti-cat photo in ti-style");
        QCOMPARE(a1111.size(), std::size_t(1 + 3 + 1 + 1 + 2));
        QVERIFY(tokenizer->encode("a embedding:ti-cat photo in embedding:ti-style") == a1111);
        QVERIFY(tokenizer->encode("a embedding:ti-cat.pt photo in embedding:ti-style.safetensors") == a1111);
        QVERIFY(at::equal(embed(tokenizer->tokenize("a ti-cat photo").input_ids),
                          embed(tokenizer->tokenize("a embedding:ti-cat photo").input_ids)));
        // diffusers' per-vector tokens: name_1 is the second vector alone.
        QVERIFY(tokenizer->encode("ti-cat_1") == std::vector<std::int64_t>{49409});

        apply(s, {{tiFile("ti-cat.pt"), "<my-cat>"}});
        const auto own = tokenizer->encode("a <my-cat> photo");
        QVERIFY(own == (std::vector<std::int64_t>{320, 49408, 49409, 49410, 1125}));
        QVERIFY(tokenizer->encode("a embedding:ti-cat photo") == own);
        QVERIFY(tokenizer->encode("a embedding:<my-cat> photo") == own);
        QVERIFY(tokenizer->encode("ti-cat") != std::vector<std::int64_t>({49408, 49409, 49410}));  // the stem is plain text now
        apply(s, {});
        expectOriginal();
    }

    // Removing restores the loaded table bit for bit (the same tensor), the tokenizer gives the plain ids
    // again, and changing the list rebuilds from the original instead of growing the table.
    void applyRemoveRestores() {
        const auto plain = tokenizer->encode("a ti-cat photo, <cat-toy>");
        const at::Tensor loaded = table();
        TextualInversionState s;
        apply(s, {{tiFile("ti-cat.pt"), ""}});
        QCOMPARE(table().size(0), original_table.size(0) + 3);
        apply(s, {{tiFile("ti-cat.pt"), ""}});  // the same list: nothing changes
        QCOMPARE(table().size(0), original_table.size(0) + 3);
        apply(s, {{tiFile("learned_embeds.bin"), ""}, {tiFile("ti-style.safetensors"), ""}});
        QCOMPARE(table().size(0), original_table.size(0) + 3);
        QCOMPARE(s.added_rows(), std::int64_t(3));
        QVERIFY(at::equal(table().narrow(0, 0, original_table.size(0)), original_table));
        const auto sig = s.signature();
        QVERIFY(sig.find("learned_embeds.bin") != std::string::npos && sig.find("ti-style") != std::string::npos);
        apply(s, {});
        expectOriginal();
        QVERIFY(table().is_same(loaded));
        QVERIFY(s.signature().empty());
        QVERIFY(tokenizer->encode("a ti-cat photo, <cat-toy>") == plain);
        // A fresh tokenizer agrees on text without embeddings (encode() unchanged by the feature).
        const auto fresh = ips::ClipTokenizer::from_folder(dataPath("tiny-sd15/tokenizer"));
        QVERIFY(fresh.encode("a ti-cat photo, <cat-toy> <|endoftext|> x") == tokenizer->encode("a ti-cat photo, <cat-toy> <|endoftext|> x"));
    }

    // A bfloat16 text encoder (the bfloat16 generation precision) takes the rows rounded to bfloat16 and gets
    // its own table back.
    void bfloat16Table() {
        auto text16 = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {at::kBFloat16, at::kCPU});
        auto tok = ips::ClipTokenizer::from_folder(dataPath("tiny-sd15/tokenizer"));
        const at::Tensor loaded = text16->token_embedding_weight();
        TextualInversionState s;
        s.apply(tok, *text16, {{tiFile("ti-cat.pt"), ""}});
        const auto& t = text16->token_embedding_weight();
        QCOMPARE(t.scalar_type(), at::kBFloat16);
        const auto vectors = ips::text::read_embedding_file(tiFile("ti-cat.pt")).vectors;
        QVERIFY(at::equal(t.narrow(0, loaded.size(0), 3), vectors.to(at::kBFloat16)));
        c10::InferenceMode guard;
        QVERIFY(at::isfinite(text16->encode_prompt(idsTensor(tok.tokenize("a ti-cat").input_ids)).to(at::kFloat)).all().item<bool>());
        s.apply(tok, *text16, {});
        QVERIFY(text16->token_embedding_weight().is_same(loaded));
    }

    // Each bad input: a clear message naming the file and what was expected; the model stays as it was.
    void errors() {
        // Vectors of another width (an SD2.x embedding on an SD1.x model).
        const auto wide = writeSafetensors("sd2-style.safetensors", {{"emb_params", at::randn({2, 1024})}});
        expectRefused({{wide, ""}}, wide, {"1024-wide vectors", "text encoder is 32 wide", "SD2.x"});
        // Truncated files, both containers.
        for (const char* name : {"ti-style.safetensors", "ti-cat.pt"}) {
            const auto cut = scratch(std::string("cut-") + name);
            fs::copy_file(tiFile(name), cut, fs::copy_options::overwrite_existing);
            fs::resize_file(cut, fs::file_size(cut) / 2);
            expectRefused({{cut, ""}}, cut, {});
        }
        // Not an embedding: a LoRA, and an arbitrary tensor file.
        expectRefused({{dataPath("lora/peft.safetensors"), ""}}, dataPath("lora/peft.safetensors"), {"lora", "not a textual-inversion embedding"});
        const auto other = writeSafetensors("two-tensors.safetensors", {{"a", at::zeros({2, 32})}, {"b", at::zeros({3})}});
        expectRefused({{other, ""}}, other, {"not a textual-inversion embedding", "emb_params"});
        const auto sdxl = writeSafetensors("sdxl-emb.safetensors", {{"clip_l", at::zeros({1, 768})}, {"clip_g", at::zeros({1, 1280})}});
        expectRefused({{sdxl, ""}}, sdxl, {"SDXL"});
        // A token the vocabulary already has (diffusers refuses it too).
        QVERIFY(tokenizer->in_vocabulary("cat"));
        expectRefused({{tiFile("ti-cat.pt"), "cat"}}, tiFile("ti-cat.pt"), {"'cat'", "already in the tokenizer's vocabulary"});
        // NaN values.
        auto nan = at::randn({2, 32});
        nan[1][3] = std::numeric_limits<float>::quiet_NaN();
        const auto broken = writeSafetensors("nan-emb.safetensors", {{"emb_params", nan}});
        expectRefused({{broken, ""}}, broken, {"NaN"});
        // Two embeddings with one token; a missing file.
        expectRefused({{tiFile("ti-cat.pt"), "<dup>"}, {tiFile("ti-style.safetensors"), "<dup>"}}, tiFile("ti-style.safetensors"),
                      {"'<dup>'", "already used by", "ti-cat.pt"});
        expectRefused({{scratch("missing.pt"), ""}}, scratch("missing.pt"), {"not found"});
        // The good file after a bad one in the same list changes nothing either.
        expectRefused({{tiFile("ti-cat.pt"), ""}, {wide, ""}}, wide, {"1024-wide"});
    }

    void detection() {
        const auto pt = ips::inspect_model(tiFile("ti-cat.pt"));
        QVERIFY(pt.kind == ips::ModelKind::TextualInversion);
        QCOMPARE(pt.variant, std::string("a1111-pt"));
        QCOMPARE(pt.dimensions.at("vectors"), std::int64_t(3));
        QCOMPARE(pt.dimensions.at("width"), std::int64_t(32));
        QVERIFY(pt.trigger_words == std::vector<std::string>{"ti-cat"});
        const auto st = ips::inspect_model(tiFile("ti-style.safetensors"));
        QVERIFY(st.kind == ips::ModelKind::TextualInversion);
        QCOMPARE(st.variant, std::string("a1111-safetensors"));
        QCOMPARE(st.dimensions.at("vectors"), std::int64_t(2));
        const auto bin = ips::inspect_model(tiFile("learned_embeds.bin"));
        QVERIFY(bin.kind == ips::ModelKind::TextualInversion);
        QCOMPARE(bin.variant, std::string("diffusers"));
        QVERIFY(bin.trigger_words == std::vector<std::string>{"<cat-toy>"});
        QCOMPARE(std::string(ips::model_kind_name(bin.kind)), std::string("textual-inversion"));
        const auto sd1 = writeSafetensors("EasyNegative.safetensors", {{"emb_params", at::zeros({8, 768})}});
        const auto info = ips::inspect_model(sd1);
        QCOMPARE(info.base_architecture, std::string("sd1.x"));
        QVERIFY(info.trigger_words == std::vector<std::string>{"EasyNegative"});
        // A LoRA is still a LoRA.
        QVERIFY(ips::inspect_model(dataPath("lora/peft.safetensors")).kind == ips::ModelKind::Lora);
    }

    // A1111's embeddings/ and ComfyUI's models/embeddings are scanned.
    void discovery() {
        const auto a1111 = scratch("webui");
        fs::create_directories(a1111 / "embeddings");
        fs::create_directories(a1111 / "models" / "Stable-diffusion");
        std::ofstream(a1111 / "webui.py") << "# A1111\n";
        fs::copy_file(tiFile("ti-cat.pt"), a1111 / "embeddings" / "ti-cat.pt");
        auto found = ips::discover_model_folder(a1111);
        QCOMPARE(found.size(), std::size_t(1));
        QVERIFY(found[0].kind == ips::ModelKind::TextualInversion);

        const auto comfy = scratch("ComfyUI");
        fs::create_directories(comfy / "models" / "embeddings");
        fs::create_directories(comfy / "models" / "checkpoints");
        fs::copy_file(tiFile("ti-style.safetensors"), comfy / "models" / "embeddings" / "ti-style.safetensors");
        found = ips::discover_model_folder(comfy);
        QCOMPARE(found.size(), std::size_t(1));
        QVERIFY(found[0].kind == ips::ModelKind::TextualInversion);
    }

    // "embeddings": [{"path", "token"}] in request files, paths relative to the file.
    void requestJson() {
        const auto q = ips::parse_request_json(
            R"({"model": "m", "embeddings": [{"path": "emb/ti-cat.pt"}, {"path": "learned_embeds.bin", "token": "<x>"}]})", "/base",
            "request.json");
        QCOMPARE(q.embeddings.size(), std::size_t(2));
        QCOMPARE(q.embeddings[0].path, fs::path("/base/emb/ti-cat.pt"));
        QVERIFY(q.embeddings[0].token.empty());
        QCOMPARE(q.embeddings[1].token, std::string("<x>"));
        const auto j = nlohmann::json::parse(ips::request_to_json(q, "/base"));
        QCOMPARE(j["embeddings"][0]["path"].get<std::string>(), std::string("emb/ti-cat.pt"));
        QVERIFY(!j["embeddings"][0].contains("token"));
        QCOMPARE(j["embeddings"][1]["token"].get<std::string>(), std::string("<x>"));
        const std::string bad = errorOf([] { ips::parse_request_json(R"({"embeddings": [{"file": "x"}]})", "/", "r.json"); });
        QVERIFY2(bad.find("embeddings[0]") != std::string::npos, bad.c_str());
        ips::GenerationRequest missing;
        missing.model = dataPath("tiny-sd15");
        missing.embeddings.push_back({scratch("nope.pt"), ""});
        const std::string msg = errorOf([&] { ips::validate_request(missing); });
        QVERIFY2(msg.find("embeddings[0].path") != std::string::npos && msg.find("does not exist") != std::string::npos, msg.c_str());
    }

    // The engine: an embedding in the negative prompt (and one in the prompt) gives diffusers' prompt
    // embeddings; the next request without embeddings gives the plain ones (the cache key follows the list);
    // a bad embedding fails the request and leaves the model usable.
    void pipelineNegativePrompt() {
        const auto g = tiGolden("ti_two");
        ips::pipeline::Engine engine(ips::PipelineOptions{});
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.prompt = g.spec["params"]["prompts"][0].get<std::string>();
        q.negative_prompt = g.spec["params"]["negative_prompts"][0].get<std::string>();
        q.width = q.height = 64;
        q.num_inference_steps = 2;
        q.seed = 11;
        q.embeddings = {{tiFile("ti-cat.pt"), ""}, {tiFile("learned_embeds.bin"), ""}};
        ips::pipeline::Trace with;
        const auto result = engine.generate(q, {}, nullptr, &with);
        QCOMPARE(with.prompt_embeds.size(0), std::int64_t(2));
        IPS_COMPARE_GOLDEN(g, "negative_prompt_embeds_0", with.prompt_embeds[0]);
        IPS_COMPARE_GOLDEN(g, "prompt_embeds_0", with.prompt_embeds[1]);
        QVERIFY(at::isfinite(with.latents_final).all().item<bool>());
        QCOMPARE(result.images.size(), std::size_t(1));

        auto plain = q;
        plain.embeddings.clear();
        ips::pipeline::Trace without;
        engine.generate(plain, {}, nullptr, &without);
        QVERIFY(!at::equal(without.prompt_embeds, with.prompt_embeds));
        ips::pipeline::Engine fresh(ips::PipelineOptions{});
        ips::pipeline::Trace reference;
        fresh.generate(plain, {}, nullptr, &reference);
        QVERIFY(at::equal(without.prompt_embeds, reference.prompt_embeds));

        auto bad = q;
        bad.embeddings = {{dataPath("lora/peft.safetensors"), ""}};
        QVERIFY(!errorOf([&] { engine.generate(bad, {}, nullptr); }).empty());
        ips::pipeline::Trace again;
        engine.generate(q, {}, nullptr, &again);
        QVERIFY(at::equal(again.prompt_embeds, with.prompt_embeds));
    }
};

QTEST_GUILESS_MAIN(TestTextualInversion)
#include "test_textual_inversion.moc"
