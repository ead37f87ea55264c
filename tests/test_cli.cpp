// ipstudio-cli as a user runs it: exit codes, JSON output, messages on stderr.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "io/safetensors.h"
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
