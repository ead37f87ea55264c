// The benchmark's work counts: the SD1.5 UNet against the figure measured with diffusers' profiler
// (1.607 TFLOP for one 512x512 CFG forward), a hand-computed CLIP layer.
#include <QtTest>

#include "bench/flops.h"
#include "io/configs.h"

class TestFlops : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sd15UnetForward() {
        const auto config = ips::io::load_config<ips::io::UNet2DConditionModelConfig>(IPS_SOURCE_MODELS "/sd15/unet/config.json");
        const double tflop = ips::bench::unet_flops(config, 2, 64, 64, 77) / 1e12;
        QVERIFY2(std::abs(tflop - 1.607) < 0.005, qPrintable(QString::number(tflop)));
        // Quadratic self-attention makes 768x768 cost more than (768/512)^2 times as much.
        const double big = ips::bench::unet_flops(config, 2, 96, 96, 77) / 1e12;
        QVERIFY(big > tflop * 2.25);
    }

    void clipLayerByHand() {
        // b=1, t=2, d=4, inter=8: q,k,v,out 4*(2*2*4*4)=256; scores+mix 2*(2*1*2*2*4)=64; mlp 2*(2*2*4*8)=256.
        QCOMPARE(ips::bench::clip_encoder_flops(1, 2, 4, 8, 1), 576.0);
    }
};

QTEST_GUILESS_MAIN(TestFlops)
#include "test_flops.moc"
