// Upsample2D's nearest 2x + 3x3 convolution computed as four 2x2 phase convolutions (nn/upsample_conv): the
// same picture as upsampling then convolving, by hand on a tiny case and against LibTorch's own two steps in
// float64 over the layouts and sizes the networks use; the phase kernels follow replaced and merged weights.
#include <QtTest>

#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>

#include "nn/resnet.h"
#include "nn/weight_epoch.h"

namespace {

ips::nn::Upsample2D makeUpsample(std::int64_t in, std::int64_t out, at::ScalarType dtype, bool channelsLast) {
    ips::nn::Upsample2D up(in, out);
    torch::NoGradGuard no_grad;
    const auto format = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    up->conv->weight.set_data((at::randn({out, in, 3, 3}, at::kDouble) * 0.2).to(dtype).contiguous(format));
    up->conv->bias.set_data(at::randn({out}, at::kDouble).to(dtype));
    return up;
}

// What diffusers runs: the upsampled picture, then the convolution, here in float64.
at::Tensor asWritten(ips::nn::Upsample2D& up, const at::Tensor& x, at::IntArrayRef size = {}) {
    const at::Tensor xd = x.to(at::kDouble);
    const at::Tensor u = size.empty() ? at::upsample_nearest2d(xd, {2 * x.size(2), 2 * x.size(3)}) : at::upsample_nearest2d(xd, size);
    return at::conv2d(u, up->conv->weight.to(at::kDouble), up->conv->bias.to(at::kDouble), 1, 1);
}

double relativeError(const at::Tensor& got, const at::Tensor& want) {
    return ((got.to(at::kDouble) - want).abs().max() / want.abs().max()).item<double>();
}

}  // namespace

class TestUpsampleConv : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::manual_seed(3); }

    // One channel, kernel of ones, no bias: each output pixel is the sum of the 3x3 window of the upsampled
    // picture [[1,1,2,2],[1,1,2,2],[3,3,4,4],[3,3,4,4]] (zeros outside), counted by hand.
    void handComputedCase() {
        c10::InferenceMode inference;
        ips::nn::Upsample2D up(1, 1);
        {
            torch::NoGradGuard no_grad;
            up->conv->weight.set_data(at::ones({1, 1, 3, 3}));
            up->conv->bias.set_data(at::zeros({1}));
        }
        const at::Tensor x = at::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 1, 2, 2});
        const at::Tensor want = at::tensor({4.f, 8.f, 10.f, 8.f,     //
                                            10.f, 18.f, 21.f, 16.f,  //
                                            14.f, 24.f, 27.f, 20.f,  //
                                            12.f, 20.f, 22.f, 16.f})
                                    .view({1, 1, 4, 4});
        QVERIFY(ips::nn::phase_upsampling_enabled());
        QVERIFY(at::equal(up->forward(x), want));
        QVERIFY(at::equal(ips::nn::phase_kernels(up->conv->weight).view({4, 4}),
                          at::tensor({1.f, 2.f, 2.f, 4.f, 2.f, 1.f, 4.f, 2.f, 2.f, 4.f, 1.f, 2.f, 4.f, 2.f, 2.f, 1.f}).view({4, 4})));
    }

    void matchesUpsampleThenConvolve_data() {
        QTest::addColumn<int>("batch");
        QTest::addColumn<int>("in");
        QTest::addColumn<int>("out");
        QTest::addColumn<int>("height");
        QTest::addColumn<int>("width");
        QTest::addColumn<bool>("channelsLast");
        QTest::addColumn<bool>("bf16");
        QTest::newRow("f32 NCHW odd sizes") << 2 << 8 << 12 << 5 << 7 << false << false;
        QTest::newRow("f32 NHWC") << 1 << 32 << 32 << 8 << 8 << true << false;
        QTest::newRow("f32 1x1") << 1 << 4 << 4 << 1 << 1 << false << false;
        QTest::newRow("bf16 NHWC VAE-like") << 1 << 64 << 64 << 16 << 16 << true << true;
        QTest::newRow("bf16 NHWC UNet-like odd") << 2 << 96 << 96 << 3 << 5 << true << true;
        QTest::newRow("bf16 NCHW") << 1 << 16 << 24 << 6 << 4 << false << true;
    }
    void matchesUpsampleThenConvolve() {
        QFETCH(int, batch);
        QFETCH(int, in);
        QFETCH(int, out);
        QFETCH(int, height);
        QFETCH(int, width);
        QFETCH(bool, channelsLast);
        QFETCH(bool, bf16);
        c10::InferenceMode inference;
        const auto dtype = bf16 ? at::kBFloat16 : at::kFloat;
        const auto format = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
        auto up = makeUpsample(in, out, dtype, channelsLast);
        const at::Tensor x = at::randn({batch, in, height, width}).to(dtype).contiguous(format);
        const at::Tensor want = asWritten(up, x);
        const at::Tensor got = up->forward(x);
        QCOMPARE(got.sizes(), want.sizes());
        QCOMPARE(got.scalar_type(), dtype);
        QCOMPARE(got.is_contiguous(format), true);  // the layout the convolution as written gives
        // float32: summation order only. bfloat16: the summed taps rounded once more, against LibTorch's own
        // bfloat16 path measured in the same units (both against float64).
        ips::nn::set_phase_upsampling_enabled(false);
        const at::Tensor plain = up->forward(x);
        ips::nn::set_phase_upsampling_enabled(true);
        const double err = relativeError(got, want), plainErr = relativeError(plain, want);
        if (bf16) {
            QVERIFY2(err < 0.03, qPrintable(QString("phase %1, as written %2").arg(err).arg(plainErr)));
            QVERIFY2(err < 3 * plainErr + 1e-3, qPrintable(QString("phase %1, as written %2").arg(err).arg(plainErr)));
        } else {
            QVERIFY2(err < 1e-5, qPrintable(QString::number(err)));
            QVERIFY2(plainErr < 1e-5, qPrintable(QString::number(plainErr)));
        }
    }

    // The UNet upsamples to the next skip connection's size: an odd one (not 2x) runs as written, 2x given
    // explicitly takes the phase path.
    void outputSizeOtherThanTwiceRunsAsWritten() {
        c10::InferenceMode inference;
        auto up = makeUpsample(8, 8, at::kFloat, false);
        const at::Tensor x = at::randn({1, 8, 4, 5});
        const std::vector<std::int64_t> odd{7, 9}, twice{8, 10};
        const at::Tensor got = up->forward(x, odd);
        QCOMPARE(got.sizes(), (std::vector<std::int64_t>{1, 8, 7, 9}));
        QVERIFY(relativeError(got, asWritten(up, x, odd)) < 1e-6);
        QVERIFY(relativeError(up->forward(x, twice), asWritten(up, x, twice)) < 1e-5);
    }

    // New weights (set_data: a model loaded) are seen at once; weights changed in place (a LoRA merged)
    // once weights_changed_in_place() says so.
    void phaseKernelsFollowTheWeights() {
        c10::InferenceMode inference;
        auto up = makeUpsample(8, 8, at::kFloat, true);
        const at::Tensor x = at::randn({1, 8, 6, 6}).contiguous(at::MemoryFormat::ChannelsLast);
        const at::Tensor before = up->forward(x);
        up->conv->weight.set_data((at::randn({8, 8, 3, 3}) * 0.2).contiguous(at::MemoryFormat::ChannelsLast));
        const at::Tensor replaced = up->forward(x);
        QVERIFY(relativeError(replaced, asWritten(up, x)) < 1e-5);
        QVERIFY(relativeError(before, asWritten(up, x)) > 0.1);
        up->conv->weight.mul_(-2);
        up->conv->bias.add_(1);
        ips::nn::weights_changed_in_place();
        QVERIFY(relativeError(up->forward(x), asWritten(up, x)) < 1e-5);
    }
};

QTEST_APPLESS_MAIN(TestUpsampleConv)
#include "test_upsample_conv.moc"
