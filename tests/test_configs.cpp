// config.json parsing: the fixtures' values, diffusers' defaults for absent keys, errors naming file and key.
#include <QtTest>

#include <nlohmann/json.hpp>

#include "io/configs.h"
#include "ips/errors.h"
#include "ips/request_json.h"
#include "test_paths.h"

using namespace ips::io;
using ipstest::dataPath;

class TestConfigs : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void unetFixture() {
        const auto c = load_config<UNet2DConditionModelConfig>(dataPath("tiny-sd15/unet/config.json"));
        QCOMPARE(c.block_out_channels, (std::vector<int>{32, 32, 32, 64}));
        QCOMPARE(c.cross_attention_dim, (std::vector<int>{32, 32, 32, 32}));   // one number expanded per block
        QCOMPARE(c.attention_head_dim, (std::vector<int>{8, 8, 8, 8}));
        QCOMPARE(c.layers_per_block, (std::vector<int>{2, 2, 2, 2}));
        QVERIFY(c.num_attention_heads.empty());  // null in the file
        QCOMPARE(c.sample_size, std::optional<int>(16));
        QCOMPARE(c.down_block_types.back(), std::string("DownBlock2D"));
        QCOMPARE(c.up_block_types.front(), std::string("UpBlock2D"));
        QVERIFY(!c.use_linear_projection);
    }

    void unetDefaultsAreDiffusers() {
        const auto c = parse_unet_config(nlohmann::json::object(), "config.json");
        QCOMPARE(c.block_out_channels, (std::vector<int>{320, 640, 1280, 1280}));
        QCOMPARE(c.cross_attention_dim, (std::vector<int>{1280, 1280, 1280, 1280}));
        QCOMPARE(c.attention_head_dim, (std::vector<int>{8, 8, 8, 8}));
        QCOMPARE(c.in_channels, 4);
        QCOMPARE(c.norm_num_groups, std::optional<int>(32));
        QVERIFY(c.flip_sin_to_cos);
    }

    void perBlockLists() {
        // SD2-style config: one head dimension per block, linear projection.
        const auto j = nlohmann::json::parse(
            R"({"attention_head_dim": [5, 10, 20, 20], "use_linear_projection": true, "cross_attention_dim": 1024, "in_channels": 9})");
        const auto c = parse_unet_config(j, "sd2/unet/config.json");
        QCOMPARE(c.attention_head_dim, (std::vector<int>{5, 10, 20, 20}));
        QCOMPARE(c.cross_attention_dim, (std::vector<int>{1024, 1024, 1024, 1024}));
        QCOMPARE(c.in_channels, 9);
        QVERIFY(c.use_linear_projection);
    }

    void vaeTextVisionControlnetScheduler() {
        const auto vae = load_config<AutoencoderKLConfig>(dataPath("tiny-sd15/vae/config.json"));
        QCOMPARE(vae.scaling_factor, 0.18215);
        QCOMPARE(vae.layers_per_block, 2);
        QVERIFY(vae.force_upcast);
        const auto text = load_config<CLIPTextConfig>(dataPath("tiny-sd15/text_encoder/config.json"));
        QCOMPARE(text.hidden_size, 32);
        QCOMPARE(text.num_hidden_layers, 4);
        QCOMPARE(text.eos_token_id, std::int64_t(2));  // legacy config value, kept as written
        QCOMPARE(text.hidden_act, std::string("quick_gelu"));
        const auto vision = load_config<CLIPVisionConfig>(dataPath("tiny-sd15/image_encoder/config.json"));
        QCOMPARE(vision.patch_size, 14);
        QCOMPARE(vision.projection_dim, 24);
        QCOMPARE(vision.hidden_act, std::string("gelu"));
        const auto control = load_config<ControlNetModelConfig>(dataPath("tiny-controlnet/config.json"));
        QCOMPARE(control.conditioning_embedding_out_channels, (std::vector<int>{16, 32, 32, 64}));
        const auto sched = load_config<SchedulerConfig>(dataPath("tiny-sd15/scheduler/scheduler_config.json"));
        QCOMPARE(sched.class_name, std::string("PNDMScheduler"));
        QCOMPARE(sched.beta_schedule, std::string("scaled_linear"));
        QCOMPARE(sched.steps_offset, 1);
        QVERIFY(sched.skip_prk_steps);
        QVERIFY(!sched.set_alpha_to_one);
        QCOMPARE(sched.timestep_spacing, std::string("leading"));  // absent: the default
        QVERIFY(!sched.trained_betas.has_value());
    }

    void wrongTypeNamesFileAndKey() {
        const auto msg = ipstest::loadErrorOf([] {
            parse_unet_config(nlohmann::json::parse(R"({"in_channels": "four"})"), "unet/config.json");
        });
        QVERIFY2(msg.find("unet/config.json") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("in_channels") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("integer") != std::string::npos, msg.c_str());
    }

    void listLengthMustMatchBlocks() {
        const auto msg = ipstest::loadErrorOf([] {
            parse_unet_config(nlohmann::json::parse(R"({"attention_head_dim": [8, 8]})"), "unet/config.json");
        });
        QVERIFY2(msg.find("attention_head_dim") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("one per block") != std::string::npos, msg.c_str());
    }

    void invalidJsonFileNamesFile() {
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / "config.json";
        ipstest::writeBytes(path, "{\"in_channels\": 4,");
        const auto msg = ipstest::loadErrorOf([&] { load_config<UNet2DConditionModelConfig>(path); });
        QVERIFY2(msg.find("config.json") != std::string::npos && msg.find("invalid JSON") != std::string::npos, msg.c_str());
        // A number beyond a double is nlohmann's out_of_range, not a parse_error (found by fuzzing): still
        // the same message, in config files and in requests.
        ipstest::writeBytes(path, "{\"in_channels\": 4e999}");
        const auto huge = ipstest::loadErrorOf([&] { load_config<UNet2DConditionModelConfig>(path); });
        QVERIFY2(huge.find("config.json") != std::string::npos && huge.find("invalid JSON") != std::string::npos, huge.c_str());
        const auto request = ipstest::inputErrorOf([&] { ips::parse_request_json(R"({"model": 7E777})", "/base", "preset.json"); });
        QVERIFY2(request.find("preset.json: not valid JSON") != std::string::npos, request.c_str());
        const auto missing = ipstest::loadErrorOf([&] { load_config<AutoencoderKLConfig>(path.parent_path() / "nope.json"); });
        QVERIFY2(missing.find("nope.json") != std::string::npos, missing.c_str());
    }

    void nonPositiveValuesRejected() {
        const auto msg = ipstest::loadErrorOf([] {
            parse_vae_config(nlohmann::json::parse(R"({"block_out_channels": [0]})"), "vae/config.json");
        });
        QVERIFY2(msg.find("block_out_channels") != std::string::npos, msg.c_str());
    }
};

QTEST_GUILESS_MAIN(TestConfigs)
#include "test_configs.moc"
