// The TAESD preview decoder: its wiring against a hand-computed case, its forward against TAESD's own
// formulation (madebyollin's nn.Sequential, written out here with plain convolutions), the file forms
// it accepts, what it refuses, and the live preview it gives a generation.
#include <QtTest>

#include <ATen/ATen.h>

#include "io/weights.h"
#include "ips/model_info.h"
#include "ips/request_json.h"
#include "ips/system_info.h"
#include "models/model_loader.h"
#include "pipeline/engine.h"
#include "test_paths.h"

using ipstest::dataPath;
using ipstest::loadErrorOf;
namespace fs = std::filesystem;

namespace {

constexpr int kChannels = 64;  // TAESD's width

// A decoder file in madebyollin's layout ("N.*", entry 0 the clamp): 1 conv, 2 relu, 3-5 blocks,
// 6 upsample, 7 conv, 8-10 blocks, 11 upsample, 12 conv, 13-15 blocks, 16 upsample, 17 conv, 18 block,
// 19 conv (with bias) to RGB. `fill` gives each tensor its values.
std::map<std::string, at::Tensor> taesdDecoderFile(const std::function<at::Tensor(const std::string&, at::IntArrayRef)>& fill) {
    std::map<std::string, at::Tensor> t;
    auto conv = [&](int index, int in, int out, bool bias) {
        const std::string p = std::to_string(index) + ".";
        t[p + "weight"] = fill(p + "weight", {out, in, 3, 3});
        if (bias) t[p + "bias"] = fill(p + "bias", {out});
    };
    auto block = [&](int index) {
        for (int c : {0, 2, 4}) {
            const std::string p = std::to_string(index) + ".conv." + std::to_string(c) + ".";
            t[p + "weight"] = fill(p + "weight", {kChannels, kChannels, 3, 3});
            t[p + "bias"] = fill(p + "bias", {kChannels});
        }
    };
    conv(1, 4, kChannels, true);
    for (int i : {3, 4, 5}) block(i);
    conv(7, kChannels, kChannels, false);
    for (int i : {8, 9, 10}) block(i);
    conv(12, kChannels, kChannels, false);
    for (int i : {13, 14, 15}) block(i);
    conv(17, kChannels, kChannels, false);
    block(18);
    conv(19, kChannels, 3, true);
    return t;
}

// The same tensors under diffusers' AutoencoderTiny names (decoder.layers.{N-1}), with an encoder tensor
// the preview does not need.
std::map<std::string, at::Tensor> diffusersNames(const std::map<std::string, at::Tensor>& original) {
    std::map<std::string, at::Tensor> out;
    for (const auto& [key, tensor] : original) {
        const auto dot = key.find('.');
        out["decoder.layers." + std::to_string(std::stoi(key.substr(0, dot)) - 1) + key.substr(dot)] = tensor;
    }
    out["encoder.layers.0.weight"] = at::zeros({kChannels, 3, 3, 3});
    return out;
}

// TAESD's decoder as its own code writes it: Clamp, conv, ReLU, (Block x3, Upsample, conv) x3, Block,
// conv; then diffusers' mapping of [0, 1] to [-1, 1].
at::Tensor referenceDecode(const std::map<std::string, at::Tensor>& w, const at::Tensor& latents) {
    auto conv = [&](const at::Tensor& x, const std::string& p) {
        const auto bias = w.count(p + "bias") ? w.at(p + "bias") : at::Tensor();
        return at::conv2d(x, w.at(p + "weight"), bias, 1, 1);
    };
    auto block = [&](const at::Tensor& x, int i) {
        const std::string p = std::to_string(i) + ".conv.";
        const at::Tensor y = conv(at::relu(conv(at::relu(conv(x, p + "0.")), p + "2.")), p + "4.");
        return at::relu(y + x);
    };
    auto up = [](const at::Tensor& x) { return x.repeat_interleave(2, 2).repeat_interleave(2, 3); };
    at::Tensor x = at::tanh(latents / 3) * 3;
    x = at::relu(conv(x, "1."));
    for (int i : {3, 4, 5}) x = block(x, i);
    x = conv(up(x), "7.");
    for (int i : {8, 9, 10}) x = block(x, i);
    x = conv(up(x), "12.");
    for (int i : {13, 14, 15}) x = block(x, i);
    x = conv(up(x), "17.");
    x = block(x, 18);
    return conv(x, "19.") * 2 - 1;
}

// A txt2img request on the tiny model.
ips::GenerationRequest redCube(int width, int height, int steps, std::uint64_t seed) {
    ips::GenerationRequest q;
    q.model = dataPath("tiny-sd15");
    q.prompt = "a red cube";
    q.width = width;
    q.height = height;
    q.num_inference_steps = steps;
    q.seed = seed;
    return q;
}

}  // namespace

class TestPreviewDecoder : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    fs::path scratch(const std::string& name) { return fs::path(dir.path().toStdString()) / name; }

private Q_SLOTS:
    void handComputedWiring() {
        // Every block's convolutions zero (a block then passes relu(x) on), the first convolution
        // splits each latent channel c into +x (channel c) and -x (channel 4 + c) so both signs survive
        // the ReLUs, the convolutions after upsampling are identities, the last recombines +x - (-x) and
        // adds 0.25. Output = 2 * (3 tanh(x / 3) + 0.25) - 1, each latent pixel an 8x8 square.
        auto fill = [](const std::string& name, at::IntArrayRef shape) {
            at::Tensor t = at::zeros(shape);
            if (name == "1.weight")
                for (int c = 0; c < 4; ++c) {
                    t[c][c][1][1] = 1;
                    t[4 + c][c][1][1] = -1;
                }
            if (name == "7.weight" || name == "12.weight" || name == "17.weight")
                for (int c = 0; c < kChannels; ++c) t[c][c][1][1] = 1;
            if (name == "19.weight")
                for (int o = 0; o < 3; ++o) {
                    t[o][o][1][1] = 1;
                    t[o][4 + o][1][1] = -1;
                }
            if (name == "19.bias") t.fill_(0.25);
            return t;
        };
        const auto file = scratch("taesd_decoder.safetensors");
        ips::io::save_safetensors(file, taesdDecoderFile(fill));
        auto decoder = ips::models::load_preview_decoder(file, {});
        c10::InferenceMode guard;
        const at::Tensor latents = at::linspace(-9, 9, 4 * 3 * 5).reshape({1, 4, 3, 5});
        const at::Tensor got = decoder->forward(latents);
        QCOMPARE(got.sizes().vec(), (std::vector<std::int64_t>{1, 3, 24, 40}));
        for (int o = 0; o < 3; ++o)
            for (int y = 0; y < 24; ++y)
                for (int x = 0; x < 40; ++x) {
                    const double v = latents[0][o][y / 8][x / 8].item<double>();
                    const double want = 2 * (3 * std::tanh(v / 3) + 0.25) - 1;
                    QVERIFY2(std::abs(got[0][o][y][x].item<double>() - want) < 1e-5,
                             qPrintable(QString("channel %1 at %2,%3").arg(o).arg(y).arg(x)));
                }
    }

    void randomWeightsMatchTaesdFormulation() {
        at::manual_seed(11);
        const auto original = taesdDecoderFile([](const std::string&, at::IntArrayRef shape) { return at::randn(shape) * 0.05; });
        const auto file = scratch("taesd_decoder_random.safetensors");
        ips::io::save_safetensors(file, original);
        const fs::path folder = scratch("taesd");
        fs::create_directories(folder);
        ipstest::writeBytes(folder / "config.json", R"({"_class_name": "AutoencoderTiny", "act_fn": "relu"})");
        ips::io::save_safetensors(folder / "diffusion_pytorch_model.safetensors", diffusersNames(original));

        c10::InferenceMode guard;
        const at::Tensor latents = at::randn({2, 4, 6, 7}) * 2;
        const at::Tensor want = referenceDecode(original, latents);
        const at::Tensor from_file = ips::models::load_preview_decoder(file, {})->forward(latents);
        const at::Tensor from_folder = ips::models::load_preview_decoder(folder, {})->forward(latents);
        QCOMPARE(from_file.sizes().vec(), (std::vector<std::int64_t>{2, 3, 48, 56}));
        QVERIFY2(at::allclose(from_file, want, 1e-4, 1e-5), std::to_string((from_file - want).abs().max().item<double>()).c_str());
        QVERIFY(at::equal(from_file, from_folder));
        // bfloat16 channels-last (what bfloat16 generations preview with) and NCHW stay close. NCHW bfloat16
        // convolutions are no engine path; on CPUs without native bfloat16 LibTorch 1.13 runs them through a
        // much less exact kernel (measured on an AVX2-only EPYC: 10 % of the range, channels-last 1.4 %), so
        // there only the path the engine uses is held to the bound.
        for (const bool channels_last : {true, false}) {
            if (!channels_last && !ips::cpu_has_fast_bfloat16()) continue;
            at::Tensor z = latents.to(at::kBFloat16);
            if (channels_last) z = z.contiguous(at::MemoryFormat::ChannelsLast);
            const at::Tensor bf16 =
                ips::models::load_preview_decoder(file, {at::kBFloat16, at::kCPU, channels_last})->forward(z).to(at::kFloat);
            const double err = (bf16 - want).abs().max().item<double>();
            const double range = want.abs().max().item<double>();
            QVERIFY2(err < 0.05 * range, (std::to_string(err) + " of " + std::to_string(range)).c_str());
        }

        // inspect names both forms.
        const auto info = ips::inspect_model(file);
        QCOMPARE(info.kind, ips::ModelKind::TinyAutoencoder);
        QCOMPARE(info.variant, std::string("decoder"));
        QCOMPARE(ips::inspect_model(folder).kind, ips::ModelKind::TinyAutoencoder);
    }

    void refusesWhatIsNotADecoder() {
        // Another model kind, named.
        auto message = loadErrorOf([] { ips::models::load_preview_decoder(dataPath("tiny-sd15/vae/diffusion_pytorch_model.safetensors"), {}); });
        QVERIFY2(message.find("holds a vae, expected a TAESD preview decoder") != std::string::npos, message.c_str());
        // The encoder half of TAESD.
        std::map<std::string, at::Tensor> encoder{{"0.weight", at::zeros({kChannels, 3, 3, 3})}, {"0.bias", at::zeros({kChannels})},
                                                  {"1.conv.0.weight", at::zeros({kChannels, kChannels, 3, 3})}};
        const auto encoder_file = scratch("taesd_encoder.safetensors");
        ips::io::save_safetensors(encoder_file, encoder);
        message = loadErrorOf([&] { ips::models::load_preview_decoder(encoder_file, {}); });
        QVERIFY2(message.find("taesd_encoder.safetensors: a TAESD encoder; previews need the decoder") != std::string::npos, message.c_str());
        // A decoder with a tensor missing: the strict load names it.
        auto partial = taesdDecoderFile([](const std::string&, at::IntArrayRef shape) { return at::zeros(shape); });
        partial.erase("19.bias");
        const auto partial_file = scratch("taesd_partial.safetensors");
        ips::io::save_safetensors(partial_file, partial);
        message = loadErrorOf([&] { ips::models::load_preview_decoder(partial_file, {}); });
        QVERIFY2(message.find("taesd_partial.safetensors") != std::string::npos && message.find("layers.18.bias") != std::string::npos,
                 message.c_str());
        // Keys that are neither TAESD's nor diffusers' names.
        auto odd = taesdDecoderFile([](const std::string&, at::IntArrayRef shape) { return at::zeros(shape); });
        odd["3x.weight"] = at::zeros({1});
        const auto odd_file = scratch("taesd_odd.safetensors");
        ips::io::save_safetensors(odd_file, odd);
        message = loadErrorOf([&] { ips::models::load_preview_decoder(odd_file, {}); });
        QVERIFY2(message.find("taesd_odd.safetensors: unexpected tensor '3x.weight'") != std::string::npos, message.c_str());
        // A truncated file.
        const auto truncated = scratch("taesd_truncated.safetensors");
        std::ifstream in(encoder_file, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        ipstest::writeBytes(truncated, bytes.substr(0, bytes.size() / 2));
        message = loadErrorOf([&] { ips::models::load_preview_decoder(truncated, {}); });
        QVERIFY2(message.find("taesd_truncated.safetensors") != std::string::npos, message.c_str());
        // A configuration this decoder cannot run.
        const fs::path folder = scratch("taesd-silu");
        fs::create_directories(folder);
        fs::copy_file(dataPath("tiny-taesd/diffusion_pytorch_model.safetensors"), folder / "diffusion_pytorch_model.safetensors");
        ipstest::writeBytes(folder / "config.json", R"({"_class_name": "AutoencoderTiny", "act_fn": "silu",
            "decoder_block_out_channels": [8, 8, 8, 8], "num_decoder_blocks": [1, 1, 1, 1]})");
        message = loadErrorOf([&] { ips::models::load_preview_decoder(folder, {}); });
        QVERIFY2(message.find("config.json: key 'act_fn'") != std::string::npos, message.c_str());
    }

    void generationShowsDecodedPreviews() {
        const fs::path taesd = dataPath("tiny-taesd");
        ips::pipeline::Engine engine(ips::PipelineOptions{});
        ips::GenerationRequest q = redCube(96, 64, 5, 4);
        const auto plain = engine.generate(q, {}, nullptr);

        q.preview_decoder = taesd;
        q.preview_every = 2;
        std::vector<std::pair<int, int>> sizes;  // per step: preview width, height
        const auto with_previews = engine.generate(q, [&](const ips::GenerationProgress& p) {
            if (p.stage == "denoising" && p.preview) sizes.emplace_back(p.preview->width, p.preview->height);
        }, nullptr);
        // Steps 2 and 4 through TAESD at full size, the others in latent space.
        const std::vector<std::pair<int, int>> want{{12, 8}, {96, 64}, {12, 8}, {96, 64}, {12, 8}};
        QCOMPARE(sizes, want);
        // Previews change nothing in the result.
        QVERIFY(with_previews.images.front().pixels == plain.images.front().pixels);

        // A decoder for other latents (taesd3 / taef1: 16 channels) is refused before denoising, named.
        const fs::path wide = scratch("taef1");
        fs::create_directories(wide);
        fs::copy_file(dataPath("tiny-taesd/config.json"), wide / "config.json");
        auto tensors = ips::io::load_weights(dataPath("tiny-taesd/diffusion_pytorch_model.safetensors")).tensors;
        tensors["decoder.layers.0.weight"] = at::zeros({8, 16, 3, 3});
        ips::io::save_safetensors(wide / "diffusion_pytorch_model.safetensors", tensors);
        q.preview_decoder = wide;
        const auto message = loadErrorOf([&] { engine.generate(q, [](const ips::GenerationProgress&) {}, nullptr); });
        QVERIFY2(message.find("taef1: a TAESD decoder for 16-channel latents") != std::string::npos, message.c_str());

        q.preview_every = 0;
        QVERIFY(ipstest::inputErrorOf([&] { ips::validate_request(q); }).find("preview_every") != std::string::npos);
        q.preview_every = 2;
        q.preview_decoder = scratch("missing-taesd");
        QVERIFY(ipstest::inputErrorOf([&] { ips::validate_request(q); }).find("preview_decoder") != std::string::npos);
    }

    void draftDecodeIsTheTinyDecoderOnTheFinalLatents() {
        const fs::path taesd = dataPath("tiny-taesd");
        ips::pipeline::Engine engine(ips::PipelineOptions{});
        ips::GenerationRequest q = redCube(64, 64, 3, 9);
        ips::pipeline::Trace full;
        engine.generate(q, {}, nullptr, &full);

        q.preview_decoder = taesd;
        q.draft_decode = true;
        ips::pipeline::Trace draft;
        engine.generate(q, {}, nullptr, &draft);  // no progress callback: the decoder still loads for the draft
        // The same latents; the picture is TAESD's decode of them (unscaled), not the VAE's.
        QVERIFY(at::equal(draft.latents_final, full.latents_final));
        c10::InferenceMode guard;
        auto decoder = ips::models::load_preview_decoder(taesd, {});
        QVERIFY(at::allclose(draft.decoded, decoder->forward(full.latents_final), 1e-5, 1e-5));
        QVERIFY(!at::allclose(draft.decoded, full.decoded, 1e-2, 1e-2));

        // A draft needs a decoder; the flag survives a preset round trip.
        q.preview_decoder.clear();
        QVERIFY(ipstest::inputErrorOf([&] { ips::validate_request(q); }).find("draft_decode needs a preview_decoder") != std::string::npos);
        const auto again = ips::parse_request_json(ips::request_to_json(q, "/tmp"), "/tmp", "preset.json");
        QVERIFY(again.draft_decode);
        QVERIFY(ipstest::inputErrorOf([] { ips::parse_request_json(R"({"draft_decode": 1})", "/tmp", "p.json"); }).find("true or false") !=
                std::string::npos);
    }

    void imageEncoderReleasedAfterEncoding() {
        ips::GenerationRequest q;
        q.model = dataPath("tiny-sd15");
        q.width = q.height = 64;
        q.num_inference_steps = 2;
        q.seed = 2;
        ips::IpAdapterSettings a;
        a.path = dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors");
        a.image_encoder = dataPath("tiny-sd15/image_encoder");
        a.images = {{dataPath("images/scene_128x128.png"), nullptr}};
        q.ip_adapters = {a};

        ips::pipeline::Engine engine(ips::PipelineOptions{});
        const auto first = engine.generate(q, {}, nullptr);
        QCOMPARE(engine.models().encoders_loaded(), std::size_t(0));
        // The same reference again: the embedding comes from the cache, the encoder stays unloaded.
        QVERIFY(engine.generate(q, {}, nullptr).images.front().pixels == first.images.front().pixels);
        QCOMPARE(engine.stage_counts().image_encodes, 1);
        // A new picture loads it again, encodes, releases.
        q.ip_adapters[0].images = {{dataPath("images/shapes_100x75.png"), nullptr}};
        engine.generate(q, {}, nullptr);
        QCOMPARE(engine.stage_counts().image_encodes, 2);
        QCOMPARE(engine.models().encoders_loaded(), std::size_t(0));

        // With encoders released, a cold run encodes its references before the base model loads (the two
        // never share memory): when the base starts loading, the picture is encoded and the encoder gone.
        // A plus adapter's unconditional input (the zero image) is encoded then too.
        for (const char* adapter : {"tiny-ip-adapter/ip-adapter_sd15.safetensors", "tiny-ip-adapter/ip-adapter-plus_sd15.bin"}) {
            ips::pipeline::Engine cold(ips::PipelineOptions{});
            q.ip_adapters[0].path = dataPath(adapter);
            q.ip_adapters[0].image_encoder = dataPath(std::string(adapter).find("plus") != std::string::npos
                                                          ? "tiny-ip-adapter/image_encoder" : "tiny-sd15/image_encoder");
            struct Seen { int encodes; std::size_t encoders; bool base; };
            std::vector<Seen> at_loading;
            cold.generate(q, [&](const ips::GenerationProgress& p) {
                if (p.stage == "loading models" && p.bytes_loaded == 0)
                    at_loading.push_back({cold.stage_counts().image_encodes, cold.models().encoders_loaded(),
                                          cold.models().has_base(q.model, at::kFloat)});
            }, nullptr);
            QCOMPARE(at_loading.size(), std::size_t(2));  // the image encoder's load, then the base's
            QCOMPARE(at_loading[0].encodes, 0);
            QVERIFY(!at_loading[1].base);
            QCOMPARE(at_loading[1].encodes, 1);
            QCOMPARE(at_loading[1].encoders, std::size_t(0));
            QCOMPARE(cold.stage_counts().image_encodes, 1);  // encode_conditioning found it in the cache
            QCOMPARE(cold.models().encoders_loaded(), std::size_t(0));
            QCOMPARE(cold.models().encoder_loads(), 1);  // not again for the plus adapter's zero image
        }

        ips::PipelineOptions keep;
        keep.keep_image_encoders = true;
        ips::pipeline::Engine keeping(keep);
        QVERIFY(keeping.generate(q, {}, nullptr).images.front().pixels != first.images.front().pixels);
        QCOMPARE(keeping.models().encoders_loaded(), std::size_t(1));
    }
};

QTEST_GUILESS_MAIN(TestPreviewDecoder)
#include "test_preview_decoder.moc"
