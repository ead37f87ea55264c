// Convolutions with weights packed once (nn/packed_conv): the same numbers as LibTorch's own convolution, bit
// for bit, over the shapes the networks use; the packed copy follows weights replaced or changed in place
// (a LoRA merge); and the portable path (packing off) is LibTorch's.
#include <QtTest>

#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>

#include "ips/weight_packing.h"
#include "nn/packed_conv.h"
#include "nn/weight_epoch.h"

namespace {

struct Shape {
    std::int64_t batch, in, out, size, kernel, stride, padding;
    bool bias;
};

torch::nn::Conv2d makeConv(const Shape& s, bool channelsLastWeights, at::ScalarType biasType = at::kBFloat16) {
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(s.in, s.out, s.kernel).stride(s.stride).padding(s.padding).bias(s.bias));
    torch::NoGradGuard no_grad;
    at::Tensor w = (at::randn(conv->weight.sizes()) * 0.1).to(at::kBFloat16);
    conv->weight.set_data(channelsLastWeights ? w.contiguous(at::MemoryFormat::ChannelsLast) : w.contiguous());
    if (s.bias) conv->bias.set_data(at::randn({s.out}).to(biasType));
    return conv;
}

at::Tensor input(const Shape& s) {
    return at::randn({s.batch, s.in, s.size, s.size}).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace

class TestPackedConv : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        at::manual_seed(7);
        ips::nn::set_packed_conv_enabled(true);  // off by default: these cases are about the packed path
        // Where this CPU has no native bfloat16 kernel both paths are LibTorch's: the comparisons still run.
        qInfo("packed convolutions on this machine: %s", ips::nn::packed_conv_available() ? "yes" : "no (LibTorch's path)");
    }
    void cleanup() { ips::nn::set_packed_conv_enabled(true); }
    void cleanupTestCase() { ips::nn::set_packed_conv_enabled(ips::nn::packed_conv_default()); }

    void sameNumbersAsLibTorch_data() {
        QTest::addColumn<int>("index");
        const char* names[] = {"3x3 stride 1", "3x3 stride 2 (downsample)", "1x1 shortcut", "1x1 no bias", "conv_in 4 channels",
                               "batch 2 (CFG)", "odd size", "conv_out to 4 channels"};
        for (int i = 0; i < 8; ++i) QTest::newRow(names[i]) << i;
    }
    void sameNumbersAsLibTorch() {
        QFETCH(int, index);
        const Shape shapes[] = {{1, 64, 64, 16, 3, 1, 1, true}, {1, 64, 64, 16, 3, 2, 1, true}, {1, 32, 64, 16, 1, 1, 0, true},
                                {1, 64, 32, 8, 1, 1, 0, false}, {1, 4, 32, 16, 3, 1, 1, true},  {2, 32, 32, 12, 3, 1, 1, true},
                                {1, 32, 48, 13, 3, 1, 1, true}, {1, 32, 4, 16, 3, 1, 1, true}};
        const Shape s = shapes[index];
        c10::InferenceMode inference;
        for (const bool channelsLastWeights : {true, false}) {
            torch::nn::Conv2d conv = makeConv(s, channelsLastWeights);
            const at::Tensor x = input(s);
            const at::Tensor want = conv(x);
            const at::Tensor got = ips::nn::conv2d(conv, x);
            QCOMPARE(got.sizes(), want.sizes());
            QVERIFY(got.is_contiguous(at::MemoryFormat::ChannelsLast));
            QVERIFY2(at::equal(got, want), qPrintable(QString("max difference %1").arg((got.to(at::kFloat) - want.to(at::kFloat)).abs().max().item<float>())));
            QVERIFY(at::equal(ips::nn::conv2d(conv, x), want));  // the second call runs on the kept copy
        }
        if (ips::nn::packed_conv_available()) QVERIFY(ips::nn::packed_conv_bytes() > 0);
    }

    // The public switch (Live turns it on while it runs): off frees every packed copy, on packs again and
    // the numbers stay LibTorch's.
    void publicSwitchFreesTheCopies() {
        c10::InferenceMode inference;
        const Shape s{1, 32, 16, 16, 3, 1, 1, true};
        torch::nn::Conv2d conv = makeConv(s, true);
        const at::Tensor x = input(s);
        const at::Tensor want = conv(x);
        ips::set_weight_packing(true);
        const bool packs = ips::weight_packing();
        QVERIFY(at::equal(ips::nn::conv2d(conv, x), want));
        QCOMPARE(ips::nn::packed_conv_bytes() > 0, packs);
        ips::set_weight_packing(false);
        QCOMPARE(ips::weight_packing(), ips::nn::packed_conv_default());
        if (!ips::nn::packed_conv_default()) QCOMPARE(ips::nn::packed_conv_bytes(), std::size_t(0));
        QVERIFY(at::equal(ips::nn::conv2d(conv, x), want));
    }

    // A float32 module and an NCHW input take LibTorch's path; a float32 bias under bfloat16 weights is
    // refused as LibTorch refuses it.
    void otherTypesAreLibTorchs() {
        c10::InferenceMode inference;
        const Shape s{1, 16, 16, 8, 3, 1, 1, true};
        torch::nn::Conv2d mixed = makeConv(s, true, at::kFloat);
        QVERIFY_THROWS_EXCEPTION(c10::Error, ips::nn::conv2d(mixed, input(s)));
        torch::nn::Conv2d bf16 = makeConv(s, true);
        torch::nn::Conv2d f32(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
        const at::Tensor xf = at::randn({1, 16, 8, 8});
        QVERIFY(at::equal(ips::nn::conv2d(f32, xf), f32(xf)));
        const at::Tensor nchw = input(s).contiguous();  // not channels-last
        QVERIFY(at::equal(ips::nn::conv2d(bf16, nchw), bf16(nchw)));
    }

    // Replaced weights (set_data: model loading) are seen at once; weights changed in place (a LoRA merge
    // writes into the parameter's memory) after weights_changed_in_place().
    void packedCopyFollowsTheWeights() {
        c10::InferenceMode inference;
        const Shape s{1, 32, 32, 8, 3, 1, 1, true};
        torch::nn::Conv2d conv = makeConv(s, true);
        const at::Tensor x = input(s);
        const at::Tensor before = ips::nn::conv2d(conv, x);
        conv->weight.set_data((at::randn(conv->weight.sizes()) * 0.1).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast));
        const at::Tensor replaced = ips::nn::conv2d(conv, x);
        QVERIFY(!at::equal(replaced, before));
        QVERIFY(at::equal(replaced, conv(x)));
        conv->weight.mul_(-2);  // in place, as a merge does
        ips::nn::weights_changed_in_place();
        const at::Tensor changed = ips::nn::conv2d(conv, x);
        QVERIFY(!at::equal(changed, replaced));
        QVERIFY(at::equal(changed, conv(x)));
    }

    // The copies of freed modules are dropped at the next packing.
    void freedModulesGiveTheirMemoryBack() {
        if (!ips::nn::packed_conv_available()) QSKIP("no native bfloat16 convolution on this CPU: nothing is packed");
        c10::InferenceMode inference;
        const Shape big{1, 256, 256, 8, 3, 1, 1, true};
        const Shape small{1, 8, 8, 8, 3, 1, 1, true};
        torch::nn::Conv2d first = makeConv(small, true);
        ips::nn::conv2d(first, input(small));  // drops what earlier cases left
        const std::size_t start = ips::nn::packed_conv_bytes();
        {
            torch::nn::Conv2d conv = makeConv(big, true);
            ips::nn::conv2d(conv, input(big));
            QVERIFY(ips::nn::packed_conv_bytes() >= start + std::size_t(256 * 256 * 9 * 2));
        }
        torch::nn::Conv2d other = makeConv(small, true);
        ips::nn::conv2d(other, input(small));
        QVERIFY(ips::nn::packed_conv_bytes() < start + std::size_t(256 * 256 * 9 * 2));
    }

    // Packing off (the default, and the path of CPUs without the kernel): LibTorch's convolution.
    void portablePathIsLibTorchs() {
        c10::InferenceMode inference;
        ips::nn::set_packed_conv_enabled(false);
        QVERIFY(!ips::nn::packed_conv_available());
        const Shape s{1, 32, 32, 8, 3, 1, 1, true};
        torch::nn::Conv2d conv = makeConv(s, true);
        const at::Tensor x = input(s);
        QVERIFY(at::equal(ips::nn::conv2d(conv, x), conv(x)));
    }
};

QTEST_GUILESS_MAIN(TestPackedConv)
#include "test_packed_conv.moc"
