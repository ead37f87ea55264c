#include "bench/flops.h"

#include <vector>


namespace ips::bench {
namespace {

double conv(std::int64_t b, std::int64_t cin, std::int64_t cout, std::int64_t k, std::int64_t h_out, std::int64_t w_out) {
    return 2.0 * b * cin * cout * k * k * h_out * w_out;
}
double linear(std::int64_t rows, std::int64_t in, std::int64_t out) { return 2.0 * rows * in * out; }

double resnet(std::int64_t b, std::int64_t cin, std::int64_t cout, std::int64_t h, std::int64_t w, std::int64_t temb) {
    double f = conv(b, cin, cout, 3, h, w) + conv(b, cout, cout, 3, h, w) + linear(b, temb, cout);
    if (cin != cout) f += conv(b, cin, cout, 1, h, w);
    return f;
}

// Transformer2DModel with BasicTransformerBlocks (GEGLU feed-forward, 4x).
double transformer(std::int64_t b, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t layers, std::int64_t ctx_tokens,
                   std::int64_t ctx_dim) {
    const std::int64_t n = h * w;
    double f = 2 * conv(b, c, c, 1, h, w);  // proj_in, proj_out
    for (std::int64_t l = 0; l < layers; ++l) {
        f += 4 * linear(b * n, c, c) + 2.0 * 2 * b * n * n * c;                                        // self-attention
        f += 2 * linear(b * n, c, c) + 2 * linear(b * ctx_tokens, ctx_dim, c) + 2.0 * 2 * b * n * ctx_tokens * c;  // cross
        f += linear(b * n, c, 8 * c) + linear(b * n, 4 * c, c);                                        // GEGLU feed-forward
    }
    return f;
}

double attention_1head(std::int64_t b, std::int64_t c, std::int64_t n) { return 4 * linear(b * n, c, c) + 2.0 * 2 * b * n * n * c; }

}  // namespace

double unet_flops(const io::UNet2DConditionModelConfig& c, std::int64_t b, std::int64_t h, std::int64_t w, std::int64_t ctx) {
    const auto& ch = c.block_out_channels;
    const std::size_t n = ch.size();
    const std::int64_t temb = ch[0] * 4;
    double f = conv(b, c.in_channels, ch[0], 3, h, w) + conv(b, ch[0], c.out_channels, 3, h, w);
    std::vector<std::pair<std::int64_t, std::int64_t>> sizes;
    std::vector<std::int64_t> skip_channels{ch[0]};
    std::int64_t hh = h, ww = w;
    for (std::size_t i = 0; i < n; ++i) {
        const bool attn = c.down_block_types[i] == "CrossAttnDownBlock2D";
        for (int l = 0; l < c.layers_per_block[i]; ++l) {
            const std::int64_t cin = l == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i];
            f += resnet(b, cin, ch[i], hh, ww, temb);
            if (attn) f += transformer(b, ch[i], hh, ww, c.transformer_layers_per_block[i], ctx, c.cross_attention_dim[i]);
            skip_channels.push_back(ch[i]);
        }
        sizes.push_back({hh, ww});
        if (i + 1 < n) {
            hh = (hh + 1) / 2, ww = (ww + 1) / 2;
            f += conv(b, ch[i], ch[i], 3, hh, ww);
            skip_channels.push_back(ch[i]);
        }
    }
    f += 2 * resnet(b, ch.back(), ch.back(), hh, ww, temb) +
         transformer(b, ch.back(), hh, ww, c.transformer_layers_per_block.back(), ctx, c.cross_attention_dim.back());
    std::int64_t prev = ch.back();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t r = n - 1 - i;
        const auto [uh, uw] = sizes[r];
        const bool attn = c.up_block_types[i] == "CrossAttnUpBlock2D";
        for (int l = 0; l < c.layers_per_block[r] + 1; ++l) {
            const std::int64_t skip = skip_channels.back();
            skip_channels.pop_back();
            f += resnet(b, (l == 0 ? prev : ch[r]) + skip, ch[r], uh, uw, temb);
            if (attn) f += transformer(b, ch[r], uh, uw, c.transformer_layers_per_block[r], ctx, c.cross_attention_dim[r]);
        }
        if (i + 1 < n) f += conv(b, ch[r], ch[r], 3, sizes[r - 1].first, sizes[r - 1].second);
        prev = ch[r];
    }
    return f;
}

double vae_decoder_flops(const io::AutoencoderKLConfig& c, std::int64_t b, std::int64_t h, std::int64_t w) {
    const auto& ch = c.block_out_channels;
    const std::size_t n = ch.size();
    double f = conv(b, c.latent_channels, c.latent_channels, 1, h, w) + conv(b, c.latent_channels, ch.back(), 3, h, w);
    f += 2 * resnet(b, ch.back(), ch.back(), h, w, 0) + attention_1head(b, ch.back(), h * w);
    std::int64_t prev = ch.back();
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t out = ch[n - 1 - i];
        for (int l = 0; l < c.layers_per_block + 1; ++l) f += resnet(b, l == 0 ? prev : out, out, h, w, 0);
        if (i + 1 < n) h *= 2, w *= 2, f += conv(b, out, out, 3, h, w);
        prev = out;
    }
    return f + conv(b, ch[0], c.out_channels, 3, h, w);
}

double vae_encoder_flops(const io::AutoencoderKLConfig& c, std::int64_t b, std::int64_t h, std::int64_t w) {
    const auto& ch = c.block_out_channels;
    const std::size_t n = ch.size();
    double f = conv(b, c.in_channels, ch[0], 3, h, w);
    for (std::size_t i = 0; i < n; ++i) {
        for (int l = 0; l < c.layers_per_block; ++l) f += resnet(b, l == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i], ch[i], h, w, 0);
        if (i + 1 < n) h /= 2, w /= 2, f += conv(b, ch[i], ch[i], 3, h, w);
    }
    f += 2 * resnet(b, ch.back(), ch.back(), h, w, 0) + attention_1head(b, ch.back(), h * w);
    return f + conv(b, ch.back(), 2 * c.latent_channels, 3, h, w) + conv(b, 2 * c.latent_channels, 2 * c.latent_channels, 1, h, w);
}

double clip_encoder_flops(std::int64_t b, std::int64_t t, std::int64_t d, std::int64_t inter, std::int64_t layers) {
    return layers * (4 * linear(b * t, d, d) + 2.0 * 2 * b * t * t * d + 2 * linear(b * t, d, inter));
}

double tiny_decoder_flops(const io::AutoencoderTinyConfig& c, std::int64_t batch, std::int64_t h, std::int64_t w) {
    auto conv3 = [&](double in, double out, double pixels) { return 2.0 * batch * in * out * 9 * pixels; };
    double pixels = static_cast<double>(h) * static_cast<double>(w);
    double f = conv3(c.latent_channels, c.decoder_block_out_channels[0], pixels);
    const std::size_t stages = c.num_decoder_blocks.size();
    for (std::size_t i = 0; i < stages; ++i) {
        const double ch = c.decoder_block_out_channels[i];
        f += c.num_decoder_blocks[i] * 3 * conv3(ch, ch, pixels);
        const bool last = i + 1 == stages;
        if (!last) pixels *= static_cast<double>(c.upsampling_scaling_factor) * c.upsampling_scaling_factor;
        f += conv3(ch, last ? c.out_channels : ch, pixels);
    }
    return f;
}

}  // namespace ips::bench
