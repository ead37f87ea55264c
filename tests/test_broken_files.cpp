// Every kind of broken weights file gives a ModelLoadError that names the file and the problem.
// Run under the ASan/UBSan preset too: no report may appear.
#include <QtTest>

#include <fstream>

#include "broken_files.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "ips/model_info.h"

class TestBrokenFiles : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::vector<ipstest::BrokenFile> files;

    static void expectError(const ipstest::BrokenFile& file, const std::function<void()>& load) {
        try {
            load();
        } catch (const ips::ModelLoadError& e) {
            const std::string message = e.what();
            for (const auto& fragment : file.must_mention)
                if (message.find(fragment) == std::string::npos)
                    QFAIL(("message lacks '" + fragment + "': " + message).c_str());
            return;
        }
        QFAIL(("no ModelLoadError for " + file.what).c_str());
    }

private Q_SLOTS:
    void initTestCase() { files = ipstest::makeBrokenFiles(dir.path().toStdString()); }

    void loadWeights_data() {
        QTest::addColumn<int>("index");
        for (std::size_t i = 0; i < files.size(); ++i) QTest::newRow(files[i].what.c_str()) << int(i);
    }
    void loadWeights() {
        QFETCH(int, index);
        const auto& file = files[index];
        expectError(file, [&] { ips::io::load_weights(file.path); });
    }

    void inspect_data() { loadWeights_data(); }
    void inspect() {
        QFETCH(int, index);
        const auto& file = files[index];
        if (file.what == "directory") return;  // a folder is inspected as a model folder instead
        expectError(file, [&] { ips::inspect_model(file.path); });
    }

    void validHandMadeFileLoads() {
        // The corpus' template itself is valid, so the failures above come from the damage alone.
        const auto path = std::filesystem::path(dir.path().toStdString()) / "valid.safetensors";
        std::ofstream(path, std::ios::binary) << ipstest::validSafetensors(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})", 24);
        const auto w = ips::io::load_weights(path);
        QCOMPARE(w.tensors.size(), std::size_t(2));
        QCOMPARE(w.tensors.at("b").sizes().vec(), (std::vector<std::int64_t>{2, 2}));
    }

    void missingFile() {
        QVERIFY_THROWS_EXCEPTION(ips::ModelLoadError, ips::io::load_weights("/nonexistent/model.safetensors"));
        QVERIFY_THROWS_EXCEPTION(ips::ModelLoadError, ips::inspect_model("/nonexistent/model.safetensors"));
    }
};

QTEST_GUILESS_MAIN(TestBrokenFiles)
#include "test_broken_files.moc"
