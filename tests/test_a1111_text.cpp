// Reading the A1111 "parameters" text of PNGs from AUTOMATIC1111, Forge and IP Studio (the library index is
// rebuilt from it for PNGs without an IP Studio request).
#include <QtTest>

#include "ips/a1111_text.h"
#include "ips/request_json.h"

class TestA1111Text : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void automatic1111Text() {
        // As AUTOMATIC1111 1.6 writes it: a two-line prompt, a two-line negative, quoted and parenthesised commas.
        const auto p = ips::parse_a1111_parameters(
            "masterpiece, a castle on a hill,\n(golden hour:1.2) <lora:detail:0.5>\n"
            "Negative prompt: lowres, bad anatomy,\nwatermark\n"
            "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, Model hash: 7f96a1a9ca, "
            "Model: anything-v5, Lora hashes: \"detail: 9f4a1b2c3d4e, other: 0a1b2c3d4e5f\", ControlNet 0: \"Module: canny, Model: "
            "control_v11p_sd15_canny, Weight: 1\", IP-Adapter: ip-adapter_sd15.safetensors (scale 0.6, style transfer), Version: v1.6.0");
        QCOMPARE(p.prompt, std::string("masterpiece, a castle on a hill,\n(golden hour:1.2) <lora:detail:0.5>"));
        QCOMPARE(p.negative_prompt, std::string("lowres, bad anatomy,\nwatermark"));
        QCOMPARE(p.fields.at("Steps"), std::string("28"));
        QCOMPARE(p.fields.at("Sampler"), std::string("DPM++ 2M Karras"));
        QCOMPARE(p.fields.at("Seed"), std::string("3141592653"));
        QCOMPARE(p.fields.at("Size"), std::string("512x768"));
        QCOMPARE(p.fields.at("Lora hashes"), std::string("\"detail: 9f4a1b2c3d4e, other: 0a1b2c3d4e5f\""));
        QCOMPARE(p.fields.at("IP-Adapter"), std::string("ip-adapter_sd15.safetensors (scale 0.6, style transfer)"));
        QCOMPARE(p.fields.at("Version"), std::string("v1.6.0"));
        QCOMPARE(p.fields.size(), std::size_t(11));
    }

    void ipStudiosOwnTextReadsBack() {
        ips::GenerationRequest r;
        r.model = "models/dreamshaper_8.safetensors";
        r.prompt = "a fox, (snow:1.1)";
        r.negative_prompt = "blurry";
        r.num_inference_steps = 17;
        r.width = 384;
        r.height = 640;
        ips::IpAdapterSettings a, b;
        a.path = "ip-adapter_sd15.safetensors";
        b.path = "ip-adapter-plus_sd15.safetensors";
        b.scale = 0.4;
        r.ip_adapters = {a, b};
        const auto p = ips::parse_a1111_parameters(ips::a1111_parameters(r, 99));
        QCOMPARE(p.prompt, r.prompt);
        QCOMPARE(p.negative_prompt, r.negative_prompt);
        QCOMPARE(p.fields.at("Steps"), std::string("17"));
        QCOMPARE(p.fields.at("Seed"), std::string("99"));
        QCOMPARE(p.fields.at("Size"), std::string("384x640"));
        QCOMPARE(p.fields.at("Model"), std::string("dreamshaper_8.safetensors"));
        QCOMPARE(p.all_fields.count("IP-Adapter"), std::size_t(2));
    }

    void textInAnotherFormatIsAPrompt() {
        QCOMPARE(ips::parse_a1111_parameters("just words, no settings").prompt, std::string("just words, no settings"));
        QVERIFY(ips::parse_a1111_parameters("just words, no settings").fields.empty());
        QVERIFY(ips::parse_a1111_parameters("").prompt.empty());
        // An empty prompt: the text starts with the negative.
        const auto p = ips::parse_a1111_parameters("Negative prompt: ugly\nSteps: 5, Seed: 1");
        QVERIFY(p.prompt.empty());
        QCOMPARE(p.negative_prompt, std::string("ugly"));
        QCOMPARE(p.fields.at("Steps"), std::string("5"));
        // Unbalanced brackets and quotes never crash or hang.
        QCOMPARE(ips::parse_a1111_parameters("x\nSteps: 3, A: (b, \"c").fields.at("Steps"), std::string("3"));
    }
};

QTEST_GUILESS_MAIN(TestA1111Text)
#include "test_a1111_text.moc"
