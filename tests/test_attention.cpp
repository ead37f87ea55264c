// The attention function against the plain formula, chunked and unchunked, with masks and odd sizes.
#include <QtTest>

#include <ATen/ATen.h>

#include "golden.h"
#include "nn/attention.h"
#include "nn/kernels/flash_attention.h"

using ips::nn::AttentionKernel;
using ips::nn::scaled_dot_product_attention;

namespace {
// softmax(scale q kᵀ + mask) v in float64, the textbook way.
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, const at::Tensor& mask = {}) {
    at::Tensor s = at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-1, -2)) * scale;
    if (mask.defined()) s = s + mask.to(at::kDouble);
    return at::matmul(at::softmax(s, -1), v.to(at::kDouble));
}

constexpr AttentionKernel kFusedKernels[] = {AttentionKernel::fused_portable, AttentionKernel::fused_avx512_bf16,
                                             AttentionKernel::fused_amx_bf16};
ips::nn::kernels::AttentionIsa isaOf(AttentionKernel kernel) {
    using ips::nn::kernels::AttentionIsa;
    return kernel == AttentionKernel::fused_portable ? AttentionIsa::portable
           : kernel == AttentionKernel::fused_avx512_bf16 ? AttentionIsa::avx512_bf16
                                                          : AttentionIsa::amx_bf16;
}
}  // namespace

class TestAttention : public QObject {
    Q_OBJECT
    std::size_t defaultBudget = 0;
private Q_SLOTS:
    void initTestCase() { defaultBudget = ips::nn::attention_chunk_budget(); }
    void cleanup() {
        ips::nn::set_attention_chunk_budget(defaultBudget);
        ips::nn::set_attention_kernel(AttentionKernel::automatic);
    }

    void matchesFormula_data() {
        QTest::addColumn<int>("nq");
        QTest::addColumn<int>("nk");
        QTest::addColumn<int>("d");
        QTest::newRow("self 64") << 64 << 64 << 40;
        QTest::newRow("cross 77+4") << 96 << 81 << 80;
        QTest::newRow("odd 17x23") << 17 * 23 << 17 * 23 << 160;
    }
    void matchesFormula() {
        QFETCH(int, nq);
        QFETCH(int, nk);
        QFETCH(int, d);
        at::manual_seed(1);
        const auto q = at::randn({2, 3, nq, d}), k = at::randn({2, 3, nk, d}), v = at::randn({2, 3, nk, d});
        const double scale = 1.0 / std::sqrt(double(d));
        const auto expected = reference(q, k, v, scale);
        const auto whole = scaled_dot_product_attention(q, k, v, scale);
        QVERIFY(ipstest::maxAbsDiff(whole, expected) < 1e-5);
        // Tiny budget: one query row per chunk. Smaller GEMMs round differently, so equal to 1e-6.
        ips::nn::set_attention_chunk_budget(1);
        const auto chunked = scaled_dot_product_attention(q, k, v, scale);
        QVERIFY(ipstest::maxAbsDiff(chunked, whole) < 1e-6);
        QVERIFY(ipstest::maxAbsDiff(chunked, expected) < 1e-5);
    }

    void causalMaskChunked() {
        at::manual_seed(2);
        const int n = 33;
        const auto q = at::randn({1, 2, n, 8}), k = at::randn({1, 2, n, 8}), v = at::randn({1, 2, n, 8});
        const auto mask = at::full({n, n}, -1e30).triu(1).view({1, 1, n, n});
        const auto expected = reference(q, k, v, 1.0, mask);
        ips::nn::set_attention_chunk_budget(7 * 2 * n * 4);  // 7 rows per chunk
        const auto got = scaled_dot_product_attention(q, k, v, 1.0, mask);
        QVERIFY(ipstest::maxAbsDiff(got, expected) < 1e-5);
        // First query attends only to the first key.
        QVERIFY(ipstest::maxAbsDiff(got.select(2, 0), v.select(2, 0)) < 1e-6);
    }

    void bfloat16CloseToFloat() {
        at::manual_seed(3);
        const auto q = at::randn({2, 8, 256, 40}), k = at::randn({2, 8, 77, 40}), v = at::randn({2, 8, 77, 40});
        const auto ref = scaled_dot_product_attention(q, k, v, 0.158);
        const auto bf = scaled_dot_product_attention(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), 0.158);
        QCOMPARE(bf.scalar_type(), at::kBFloat16);
        QVERIFY(ipstest::maxAbsDiff(bf.to(at::kFloat), ref) < 0.05);
    }

    // Each fused kernel this CPU can run, on the shapes the models produce, against float64 attention
    // of the same bfloat16 inputs. The output is bfloat16 (relative rounding 2^-9) and the probabilities
    // are rounded to bfloat16 before the value product, as in the plain bfloat16 path.
    void fusedKernelsMatchFormula_data() {
        QTest::addColumn<int>("kernel");
        QTest::addColumn<int>("nq");
        QTest::addColumn<int>("nk");
        QTest::addColumn<int>("d");
        struct Shape { const char* name; int nq, nk, d; };
        const Shape shapes[] = {{"self d40", 300, 300, 40},      {"cross 77+4 d80", 130, 81, 80},
                                {"self d160", 64, 64, 160},      {"136x160 px latent tokens", 340, 340, 40},
                                {"one query one key", 1, 1, 40}, {"odd dim 7", 9, 70, 7},
                                {"VAE d512", 65, 65, 512},       {"image tokens 4 keys", 100, 4, 40},
                                {"SD2 d64 several key blocks", 70, 200, 64}};
        for (const auto kernel : kFusedKernels) {
            const auto isa = isaOf(kernel);
            if (!ips::nn::kernels::cpu_supports(isa)) continue;
            for (const auto& s : shapes)
                QTest::addRow("%s %s", ips::nn::kernels::isa_name(isa), s.name) << int(kernel) << s.nq << s.nk << s.d;
        }
    }
    void fusedKernelsMatchFormula() {
        QFETCH(int, kernel);
        QFETCH(int, nq);
        QFETCH(int, nk);
        QFETCH(int, d);
        at::manual_seed(4);
        const auto q = at::randn({2, 3, nq, d}).to(at::kBFloat16), k = at::randn({2, 3, nk, d}).to(at::kBFloat16);
        const auto v = at::randn({2, 3, nk, d}).to(at::kBFloat16);
        const double scale = 1.0 / std::sqrt(double(d));
        const auto expected = reference(q, k, v, scale);
        ips::nn::set_attention_kernel(AttentionKernel(kernel));
        const auto got = scaled_dot_product_attention(q, k, v, scale);
        QCOMPARE(got.scalar_type(), at::kBFloat16);
        QCOMPARE(got.sizes(), q.sizes());
        const auto error = (got.to(at::kDouble) - expected).abs();
        QVERIFY2(error.max().item<double>() < 0.02, qPrintable(QString::number(error.max().item<double>())));
        QVERIFY(error.mean().item<double>() < 2e-3);
        // Heads come back laid out [B, Nq, H, D]: merging them is a view, not a copy.
        QVERIFY(got.transpose(1, 2).is_contiguous());
    }

    // Head-split views (strided rows), huge logits (online softmax must not overflow) and equal scores.
    void fusedKernelsOnStridedViewsAndExtremeScores() {
        for (const auto kernel : kFusedKernels) {
            if (!ips::nn::kernels::cpu_supports(isaOf(kernel))) continue;
            ips::nn::set_attention_kernel(kernel);
            at::manual_seed(5);
            // [B, N, H*D] projections split into heads, as the attention layers do.
            const auto project = [](int n) { return at::randn({2, n, 4 * 40}).to(at::kBFloat16).view({2, n, 4, 40}).transpose(1, 2); };
            const auto q = project(200) * 60, k = project(150), v = project(150);
            QVERIFY(!q.is_contiguous());
            const auto got = scaled_dot_product_attention(q, k, v, 1.0 / std::sqrt(40.0));
            QVERIFY(at::isfinite(got).all().item<bool>());
            QVERIFY(ipstest::maxAbsDiff(got.to(at::kDouble), reference(q, k, v, 1.0 / std::sqrt(40.0))) < 0.03);
            // All scores equal: the mean of the values.
            const auto flat = scaled_dot_product_attention(at::zeros_like(q), k, v, 1.0);
            const auto mean = v.to(at::kDouble).mean(2, true).expand({2, 4, 200, 40});
            QVERIFY(ipstest::maxAbsDiff(flat.to(at::kDouble), mean) < 0.01);
        }
    }

    // The automatic choice: bfloat16 without a mask takes the fused kernel, float32 and masked calls the
    // plain path (float32 results stay bit-identical to the reference path).
    void automaticChoosesByDtypeAndMask() {
        at::manual_seed(6);
        const auto q = at::randn({1, 2, 70, 40}), k = at::randn({1, 2, 70, 40}), v = at::randn({1, 2, 70, 40});
        const auto plain32 = [&] {
            ips::nn::set_attention_kernel(AttentionKernel::plain);
            return scaled_dot_product_attention(q, k, v, 0.2);
        }();
        ips::nn::set_attention_kernel(AttentionKernel::automatic);
        QVERIFY(at::equal(scaled_dot_product_attention(q, k, v, 0.2), plain32));
        const auto bq = q.to(at::kBFloat16), bk = k.to(at::kBFloat16), bv = v.to(at::kBFloat16);
        QVERIFY(scaled_dot_product_attention(bq, bk, bv, 0.2).transpose(1, 2).is_contiguous());  // fused layout
        const auto mask = at::zeros({70, 70});
        QVERIFY(scaled_dot_product_attention(bq, bk, bv, 0.2, mask).is_contiguous());  // plain layout
        for (const auto kernel : kFusedKernels)
            if (!ips::nn::kernels::cpu_supports(isaOf(kernel)))
                QVERIFY_THROWS_EXCEPTION(std::invalid_argument, ips::nn::set_attention_kernel(kernel));
    }
};

QTEST_GUILESS_MAIN(TestAttention)
#include "test_attention.moc"
