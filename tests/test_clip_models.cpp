// CLIPTextModel and CLIPVisionModelWithProjection against transformers' outputs on the tiny models.
#include <QtTest>

#include "golden.h"
#include "ips/clip_tokenizer.h"
#include "ips/errors.h"
#include "models/model_loader.h"
#include "pipeline/engine.h"
#include "pipeline/prompt_encoding.h"
#include "pipeline/text_window_cache.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestClipModels : public QObject {
    Q_OBJECT
    ips::nn::CLIPTextModel text{nullptr};
    ips::nn::CLIPVisionModelWithProjection vision{nullptr};
    std::optional<ips::ClipTokenizer> tokenizer;

    // What the engine did before prompt syntaxes: one tokenizer window through encode_prompt.
    at::Tensor encodeIds(const std::vector<std::int64_t>& ids, int clip_skip = 0) {
        return text->encode_prompt(at::tensor(ids, at::kLong).unsqueeze(0), clip_skip);
    }
    at::Tensor encodeWindow(const std::string& prompt, int clip_skip = 0) {
        return encodeIds(tokenizer->tokenize(prompt).input_ids, clip_skip);
    }
    // BOS + tokens + EOS + padding to 77.
    std::vector<std::int64_t> window(const std::vector<std::int64_t>& tokens) const {
        std::vector<std::int64_t> ids{tokenizer->bos_token_id()};
        ids.insert(ids.end(), tokens.begin(), tokens.end());
        ids.push_back(tokenizer->eos_token_id());
        ids.resize(77, tokenizer->pad_token_id());
        return ids;
    }
    ips::pipeline::PromptEmbeddingPair encodePair(const std::string& prompt, const std::string& negative, ips::PromptSyntax syntax,
                                                  int clip_skip = 0) {
        return ips::pipeline::encode_prompt_pair(*tokenizer, text, prompt, negative, clip_skip, syntax);
    }

private Q_SLOTS:
    void initTestCase() {
        at::init_num_threads();
        text = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {});
        vision = ips::models::load_image_encoder(dataPath("tiny-sd15/image_encoder"), {});
        tokenizer.emplace(ips::ClipTokenizer::from_folder(dataPath("tiny-sd15/tokenizer")));
    }

    void textEncoder() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("text_encoder");
        const auto out = text->forward(g.input("input_ids"));
        IPS_COMPARE_GOLDEN(g, "last_hidden_state", out.last_hidden_state);
        IPS_COMPARE_GOLDEN(g, "penultimate_hidden_state", out.hidden_states[out.hidden_states.size() - 2]);
        IPS_COMPARE_GOLDEN(g, "pooler_output", out.pooler_output);
        IPS_COMPARE_GOLDEN(g, "hidden_states", at::stack(out.hidden_states));
    }

    void clipSkip() {
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("text_encoder");
        IPS_COMPARE_GOLDEN(g, "clip_skip1", text->encode_prompt(g.input("input_ids"), 1));
        IPS_COMPARE_GOLDEN(g, "last_hidden_state", text->encode_prompt(g.input("input_ids"), 0));
        QVERIFY_THROWS_EXCEPTION(ips::InputError, text->encode_prompt(g.input("input_ids"), 4));
    }

    void imageEncoder_data() {
        QTest::addColumn<QString>("id");
        for (const char* id : {"clip_image_gradient_64x64", "clip_image_shapes_100x75", "clip_image_portrait_48x80",
                               "clip_image_pattern_320x240", "clip_image_rgba_80x80", "clip_image_zeros"})
            QTest::newRow(id) << id;
    }
    void imageEncoder() {
        QFETCH(QString, id);
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden(id.toStdString());
        // clip_image_zeros gives its pixel values as an input; the others as the preprocessor's output.
        const auto pixels = g.hasInput("pixel_values") ? g.input("pixel_values") : g.output("pixel_values");
        const auto out = vision->forward(pixels);
        IPS_COMPARE_GOLDEN(g, "image_embeds", out.image_embeds);
        if (g.hasOutput("last_hidden_state")) IPS_COMPARE_GOLDEN(g, "last_hidden_state", out.last_hidden_state);
        IPS_COMPARE_GOLDEN(g, "penultimate_hidden_state", out.hidden_states[out.hidden_states.size() - 2]);
    }

    void imageEncoderRejectsWrongSize() {
        c10::InferenceMode guard;
        QVERIFY_THROWS_EXCEPTION(ips::InputError, vision->forward(at::zeros({1, 3, 64, 64})));
    }

    void bfloat16CloseToFloat() {
        // Stated tolerance of the fast path: within 5% of the output range.
        c10::InferenceMode guard;
        const auto g = ipstest::loadGolden("text_encoder");
        auto text16 = ips::models::load_text_encoder(dataPath("tiny-sd15/text_encoder"), {at::kBFloat16, at::kCPU});
        const auto ref = text->encode_prompt(g.input("input_ids"));
        const auto bf = text16->encode_prompt(g.input("input_ids"));
        QCOMPARE(bf.scalar_type(), at::kBFloat16);
        const double range = ref.abs().max().item<double>();
        const double diff = ipstest::maxAbsDiff(bf.to(at::kFloat), ref);
        qInfo("text encoder bf16 vs fp32: max abs diff %.4f, range %.3f", diff, range);
        QVERIFY(diff < 0.05 * range);
    }

    // --- Prompt syntaxes (pipeline/prompt_encoding). ---
    void plainSyntaxEncodesAsBefore() {
        c10::InferenceMode guard;
        std::string long_prompt;
        for (int i = 0; i < 30; ++i) long_prompt += "a (red) house BREAK, ";  // brackets, BREAK, past 77: all plain text
        for (int skip : {0, 1}) {
            for (const std::string& prompt : {std::string("a photo of a (cat:1.3), [dog]"), long_prompt, std::string()}) {
                const auto pair = encodePair(prompt, "blurry, (low quality)", ips::PromptSyntax::Plain, skip);
                QVERIFY(at::equal(pair.cond, encodeWindow(prompt, skip)));
                QVERIFY(at::equal(pair.uncond, encodeWindow("blurry, (low quality)", 0)));  // diffusers: no clip_skip
            }
        }
    }

    void a1111WithoutBracketsEqualsPlain() {
        c10::InferenceMode guard;
        for (const std::string& prompt : {std::string("a photo of a cat, sitting on a red chair, 4k"), std::string()}) {
            for (int skip : {0, 1}) {
                const auto a = encodePair(prompt, "blurry", ips::PromptSyntax::A1111, skip);
                const auto plain = encodePair(prompt, "blurry", ips::PromptSyntax::Plain, skip);
                QCOMPARE(a.cond.sizes().vec(), (std::vector<std::int64_t>{1, 77, 32}));
                QVERIFY(at::equal(a.cond, plain.cond));
                QVERIFY(at::equal(a.uncond, plain.uncond));
            }
        }
        // 75 tokens exactly: still one window, the same as the tokenizer's.
        std::string words;
        for (int i = 0; i < 75; ++i) words += "cat ";
        QVERIFY(at::equal(encodePair(words, "", ips::PromptSyntax::A1111).cond, encodeWindow(words)));
    }

    void emphasisIsA1111sOriginal() {
        c10::InferenceMode guard;
        // "a photo of a (cat:1.5) on a [chair]": the tokens of each fragment with their weights, by hand.
        std::vector<std::int64_t> tokens;
        std::vector<double> weights(77, 1.0);
        for (auto [fragment, weight] : {std::pair{"a photo of a ", 1.0}, std::pair{"cat", 1.5}, std::pair{" on a ", 1.0},
                                        std::pair{"chair", 1 / 1.1}}) {
            for (auto id : tokenizer->encode(fragment)) {
                tokens.push_back(id);
                weights[tokens.size()] = static_cast<float>(weight);  // A1111's multipliers are float32
            }
        }
        // The unweighted hidden states, then z * w rescaled to the original mean (in float64 here).
        const at::Tensor z = encodeIds(window(tokens)).to(at::kDouble);            // [1, 77, 32]
        const at::Tensor w = at::tensor(weights, at::kDouble).view({1, 77, 1});
        const at::Tensor weighted = z * w;
        const at::Tensor expected = weighted * (z.mean() / weighted.mean());
        const auto actual = encodePair("a photo of a (cat:1.5) on a [chair]", "", ips::PromptSyntax::A1111).cond;
        QCOMPARE(actual.sizes().vec(), (std::vector<std::int64_t>{1, 77, 32}));
        const double diff = ipstest::maxAbsDiff(actual.to(at::kDouble), expected);
        qInfo("emphasis: max abs diff %.3g against the float64 formula", diff);
        QVERIFY(diff < 1e-5);
        QVERIFY(ipstest::maxAbsDiff(actual.to(at::kDouble), z) > 1e-2);  // the weights did change something
        // Mean kept: the rescale's purpose.
        QVERIFY(std::abs(actual.to(at::kDouble).mean().item<double>() - z.mean().item<double>()) < 1e-6);
    }

    void twoChunkPrompt() {
        c10::InferenceMode guard;
        std::string prompt;
        std::vector<std::int64_t> tokens;
        for (int i = 0; i < 20; ++i) prompt += "a photo of a red cat ";
        tokens = tokenizer->encode(prompt);
        QCOMPARE(tokens.size(), std::size_t(120));
        for (int skip : {0, 1}) {
            const auto pair = encodePair(prompt, "blurry", ips::PromptSyntax::A1111, skip);
            QCOMPARE(pair.cond.sizes().vec(), (std::vector<std::int64_t>{1, 154, 32}));
            QCOMPARE(pair.uncond.sizes().vec(), (std::vector<std::int64_t>{1, 154, 32}));
            const std::vector<std::int64_t> first(tokens.begin(), tokens.begin() + 75), second(tokens.begin() + 75, tokens.end());
            QVERIFY(at::equal(pair.cond.narrow(1, 0, 77), encodeIds(window(first), skip)));
            QVERIFY(at::equal(pair.cond.narrow(1, 77, 77), encodeIds(window(second), skip)));
            // The negative prompt padded with an empty window (BOS, EOS, padding), encoded.
            QVERIFY(at::equal(pair.uncond.narrow(1, 0, 77), encodeWindow("blurry")));
            QVERIFY(at::equal(pair.uncond.narrow(1, 77, 77), encodeWindow("")));
        }
        // And the other way round: a long negative prompt pads the prompt.
        const auto reverse = encodePair("cat", prompt, ips::PromptSyntax::A1111);
        QCOMPARE(reverse.cond.sizes().vec(), (std::vector<std::int64_t>{1, 154, 32}));
        QVERIFY(at::equal(reverse.cond.narrow(1, 77, 77), encodeWindow("")));
    }

    // The engine's text cache keeps each 77-token window: editing a long prompt's end encodes only its last
    // window, the negative prompt stays cached, and cached windows are the encoder's own bits. The cache
    // holds `capacity` windows, the one used longest ago going first; a new encoder state misses.
    void windowCacheEncodesOnlyChangedWindows() {
        c10::InferenceMode guard;
        ips::pipeline::TextWindowCache cache(5);
        int runs = 0;
        std::string state = "tiny-text-encoder";
        const auto run = ips::pipeline::run_text_encoder(text);
        const ips::pipeline::WindowEncoder cached = [&](const ips::text::TokenChunk& chunk, int skip) {
            const auto key = ips::pipeline::TextWindowCache::key(state, chunk.input_ids, skip);
            if (at::Tensor hit = cache.find(key); hit.defined()) return hit;
            ++runs;
            at::Tensor z = run(chunk, skip);
            cache.insert(key, z);
            return z;
        };
        std::string prompt;
        for (int i = 0; i < 20; ++i) prompt += "a photo of a red cat ";  // 120 tokens: two windows
        const auto encode = [&](const std::string& p, const std::string& n, int skip = 0) {
            return ips::pipeline::encode_prompt_pair_with(*tokenizer, cached, p, n, skip, ips::PromptSyntax::A1111);
        };
        const auto first = encode(prompt, "blurry");
        QCOMPARE(runs, 4);  // two prompt windows, "blurry" and the empty padding window
        const auto fresh = encodePair(prompt + "at night", "blurry", ips::PromptSyntax::A1111);
        const auto edited = encode(prompt + "at night", "blurry");
        QCOMPARE(runs, 5);  // only the prompt's second window changed
        QVERIFY(at::equal(edited.cond, fresh.cond));
        QVERIFY(at::equal(edited.uncond, fresh.uncond));
        QVERIFY(at::equal(edited.cond.narrow(1, 0, 77), first.cond.narrow(1, 0, 77)));
        encode(prompt + "at night", "blurry", 1);  // another clip_skip: the prompt's windows again
        QCOMPARE(runs, 7);
        QCOMPARE(cache.size(), std::size_t(5));  // of 7 windows encoded
        state = "tiny-text-encoder+lora";  // merged weights: nothing of the old state is used
        encode("cat", "");
        QCOMPARE(runs, 9);
        cache.clear();
        QCOMPARE(cache.size(), std::size_t(0));
    }

    void twoChunkGenerationWithIpAdapter() {
        // The UNet's cross-attention takes 154 text tokens; the IP-Adapter's image tokens have their own
        // keys and values, so they follow whatever the text length is.
        ips::pipeline::Engine engine(ips::PipelineOptions{});
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.width = q.height = 64;
        q.num_inference_steps = 2;
        q.seed = 3;
        q.negative_prompt = "blurry";
        q.prompt_syntax = "a1111";
        for (int i = 0; i < 20; ++i) q.prompt += "a photo of a (red:1.2) cat ";
        ips::IpAdapterSettings ip;
        ip.path = dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors");
        ip.image_encoder = dataPath("tiny-sd15/image_encoder");
        ip.images = {{dataPath("images/shapes_100x75.png"), nullptr}};
        q.ip_adapters = {ip};
        ips::pipeline::Trace trace;
        const auto result = engine.generate(q, {}, nullptr, &trace);
        QCOMPARE(trace.prompt_embeds.sizes().vec(), (std::vector<std::int64_t>{2, 154, 32}));
        QCOMPARE(result.images.size(), std::size_t(1));
        QVERIFY(at::isfinite(trace.latents_final).all().item<bool>());
        // The same request read plainly is another picture (one window, no weights).
        ips::pipeline::Trace plain_trace;
        q.prompt_syntax = "plain";
        engine.generate(q, {}, nullptr, &plain_trace);
        QCOMPARE(plain_trace.prompt_embeds.sizes().vec(), (std::vector<std::int64_t>{2, 77, 32}));
        QVERIFY(!at::equal(plain_trace.latents_final, trace.latents_final));
        // An unknown syntax is refused before any work.
        q.prompt_syntax = "compel";
        const auto message = ipstest::inputErrorOf([&] { engine.generate(q, {}, nullptr); });
        QVERIFY2(message.find("prompt_syntax must be plain or a1111") != std::string::npos, message.c_str());
    }
};

QTEST_GUILESS_MAIN(TestClipModels)
#include "test_clip_models.moc"
