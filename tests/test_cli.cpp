// ipstudio-cli as a user runs it: exit codes, JSON output, messages on stderr.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QDir>
#include <QProcess>
#include <QtTest>

#include <QCryptographicHash>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "ips/png_file.h"
#include "test_paths.h"

using ipstest::dataPath;

namespace {
struct Run {
    int code = -1;
    QByteArray out, err;
};
Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(IPS_CLI_PATH), args);
    Run r;
    if (!p.waitForFinished(120000)) {
        p.kill();
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}
QString data(const char* relative) { return QString::fromStdString(dataPath(relative).string()); }
}  // namespace

class TestCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void helpAndVersion() {
        const auto help = cli({"--help"});
        QCOMPARE(help.code, 0);
        QVERIFY(help.out.contains("inspect") && help.out.contains("tokenize"));
        const auto version = cli({"--version"});
        QCOMPARE(version.code, 0);
        QVERIFY(version.out.startsWith("ipstudio-cli "));
    }

    void inspectJson() {
        const auto r = cli({"inspect", data("tiny-ip-adapter/ip-adapter-plus_sd15.bin"), "--json"});
        QCOMPARE(r.code, 0);
        const auto j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["kind"].toString(), QString("ip-adapter"));
        QCOMPARE(j["variant"].toString(), QString("plus"));
        QCOMPARE(j["tensor_count"].toInt(), 83);
        QCOMPARE(j["dtypes"].toObject()["F32"].toInt(), 83);
        QVERIFY(j["parameter_count"].toDouble() > 0);
    }

    void inspectPipelineText() {
        const auto r = cli({"inspect", data("tiny-sd15")});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("diffusers-pipeline"));
        QVERIFY(r.out.contains("unet"));
    }

    void inspectBadInputExitsTwo() {
        const auto png = cli({"inspect", data("images/gradient_64x64.png")});
        QCOMPARE(png.code, 2);
        QVERIFY(png.err.contains("gradient_64x64.png"));
        QVERIFY(png.err.contains("PNG image"));
        const auto missing = cli({"inspect", "/no/such/model.safetensors"});
        QCOMPARE(missing.code, 2);
        QVERIFY(missing.err.contains("/no/such/model.safetensors"));
    }

    void tokenizeMatchesGolden() {
        const auto golden = ips::io::read_json_file(dataPath("golden/tokenizer.json"));
        const auto& c0 = golden.at("cases").at(3);
        const auto& c1 = golden.at("cases").at(10);
        const auto r = cli({"tokenize", "--tokenizer", data("tiny-sd15/tokenizer"), "--",
                            QString::fromStdString(c0.at("text").get<std::string>()),
                            QString::fromStdString(c1.at("text").get<std::string>())});
        QCOMPARE(r.code, 0);
        const auto lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        QCOMPARE(nlohmann::json::parse(lines[0].toStdString()), c0.at("input_ids"));
        QCOMPARE(nlohmann::json::parse(lines[1].toStdString()), c1.at("input_ids"));
    }

    void usageErrorsExitTwo() {
        QCOMPARE(cli({}).code, 2);
        QCOMPARE(cli({"frobnicate"}).code, 2);
        QCOMPARE(cli({"inspect"}).code, 2);
        QCOMPARE(cli({"inspect", "a", "b"}).code, 2);
        QCOMPARE(cli({"tokenize", "text"}).code, 2);
        QCOMPARE(cli({"tokenize", "--tokenizer"}).code, 2);
        const auto r = cli({"tokenize", "--tokenizer", "/nonexistent", "x"});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("vocab.json"));
    }

    void embedWritesAReusableReference() {
        QTemporaryDir dir;
        const QString out = dir.path() + QString::fromUtf8("/référence.safetensors");
        const QStringList args{"embed", "--image-encoder", data("tiny-sd15/image_encoder"), "--crop", "pad",
                               data("images/wide_256x128.png"), "--output", out};
        auto r = cli(args);
        QCOMPARE(r.code, 0);
        const auto file = ips::io::SafetensorsFile::open(std::filesystem::u8path(out.toStdString()));
        QCOMPARE(file.metadata().at("crop"), std::string("pad"));
        QCOMPARE(file.find("image_embeds")->shape, (std::vector<std::int64_t>{1, 24}));
        QCOMPARE(file.find("hidden_states")->shape, (std::vector<std::int64_t>{1, 257, 48}));
        // Never replaces a file without being asked.
        r = cli(args);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("already exists"), r.err.constData());
        QCOMPARE(cli(args + QStringList{"--force"}).code, 0);
        // Bad crop mode and a non-image: exit 2 with the reason.
        r = cli({"embed", "--image-encoder", data("tiny-sd15/image_encoder"), "--crop", "stretch", data("images/wide_256x128.png"),
                 "--output", out + "2"});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("center, pad or squash"));
        r = cli({"embed", "--image-encoder", data("tiny-sd15/image_encoder"), data("tiny-sd15/model_index.json"), "--output",
                 out + "3"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("model_index.json: not a readable image"), r.err.constData());
    }

    void generateFromARequestFile() {
        QTemporaryDir dir;
        const QString folder = dir.path() + QString::fromUtf8("/réglages");
        QVERIFY(QDir().mkpath(folder));
        // Paths relative to the request file.
        QVERIFY(QFile::copy(data("images/shapes_100x75.png"), folder + "/ref.png"));
        nlohmann::json request = {{"schema", 1},
                                  {"model", dataPath("tiny-sd15").string()},
                                  {"prompt", "a red cube"},
                                  {"width", 64},
                                  {"height", 64},
                                  {"num_inference_steps", 3},
                                  {"seed", 42},
                                  {"scheduler", "euler_a"},
                                  {"ip_adapters",
                                   {{{"path", dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors").string()},
                                     {"image_encoder", dataPath("tiny-sd15/image_encoder").string()},
                                     {"images", {"ref.png"}},
                                     {"scale", {{"down", {{"block_2", {0.0, 1.0}}}}, {"mid", 0.5}}},
                                     {"crop", "pad"}}}}};
        const QString requestFile = folder + "/preset.json";
        ipstest::writeBytes(std::filesystem::u8path(requestFile.toStdString()), request.dump(2));
        const QString out = folder + "/out.png";
        auto r = cli({"generate", requestFile, "--output", out, "--save-latents", folder + "/final.safetensors", "--save-request",
                      folder + "/resolved.json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto text = ips::read_png_text(std::filesystem::u8path(out.toStdString()));
        QVERIFY(text.at("parameters").find("Steps: 3, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 64x64") != std::string::npos);
        const auto embedded = nlohmann::json::parse(text.at("ipstudio_request"));
        QCOMPARE(embedded["seed"].get<int>(), 42);
        QCOMPARE(embedded["ip_adapters"][0]["images"][0].get<std::string>(), std::string("ref.png"));
        // --from-png reproduces the same picture; flags override fields.
        r = cli({"generate", "--from-png", out, "--output", folder + "/again.png"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(ipstest::readBytes(std::filesystem::u8path((folder + "/again.png").toStdString())),
                 ipstest::readBytes(std::filesystem::u8path(out.toStdString())));
        r = cli({"generate", "--from-png", out, "--seed", "43", "--output", folder + "/other.png", "--quiet"});
        QCOMPARE(r.code, 0);
        QVERIFY(ipstest::readBytes(std::filesystem::u8path((folder + "/other.png").toStdString())) !=
                ipstest::readBytes(std::filesystem::u8path(out.toStdString())));
        // The saved request runs as it is.
        QCOMPARE(cli({"generate", folder + "/resolved.json", "--output", folder + "/resolved.png", "--quiet"}).code, 0);
        QCOMPARE(ipstest::readBytes(std::filesystem::u8path((folder + "/resolved.png").toStdString())),
                 ipstest::readBytes(std::filesystem::u8path(out.toStdString())));
        // Existing output: refused without --force.
        r = cli({"generate", requestFile, "--output", out});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("already exists"), r.err.constData());
    }

    // A LoRA and a textual-inversion embedding from the command line: the PNG says them as A1111 does
    // (<lora:stem:weight>, Lora hashes), the embedded request keeps both, and --from-png makes the same picture.
    void generateWithLoraAndEmbedding() {
        QTemporaryDir dir;
        const QString out = dir.path() + "/styled.png";
        auto r = cli({"generate", "--model", data("tiny-sd15"), "--prompt", "a photo of ti-cat", "--negative-prompt",
                      "embedding:ti-style", "--width", "64", "--height", "64", "--steps", "2", "--seed", "7", "--lora",
                      data("lora/kohya_alpha.safetensors") + ":0.7", "--embedding", data("textual_inversion/ti-cat.pt"),
                      "--embedding", data("textual_inversion/ti-style.safetensors"), "--output", out, "--quiet"});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto text = ips::read_png_text(std::filesystem::u8path(out.toStdString()));
        const std::string& params = text.at("parameters");
        QVERIFY2(params.rfind("a photo of ti-cat <lora:kohya_alpha:0.7>\nNegative prompt: embedding:ti-style\n", 0) == 0,
                 params.c_str());
        // Python's hashlib over the tensor bytes after the header (see test_lora's loraHashes).
        QVERIFY2(params.find(R"(Lora hashes: "kohya_alpha: 2916f95abc86")") != std::string::npos, params.c_str());
        const auto embedded = nlohmann::json::parse(text.at("ipstudio_request"));
        QCOMPARE(embedded["loras"].size(), std::size_t(1));
        QCOMPARE(embedded["embeddings"].size(), std::size_t(2));
        r = cli({"generate", "--from-png", out, "--output", dir.path() + "/again.png", "--quiet"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(ipstest::readBytes(std::filesystem::u8path((dir.path() + "/again.png").toStdString())),
                 ipstest::readBytes(std::filesystem::u8path(out.toStdString())));
    }

    // A prompt past 77 tokens: the plain reading says what it drops; --prompt-syntax a1111 reads it all
    // (two windows), and the PNG keeps the choice so --from-png reads it the same way.
    void longPromptsAndSyntax() {
        QTemporaryDir dir;
        QString prompt;
        for (int i = 0; i < 90; ++i) prompt += "red ";
        const QStringList common{"generate", "--model", data("tiny-sd15"), "--prompt", prompt.trimmed(), "--width", "64",
                                 "--height", "64", "--steps", "2", "--seed", "3", "--quiet"};
        auto r = cli(common + QStringList{"--output", dir.path() + "/plain.png"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.err.contains("warning: the prompt is 92 tokens; the last 15 are ignored"), r.err.constData());
        r = cli(common + QStringList{"--prompt-syntax", "a1111", "--output", dir.path() + "/a1111.png"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(!r.err.contains("warning"), r.err.constData());
        const auto text = ips::read_png_text(std::filesystem::u8path((dir.path() + "/a1111.png").toStdString()));
        QCOMPARE(nlohmann::json::parse(text.at("ipstudio_request"))["prompt_syntax"].get<std::string>(), std::string("a1111"));
        QVERIFY(ipstest::readBytes(std::filesystem::u8path((dir.path() + "/a1111.png").toStdString())) !=
                ipstest::readBytes(std::filesystem::u8path((dir.path() + "/plain.png").toStdString())));
        r = cli({"generate", "--from-png", dir.path() + "/a1111.png", "--output", dir.path() + "/again.png", "--quiet"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(ipstest::readBytes(std::filesystem::u8path((dir.path() + "/again.png").toStdString())),
                 ipstest::readBytes(std::filesystem::u8path((dir.path() + "/a1111.png").toStdString())));
        r = cli(common + QStringList{"--prompt-syntax", "compel", "--output", dir.path() + "/x.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("prompt_syntax must be plain or a1111"), r.err.constData());
    }

    void generateRefusesBadRequests() {
        QTemporaryDir dir;
        const QString bad = dir.path() + "/bad.json";
        ipstest::writeBytes(bad.toStdString(), R"({"schema": 1, "prompt": "x", "stepz": 3})");
        auto r = cli({"generate", bad, "--output", dir.path() + "/o.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("bad.json: stepz is not a known field"), r.err.constData());
        ipstest::writeBytes(bad.toStdString(), R"({"schema": 2})");
        r = cli({"generate", bad, "--output", dir.path() + "/o.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("newer than this version"), r.err.constData());
        ipstest::writeBytes(bad.toStdString(), "{not json");
        r = cli({"generate", bad, "--output", dir.path() + "/o.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("not valid JSON"), r.err.constData());
        r = cli({"generate", "--model", data("tiny-sd15"), "--width", "100", "--output", dir.path() + "/o.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("width must be a multiple of 8"), r.err.constData());
        QCOMPARE(cli({"generate", "--model", data("tiny-sd15")}).code, 2);  // no --output
        ipstest::writeBytes(bad.toStdString(), R"({"schema": 1, "width": 4294967808})");
        r = cli({"generate", bad, "--output", dir.path() + "/o.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("width is too large"), r.err.constData());
    }

    // --ip-mask: one region per --ip-image; the warning for a region of another size reaches stderr, and the
    // PNG's parameters say regions were used.
    void generateWithRegions() {
        QTemporaryDir dir;
        const QStringList base{"generate", "--model", data("tiny-sd15"), "--width", "64", "--height", "64", "--steps", "2", "--seed", "3",
                               "--ip-adapter", data("tiny-ip-adapter/ip-adapter_sd15.safetensors"), "--ip-image-encoder",
                               data("tiny-sd15/image_encoder"), "--ip-image", data("images/shapes_100x75.png"), "--ip-image",
                               data("images/portrait_48x80.png")};
        auto r = cli(base + QStringList{"--ip-mask", data("images/ipmask_left_128x128.png"), "--output", dir.path() + "/o.png"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("1 regions for 2 images"), r.err.constData());
        r = cli(base + QStringList{"--ip-mask", data("images/ipmask_left_128x128.png"), "--ip-mask", data("images/ipmask_right_128x128.png"),
                                   "--output", dir.path() + "/o.png", "--quiet"});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.err.contains("warning: ip_adapters[0].regions[0]: the region is 128x128, resized to the output size 64x64"), r.err.constData());
        const auto text = ips::read_png_text((dir.path() + "/o.png").toStdString());
        QVERIFY(text.at("parameters").find("2 regions") != std::string::npos);
        QVERIFY(text.at("ipstudio_request").find("ipmask_right_128x128.png") != std::string::npos);
    }

    // The library the window shows: the PNG under results/, its row in the index, inputs kept by content hash;
    // a folder of PNGs from elsewhere is imported; a library that cannot be made is a clear error.
    void generateIntoLibraryAndImport() {
        QTemporaryDir dir;
        const QString library = dir.path() + QString::fromUtf8("/bibliothèque");
        auto r = cli({"generate", "--model", data("tiny-sd15"), "--prompt", "a fox from the command line", "--width", "64", "--height", "64",
                      "--steps", "2", "--seed", "11", "--init-image", data("images/scene_128x128.png"), "--library", library, "--quiet"});
        QCOMPARE(r.code, 0);
        const QString png = QString::fromUtf8(r.out).trimmed();
        QVERIFY2(png.startsWith(library + "/results/") && QFileInfo::exists(png), r.out.constData());
        QVERIFY(QFileInfo::exists(library + "/library.sqlite"));
        QFile init(data("images/scene_128x128.png"));
        QVERIFY(init.open(QIODevice::ReadOnly));
        const QString kept = library + "/inputs/" + QCryptographicHash::hash(init.readAll(), QCryptographicHash::Sha256).toHex() + ".png";
        QVERIFY2(QFileInfo::exists(kept), qPrintable(kept));
        const auto text = ips::read_png_text(png.toStdString());
        QVERIFY(text.at("ipstudio_request").find("inputs/") != std::string::npos);

        r = cli({"import", data("images"), "--library", library});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("pictures imported"), r.out.constData());

        QFile blocker(dir.path() + "/file");
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        r = cli({"import", data("images"), "--library", dir.path() + "/file/lib"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("file/lib") && r.err.contains("cannot be created"), r.err.constData());
    }

    void unicodePath() {
        QTemporaryDir dir;
        const QString path = dir.path() + QString::fromUtf8("/réf 参考.safetensors");
        QVERIFY(QFile::copy(data("tiny-ip-adapter/ip-adapter-full-face_sd15.safetensors"), path));
        const auto r = cli({"inspect", path, "--json"});
        QCOMPARE(r.code, 0);
        const auto j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["variant"].toString(), QString("full-face"));
        QCOMPARE(j["path"].toString(), path);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
