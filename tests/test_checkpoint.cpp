// PyTorch torch.save zip archives: the official IP-Adapter .bin layout, state_dict wrappers, nesting.
#include <QtTest>

#include <ATen/ATen.h>

#include "io/weights.h"
#include "ips/errors.h"
#include "test_paths.h"

using namespace ips::io;
using ipstest::dataPath;


class TestCheckpoint : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void binEqualsSafetensors_data() {
        QTest::addColumn<QString>("stem");
        QTest::newRow("base") << "ip-adapter_sd15";
        QTest::newRow("plus") << "ip-adapter-plus_sd15";
        QTest::newRow("full-face") << "ip-adapter-full-face_sd15";
    }
    void binEqualsSafetensors() {
        QFETCH(QString, stem);
        const auto bin = load_weights(dataPath("tiny-ip-adapter/" + stem.toStdString() + ".bin"));
        const auto st = load_weights(dataPath("tiny-ip-adapter/" + stem.toStdString() + ".safetensors"));
        QCOMPARE(bin.format, WeightsFormat::TorchZip);
        QCOMPARE(st.format, WeightsFormat::Safetensors);
        QCOMPARE(bin.tensors.size(), st.tensors.size());
        for (const auto& [name, tensor] : st.tensors) {
            QVERIFY2(bin.tensors.count(name), name.c_str());
            QVERIFY2(at::equal(bin.tensors.at(name), tensor), name.c_str());
        }
        // The nested {"image_proj": ..., "ip_adapter": ...} layout flattened to the flat key names.
        QVERIFY(bin.tensors.count("ip_adapter.1.to_k_ip.weight"));
    }

    // Fixtures written in torch.save's format by tools/make_checkpoint_fixtures.py.
    void stateDictWrapperIsUnwrapped() {
        const auto w = load_weights(dataPath("checkpoints/wrapped.ckpt"));
        QCOMPARE(w.format, WeightsFormat::TorchZip);
        QCOMPARE(w.tensors.size(), std::size_t(2));  // epoch and global_step are not weights
        QVERIFY(at::equal(w.tensors.at("model.diffusion_model.conv.weight"), at::arange(6, at::kFloat).reshape({2, 3})));
        const auto& bias = w.tensors.at("model.diffusion_model.conv.bias");
        QCOMPARE(bias.scalar_type(), at::kHalf);
        QCOMPARE(bias[1].item<float>(), -0.5f);
    }

    void nestedDictsFlatten() {
        const auto w = load_weights(dataPath("checkpoints/nested.pt"));
        QCOMPARE(w.tensors.size(), std::size_t(3));
        QVERIFY(at::equal(w.tensors.at("image_proj.proj.weight"), at::tensor({1.f, 2.f, 3.f, 4.f}).reshape({2, 2})));
        QCOMPARE(w.tensors.at("ip_adapter.1.to_k_ip.weight").sizes().vec(), (std::vector<std::int64_t>{1, 2}));
        QCOMPARE(w.tensors.at("ip_adapter.steps").scalar_type(), at::kLong);
        QCOMPARE(w.tensors.at("ip_adapter.steps").item<std::int64_t>(), std::int64_t(42));
    }

    void checkpointWithoutTensorsIsAnError() {
        try {
            load_weights(dataPath("checkpoints/no_tensors.ckpt"));
            QFAIL("expected ModelLoadError");
        } catch (const ips::ModelLoadError& e) {
            QVERIFY(std::string(e.what()).find("no tensors") != std::string::npos);
            QVERIFY(std::string(e.what()).find("no_tensors.ckpt") != std::string::npos);
        }
    }

    void tensorInfosMatchBetweenFormats() {
        auto a = read_tensor_infos(dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.bin"));
        auto b = read_tensor_infos(dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors"));
        QCOMPARE(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            QCOMPARE(a[i].name, b[i].name);
            QCOMPARE(a[i].shape, b[i].shape);
            QCOMPARE(a[i].dtype, b[i].dtype);
        }
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
