// The fused bfloat16 GEGLU and LayerNorm kernels against float64 formulas, and the transformer block's
// use of them against LibTorch's separate operations.
#include <QtTest>

#include <ATen/ATen.h>

#include "nn/attention.h"
#include "nn/kernels/elementwise.h"
#include "nn/resnet.h"
#include "nn/transformer_2d.h"

namespace kernels = ips::nn::kernels;

namespace {

const std::uint16_t* bits(const at::Tensor& t) { return static_cast<const std::uint16_t*>(t.data_ptr()); }
std::uint16_t* bits(at::Tensor& t) { return static_cast<std::uint16_t*>(t.data_ptr()); }

at::Tensor geluExact(const at::Tensor& x) { return 0.5 * x * (1 + at::erf(x / std::sqrt(2.0))); }

// Largest error measured in units of the expected value's bfloat16 spacing (an ulp is 2^-7 relative):
// a correctly rounded result is within 0.5, one extra rounding within 1. Values under 1e-3 (GELU's far
// left tail, where float32's exp underflows) count in the spacing of 1e-3.
double errorInUlps(const at::Tensor& got, const at::Tensor& want) {
    const at::Tensor w = want.to(at::kDouble);
    const at::Tensor ulp = at::pow(2.0, at::floor(at::log2(w.abs().clamp_min(1e-3))) - 7);
    return ((got.to(at::kDouble) - w).abs() / ulp).max().item<double>();
}

}  // namespace

class TestFusedElementwise : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cleanup() { ips::nn::set_attention_kernel(ips::nn::AttentionKernel::automatic); }

    void geluMatchesErfFormula() {
        // Across the range, tails included: float32 accuracy (the result is then rounded to bfloat16).
        const at::Tensor x = at::linspace(-12, 12, 4801, at::kDouble);
        const at::Tensor want = geluExact(x);
        double worst = 0;
        for (std::int64_t i = 0; i < x.numel(); ++i) {
            const double v = x[i].item<double>();
            const double got = kernels::gelu_reference(static_cast<float>(v));
            worst = std::max(worst, std::abs(got - want[i].item<double>()) / std::max(1.0, std::abs(v)));
        }
        QVERIFY2(worst < 1e-6, std::to_string(worst).c_str());
    }

    void gegluRoundsOnce_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("inner");
        QTest::newRow("SD1.5 64x64 block") << 300 << 1280;
        QTest::newRow("odd width") << 7 << 37;
        QTest::newRow("one value") << 1 << 1;
    }
    void gegluRoundsOnce() {
        QFETCH(int, rows);
        QFETCH(int, inner);
        at::manual_seed(3);
        // Rows padded beyond 2 * inner: strides are honoured.
        const at::Tensor padded = (at::randn({rows, 2 * inner + 5}) * 4).to(at::kBFloat16);
        const at::Tensor in = padded.narrow(1, 0, 2 * inner);
        at::Tensor out = at::empty({rows, inner}, at::kBFloat16);
        kernels::geglu_bf16(bits(padded), 2 * inner + 5, rows, inner, bits(out), inner);
        const at::Tensor x = in.to(at::kDouble);
        const at::Tensor want = x.narrow(1, 0, inner) * geluExact(x.narrow(1, inner, inner));
        QVERIFY2(errorInUlps(out, want) <= 0.51, std::to_string(errorInUlps(out, want)).c_str());
        // LibTorch's separate GELU and product round twice: over many values, further off than the fused result.
        if (rows * inner >= 1000) {
            const at::Tensor separate = in.narrow(1, 0, inner) * at::gelu(in.narrow(1, inner, inner));
            QVERIFY(errorInUlps(out, want) < errorInUlps(separate, want));
        }
    }

    // The LoRA merge's last pass: bit for bit LibTorch's float32 sum rounded to bfloat16 (round to nearest
    // even, ties included), NaN kept, on a length that is not a multiple of any vector width.
    void addF32ToBf16RoundsLikeLibTorch() {
        at::manual_seed(5);
        const std::int64_t n = 100003;
        const at::Tensor base = (at::randn({n}) * 3).to(at::kBFloat16);
        at::Tensor delta = at::randn({n}) * 0.01;
        // Exact ties: base + delta lands half-way between two bfloat16 values.
        const float one = 1.0f;
        base[0] = one;
        delta[0] = std::ldexp(1.0f, -8);  // 1 + 2^-8: half a bf16 step above 1 -> rounds to even (1)
        delta[1] = NAN;
        at::Tensor out = at::empty({n}, at::kBFloat16);
        kernels::add_f32_to_bf16(bits(base), delta.data_ptr<float>(), n, bits(out));
        const at::Tensor want = (base.to(at::kFloat) + delta).to(at::kBFloat16);
        QVERIFY(std::isnan(out[1].item<float>()));
        QCOMPARE(out[0].item<float>(), 1.0f);
        const at::Tensor finite = at::isfinite(want);
        QVERIFY(at::equal(out.masked_select(finite), want.masked_select(finite)));
    }

    void gegluPropagatesNonFinite() {
        at::Tensor in = at::tensor({1.0f, NAN, 2.0f, 3.0f, -INFINITY, 0.5f}, at::kFloat).reshape({1, 6}).to(at::kBFloat16);
        at::Tensor out = at::empty({1, 3}, at::kBFloat16);
        kernels::geglu_bf16(bits(in), 6, 1, 3, bits(out), 3);
        const at::Tensor f = out.to(at::kFloat)[0];
        // a * gelu(b): 1 * gelu(3), NaN * gelu(-inf) = NaN, 2 * gelu(0.5)
        QVERIFY(std::abs(f[0].item<float>() - 3.0f * 0.99865f) < 0.02f);
        QVERIFY(std::isnan(f[1].item<float>()));
        QVERIFY(std::abs(f[2].item<float>() - 2.0f * 0.345731f) < 0.01f);
    }

    void layerNormMatchesFormula_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("width");
        QTest::addColumn<double>("offset");
        QTest::newRow("320 wide") << 64 << 320 << 0.0;
        QTest::newRow("odd 1281, offset 40") << 5 << 1281 << 40.0;
        QTest::newRow("width 3") << 9 << 3 << 1.0;
    }
    void layerNormMatchesFormula() {
        QFETCH(int, rows);
        QFETCH(int, width);
        QFETCH(double, offset);
        at::manual_seed(4);
        const at::Tensor in = (at::randn({rows, width}) * 3 + offset).to(at::kBFloat16);
        const at::Tensor weight = at::randn({width}).to(at::kBFloat16), bias = at::randn({width}).to(at::kBFloat16);
        at::Tensor out = at::empty_like(in);
        kernels::layer_norm_bf16(bits(in), rows, width, bits(weight), bits(bias), 1e-5f, bits(out));
        const at::Tensor x = in.to(at::kDouble);
        const at::Tensor mean = x.mean(-1, true);
        const at::Tensor var = (x - mean).pow(2).mean(-1, true);
        const at::Tensor want = (x - mean) / at::sqrt(var + 1e-5) * weight.to(at::kDouble) + bias.to(at::kDouble);
        // Float32 statistics: within one bfloat16 rounding plus a little, in absolute terms of the output scale.
        const double err = (out.to(at::kDouble) - want).abs().max().item<double>();
        const double scale = want.abs().max().item<double>();
        QVERIFY2(err <= scale * 1.0 / 128, (std::to_string(err) + " of " + std::to_string(scale)).c_str());
        if (rows * width >= 1000) {  // over many rows, no further off than LibTorch's bfloat16 LayerNorm
            const double lib = (at::layer_norm(in, {width}, weight, bias, 1e-5).to(at::kDouble) - want).abs().max().item<double>();
            QVERIFY2(err <= lib, (std::to_string(err) + " vs LibTorch " + std::to_string(lib)).c_str());
        }
    }

    void groupNormMatchesFormula_data() {
        QTest::addColumn<int>("channels");
        QTest::addColumn<int>("side");
        QTest::addColumn<bool>("silu");
        QTest::newRow("UNet 64x64, 320 channels, SiLU") << 320 << 64 << true;
        QTest::newRow("VAE-like 128 channels, 96x96") << 128 << 96 << false;
        QTest::newRow("one channel per group, 5x7") << 32 << 5 << true;
    }
    void groupNormMatchesFormula() {
        QFETCH(int, channels);
        QFETCH(int, side);
        QFETCH(bool, silu);
        at::manual_seed(6);
        const at::Tensor x = (at::randn({2, channels, side, side + 2}) * 2 + 0.5).to(at::kBFloat16);
        torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(32, channels).eps(1e-6));
        {
            torch::NoGradGuard no_grad;
            norm->weight.copy_(at::randn({channels}));
            norm->bias.copy_(at::randn({channels}));
        }
        norm->to(at::kBFloat16);
        const at::Tensor w = norm->weight.to(at::kDouble), b = norm->bias.to(at::kDouble);
        at::Tensor want = at::group_norm(x.to(at::kDouble), 32, w, b, 1e-6);
        if (silu) want = want * at::sigmoid(want);
        const double scale = want.abs().max().item<double>();
        c10::InferenceMode guard;
        const at::Tensor cl = x.contiguous(at::MemoryFormat::ChannelsLast);
        for (auto kernel : {ips::nn::AttentionKernel::automatic, ips::nn::AttentionKernel::plain}) {
            // Fused kernel, and with it switched off the float32 fallback: both right where LibTorch 1.13's
            // bfloat16 channels-last GroupNorm is not.
            ips::nn::set_attention_kernel(kernel);
            const at::Tensor got = ips::nn::apply_group_norm(norm, cl, silu);
            QVERIFY(got.is_contiguous(at::MemoryFormat::ChannelsLast));
            const double err = (got.to(at::kDouble) - want).abs().max().item<double>();
            QVERIFY2(err <= scale / 128, (std::to_string(err) + " of " + std::to_string(scale)).c_str());
        }
        // NCHW and float32 keep LibTorch's operations (the reference path), unchanged.
        const at::Tensor x32 = x.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
        torch::nn::GroupNorm norm32(torch::nn::GroupNormOptions(32, channels).eps(1e-6));
        {
            torch::NoGradGuard no_grad;
            norm32->weight.copy_(norm->weight.to(at::kFloat));
            norm32->bias.copy_(norm->bias.to(at::kFloat));
        }
        at::Tensor lib = norm32(x32);
        if (silu) lib = at::silu(lib);
        QVERIFY(at::equal(ips::nn::apply_group_norm(norm32, x32, silu), lib));
    }

    void transformerBlockUsesThemOnlyInBfloat16() {
        // The fused block against LibTorch's operations (the plain switch), same weights and input.
        ips::nn::BasicTransformerBlock block(64, 2, 32, 48);
        block->to(at::kBFloat16);
        at::manual_seed(5);
        const at::Tensor x = at::randn({2, 40, 64}).to(at::kBFloat16);
        const at::Tensor context = at::randn({2, 7, 48}).to(at::kBFloat16);
        c10::InferenceMode guard;
        ips::nn::CrossAttentionContext c1;
        c1.encoder_hidden_states = context;
        const at::Tensor fused = block->forward(x, c1).to(at::kDouble);
        ips::nn::set_attention_kernel(ips::nn::AttentionKernel::plain);
        ips::nn::CrossAttentionContext c2;
        c2.encoder_hidden_states = context;
        const at::Tensor plain = block->forward(x, c2).to(at::kDouble);
        const double diff = (fused - plain).abs().max().item<double>();
        const double scale = plain.abs().max().item<double>();
        QVERIFY2(diff < 0.03 * scale, (std::to_string(diff) + " of " + std::to_string(scale)).c_str());
        QVERIFY(diff > 0);  // the fused kernels did run (they round differently)
        // float32 never takes them: the same result whatever the switch says.
        ips::nn::BasicTransformerBlock f32(64, 2, 32, 48);
        ips::nn::CrossAttentionContext c3;
        c3.encoder_hidden_states = context.to(at::kFloat);
        const at::Tensor a = f32->forward(x.to(at::kFloat), c3);
        ips::nn::set_attention_kernel(ips::nn::AttentionKernel::automatic);
        ips::nn::CrossAttentionContext c4;
        c4.encoder_hidden_states = context.to(at::kFloat);
        QVERIFY(at::equal(a, f32->forward(x.to(at::kFloat), c4)));
    }
};

QTEST_GUILESS_MAIN(TestFusedElementwise)
#include "test_fused_elementwise.moc"
