// The attention function against the plain formula, chunked and unchunked, with masks and odd sizes.
#include <QtTest>

#include <ATen/ATen.h>

#include "golden.h"
#include "nn/attention.h"

using ips::nn::scaled_dot_product_attention;

namespace {
// softmax(scale q kᵀ + mask) v in float64, the textbook way.
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, const at::Tensor& mask = {}) {
    at::Tensor s = at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-1, -2)) * scale;
    if (mask.defined()) s = s + mask.to(at::kDouble);
    return at::matmul(at::softmax(s, -1), v.to(at::kDouble));
}
}  // namespace

class TestAttention : public QObject {
    Q_OBJECT
    std::size_t defaultBudget = 0;
private Q_SLOTS:
    void initTestCase() { defaultBudget = ips::nn::attention_chunk_budget(); }
    void cleanup() { ips::nn::set_attention_chunk_budget(defaultBudget); }

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
};

QTEST_GUILESS_MAIN(TestAttention)
#include "test_attention.moc"
