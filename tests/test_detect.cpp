// Detection from tensor names: every fixture, both file formats, and synthetic layouts of real models.
#include <QtTest>

#include <set>

#include "io/detect.h"
#include "io/ldm_key_map.h"
#include "ips/errors.h"
#include "ips/model_info.h"
#include "test_paths.h"

using ips::ModelKind;
using ipstest::dataPath;

namespace {
ips::io::TensorInfo t(std::string name, std::vector<std::int64_t> shape = {1}) { return {std::move(name), "F16", std::move(shape)}; }
}  // namespace

class TestDetect : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void fixtures_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("variant");
        QTest::addColumn<int>("tensors");
        const auto K = [](ModelKind k) { return int(k); };
        QTest::newRow("ip base bin") << "tiny-ip-adapter/ip-adapter_sd15.bin" << K(ModelKind::IpAdapter) << "base" << 36;
        QTest::newRow("ip base st") << "tiny-ip-adapter/ip-adapter_sd15.safetensors" << K(ModelKind::IpAdapter) << "base" << 36;
        QTest::newRow("ip plus bin") << "tiny-ip-adapter/ip-adapter-plus_sd15.bin" << K(ModelKind::IpAdapter) << "plus" << 83;
        QTest::newRow("ip plus st") << "tiny-ip-adapter/ip-adapter-plus_sd15.safetensors" << K(ModelKind::IpAdapter) << "plus" << 83;
        QTest::newRow("ip full bin") << "tiny-ip-adapter/ip-adapter-full-face_sd15.bin" << K(ModelKind::IpAdapter) << "full-face" << 38;
        QTest::newRow("ip full st") << "tiny-ip-adapter/ip-adapter-full-face_sd15.safetensors" << K(ModelKind::IpAdapter) << "full-face" << 38;
        QTest::newRow("single file") << "tiny-sd15-single.safetensors" << K(ModelKind::SingleFileCheckpoint) << "sd1.x" << 1009;
        QTest::newRow("controlnet") << "tiny-controlnet" << K(ModelKind::ControlNet) << "" << 338;
        QTest::newRow("unet") << "tiny-sd15/unet" << K(ModelKind::UNet) << "" << 684;
        QTest::newRow("vae") << "tiny-sd15/vae" << K(ModelKind::Vae) << "" << 244;
        QTest::newRow("text encoder") << "tiny-sd15/text_encoder" << K(ModelKind::TextEncoder) << "" << 68;
        QTest::newRow("image encoder") << "tiny-sd15/image_encoder" << K(ModelKind::ImageEncoder) << "with-projection" << 72;
        QTest::newRow("adapter's encoder") << "tiny-ip-adapter/image_encoder" << K(ModelKind::ImageEncoder) << "with-projection" << 72;
        QTest::newRow("tokenizer") << "tiny-sd15/tokenizer" << K(ModelKind::Tokenizer) << "" << 0;
        QTest::newRow("scheduler") << "tiny-sd15/scheduler" << K(ModelKind::Scheduler) << "PNDMScheduler" << 0;
        QTest::newRow("feature extractor") << "tiny-sd15/feature_extractor" << K(ModelKind::ImageProcessor) << "" << 0;
    }
    void fixtures() {
        QFETCH(QString, path);
        QFETCH(int, kind);
        QFETCH(QString, variant);
        QFETCH(int, tensors);
        const auto info = ips::inspect_model(dataPath(path.toStdString()));
        QCOMPARE(QString(ips::model_kind_name(info.kind)), QString(ips::model_kind_name(ModelKind(kind))));
        QCOMPARE(QString::fromStdString(info.variant), variant);
        QCOMPARE(int(info.tensor_count), tensors);
    }

    void pipelineFolderListsComponents() {
        const auto info = ips::inspect_model(dataPath("tiny-sd15"));
        QCOMPARE(info.kind, ModelKind::DiffusersPipeline);
        QCOMPARE(info.variant, std::string("StableDiffusionPipeline"));
        std::set<ModelKind> kinds;
        for (const auto& c : info.components) kinds.insert(c.kind);
        for (auto k : {ModelKind::UNet, ModelKind::Vae, ModelKind::TextEncoder, ModelKind::Tokenizer, ModelKind::Scheduler,
                       ModelKind::ImageEncoder, ModelKind::ImageProcessor})
            QVERIFY2(kinds.count(k), ips::model_kind_name(k));
        // The single-file checkpoint holds the same networks: same UNet + VAE + text encoder parameters
        // (plus its scheduler buffers), so the counts agree except for those.
        const auto single = ips::inspect_model(dataPath("tiny-sd15-single.safetensors"));
        std::uint64_t networks = 0;
        for (const auto& c : info.components)
            if (c.kind == ModelKind::UNet || c.kind == ModelKind::Vae || c.kind == ModelKind::TextEncoder)
                networks += c.parameter_count;
        QVERIFY(single.parameter_count >= networks);
        QVERIFY(single.parameter_count - networks < 20000);  // 12 schedule buffers of 1000 entries + position ids
    }

    void adapterDimensions() {
        const auto base = ips::inspect_model(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"));
        QCOMPARE(base.dimensions.at("cross_attention_dim"), 32);
        QCOMPARE(base.dimensions.at("num_tokens"), 4);
        QCOMPARE(base.dimensions.at("image_embeds_dim"), 24);
        const auto plus = ips::inspect_model(dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.bin"));
        QCOMPARE(plus.dimensions.at("num_tokens"), 16);
        QCOMPARE(plus.format, std::string("pytorch-zip"));
    }

    void realSd15AdapterLayout() {
        // Shapes of the official ip-adapter_sd15: ViT-H embeds (1024) to 4 tokens of 768.
        std::vector<ips::io::TensorInfo> tensors = {t("image_proj.proj.weight", {3072, 1024}), t("image_proj.proj.bias", {3072}),
                                                    t("image_proj.norm.weight", {768}), t("image_proj.norm.bias", {768})};
        for (int i = 1; i <= 31; i += 2) {
            tensors.push_back(t("ip_adapter." + std::to_string(i) + ".to_k_ip.weight", {320, 768}));
            tensors.push_back(t("ip_adapter." + std::to_string(i) + ".to_v_ip.weight", {320, 768}));
        }
        const auto d = ips::io::detect_from_tensors(tensors);
        QCOMPARE(d.kind, ModelKind::IpAdapter);
        QCOMPARE(d.variant, std::string("base"));
        QCOMPARE(d.base_architecture, std::string("sd1.x"));
        QCOMPARE(d.dimensions.at("num_tokens"), 4);
    }

    void sdxlAdapterAndAdapterModulesNaming() {
        const auto d = ips::io::detect_from_tensors({t("image_proj.latents", {1, 16, 1280}), t("image_proj.layers.0.0.to_q.weight"),
                                                      t("adapter_modules.1.to_k_ip.weight", {640, 2048})});
        QCOMPARE(d.kind, ModelKind::IpAdapter);
        QCOMPARE(d.variant, std::string("plus"));
        QCOMPARE(d.base_architecture, std::string("sdxl"));
    }

    void faceIdIsRecognisedAndFlagged() {
        const auto d = ips::io::detect_from_tensors({t("image_proj.proj.0.weight"), t("image_proj.norm.weight"),
                                                      t("ip_adapter.1.to_k_ip.weight", {320, 768}),
                                                      t("ip_adapter.1.to_k_lora.down.weight")});
        QCOMPARE(d.variant, std::string("faceid"));
        QVERIFY(!d.notes.empty());
        QVERIFY(d.notes.front().find("not supported") != std::string::npos);
    }

    void singleFileVariants() {
        const auto sd2 = ips::io::detect_from_tensors({t("model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}),
                                                        t("cond_stage_model.model.ln_final.weight"), t("first_stage_model.x")});
        QCOMPARE(sd2.variant, std::string("sd2.x"));
        const auto xl = ips::io::detect_from_tensors({t("model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}),
                                                       t("conditioner.embedders.0.transformer.x"), t("first_stage_model.x")});
        QCOMPARE(xl.variant, std::string("sdxl"));
        const auto inpaint = ips::io::detect_from_tensors({t("model.diffusion_model.input_blocks.0.0.weight", {320, 9, 3, 3}),
                                                            t("cond_stage_model.transformer.x"), t("first_stage_model.x")});
        QCOMPARE(inpaint.variant, std::string("sd1.x"));
        QCOMPARE(inpaint.dimensions.at("in_channels"), 9);
    }

    // Found by fuzzing: block indices of 20 digits made stoi/stol throw out of the name mappers. Such a
    // name is simply not a block.
    void hugeIndicesAreNotBlocks() {
        const std::string huge = "99999999999999999999";
        QVERIFY(!ips::io::ldm_to_diffusers("first_stage_model.encoder.down." + huge + ".block.0.conv1.weight",
                                           ips::io::LdmComponent::Vae, {}));
        QVERIFY(!ips::io::ldm_to_diffusers("model.diffusion_model.input_blocks." + huge + ".0.weight",
                                           ips::io::LdmComponent::UNet, {}));
        const auto d = ips::io::detect_from_tensors({t("image_proj.proj.weight", {3072, 1024}),
                                                     t("ip_adapter." + huge + ".to_k_ip.weight", {320, 768})});
        QCOMPARE(d.kind, ModelKind::IpAdapter);
        QCOMPARE(d.dimensions.count("cross_attention_dim"), std::size_t(0));
    }

    void unknownTensorsAreUnknown() {
        const auto d = ips::io::detect_from_tensors({t("layer1.weight"), t("fc.bias")});
        QCOMPARE(d.kind, ModelKind::Unknown);
    }

    void pathWithUnicode() {
        QTemporaryDir dir;
        const auto folder = std::filesystem::path(dir.path().toStdString()) / std::filesystem::u8path("modèles 模型");
        std::filesystem::create_directories(folder);
        const auto file = folder / std::filesystem::u8path("适配器 ip.safetensors");
        std::filesystem::copy_file(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), file);
        const auto info = ips::inspect_model(file);
        QCOMPARE(info.kind, ModelKind::IpAdapter);
    }
};

QTEST_GUILESS_MAIN(TestDetect)
#include "test_detect.moc"
