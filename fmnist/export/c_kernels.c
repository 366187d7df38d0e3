/* The int8 kernels, with TFLite Micro's reference arithmetic: the same requantisation (a 31-bit
 * multiplier and a shift per output channel, gemmlowp's double rounding), offsets and saturation,
 * so every output byte equals TFLite Micro's. Activations are NHWC; filters OHWI (depthwise:
 * 1HWO); per-channel weights have zero point 0, as TFLite's int8 scheme requires. */

static int32_t high_mul(int32_t a, int32_t b) { /* gemmlowp SaturatingRoundingDoublingHighMul */
    if (a == b && a == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t t = ab + (ab >= 0 ? (1 << 30) : (1 - (1 << 30)));
    /* t / 2^31, truncated toward zero as gemmlowp divides, by an arithmetic shift (no 64-bit division) */
    return (int32_t)((t >= 0 ? t : t + (INT64_C(1) << 31) - 1) >> 31);
}

static int32_t divide_by_pot(int32_t x, int exponent) { /* gemmlowp RoundingDivideByPOT */
    int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static int32_t requantize(int32_t x, int32_t multiplier, int shift) { /* MultiplyByQuantizedMultiplier */
    int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    return divide_by_pot(high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

static int8_t saturate(int32_t x, int32_t low, int32_t high) {
    return (int8_t)(x < low ? low : x > high ? high : x);
}

typedef struct { /* CONV_2D and DEPTHWISE_CONV_2D */
    int16_t in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int16_t dil_h, dil_w, depth_multiplier; /* depth_multiplier 0: a full convolution */
    int32_t in_offset, out_offset, act_min, act_max;
    const int8_t *weights;
    const int32_t *bias, *multiplier;
    const int8_t *shift;
} conv_t;

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#endif

/* sums of (x[i] + offset) * w[i] over n bytes, for two filters at once (w1 may be w0): on a core with
 * the DSP extension two 16-bit multiply-accumulates an instruction (SMLAD), four input bytes a load,
 * shared by both filters; elsewhere one at a time. The same integer sums either way. */
static void dot2(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int32_t offset, int32_t *acc) {
    int32_t a0 = 0, a1 = 0, i = 0;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
    int16x2_t offsets = (int16x2_t)(((uint32_t)(uint16_t)offset << 16) | (uint16_t)offset);
    for (; i + 4 <= n; i += 4) {
        int8x4_t xs, ws0, ws1;
        memcpy(&xs, x + i, 4);
        memcpy(&ws0, w0 + i, 4);
        memcpy(&ws1, w1 + i, 4);
        int16x2_t even = __sadd16(__sxtb16(xs), offsets), odd = __sadd16(__sxtb16((int8x4_t)((uint32_t)xs >> 8)), offsets);
        a0 = __smlad(even, __sxtb16(ws0), a0);
        a0 = __smlad(odd, __sxtb16((int8x4_t)((uint32_t)ws0 >> 8)), a0);
        a1 = __smlad(even, __sxtb16(ws1), a1);
        a1 = __smlad(odd, __sxtb16((int8x4_t)((uint32_t)ws1 >> 8)), a1);
    }
#endif
    for (; i < n; ++i) {
        a0 += (x[i] + offset) * w0[i];
        a1 += (x[i] + offset) * w1[i];
    }
    acc[0] += a0;
    acc[1] += a1;
}

/* the first tap and one past the last of a window starting at `start` that lies inside 0..size-1 */
static void taps(int start, int kernel, int dilation, int size, int *first, int *end) {
    *first = start < 0 ? (-start + dilation - 1) / dilation : 0;
    *end = size - start <= 0 ? 0 : (size - start + dilation - 1) / dilation;
    if (*end > kernel) *end = kernel;
    if (*end < *first) *end = *first;
}

static void conv(const int8_t *in, int8_t *out, const conv_t *p) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        int y0 = oy * p->stride_h - p->pad_h, ky0, ky1;
        taps(y0, p->k_h, p->dil_h, p->in_h, &ky0, &ky1);
        for (int ox = 0; ox < p->out_w; ++ox) {
            int x0 = ox * p->stride_w - p->pad_w, kx0, kx1;
            taps(x0, p->k_w, p->dil_w, p->in_w, &kx0, &kx1);
            for (int oc = 0; oc < p->out_c; oc += 2) {
                int pair = oc + 1 < p->out_c; /* a full convolution's filters two at a time */
                int32_t acc[2] = {0, 0};
                for (int ky = ky0; ky < ky1; ++ky) {
                    const int8_t *row = in + ((y0 + ky * p->dil_h) * p->in_w + x0) * p->in_c;
                    if (p->depth_multiplier) {
                        for (int c = 0; c <= pair; ++c) {
                            const int8_t *w = p->weights + ky * p->k_w * p->out_c + oc + c;
                            const int8_t *x = row + (oc + c) / p->depth_multiplier;
                            for (int kx = kx0; kx < kx1; ++kx)
                                acc[c] += (x[kx * p->dil_w * p->in_c] + p->in_offset) * w[kx * p->out_c];
                        }
                    } else {
                        const int8_t *w0 = p->weights + ((oc * p->k_h + ky) * p->k_w) * p->in_c;
                        const int8_t *w1 = pair ? w0 + p->k_h * p->k_w * p->in_c : w0;
                        if (p->dil_w == 1) { /* the row's taps are contiguous in the input and the filters */
                            int32_t at = kx0 * p->in_c;
                            dot2(row + at, w0 + at, w1 + at, (kx1 - kx0) * p->in_c, p->in_offset, acc);
                        } else {
                            for (int kx = kx0; kx < kx1; ++kx)
                                dot2(row + kx * p->dil_w * p->in_c, w0 + kx * p->in_c, w1 + kx * p->in_c, p->in_c,
                                     p->in_offset, acc);
                        }
                    }
                }
                for (int c = 0; c <= pair; ++c) {
                    int32_t sum = acc[c] + (p->bias ? p->bias[oc + c] : 0);
                    sum = requantize(sum, p->multiplier[oc + c], p->shift[oc + c]) + p->out_offset;
                    out[(oy * p->out_w + ox) * p->out_c + oc + c] = saturate(sum, p->act_min, p->act_max);
                }
            }
        }
    }
}

typedef struct { /* MAX_POOL_2D */
    int16_t in_h, in_w, channels, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} pool_t;

static void max_pool(const int8_t *in, int8_t *out, const pool_t *p) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        for (int ox = 0; ox < p->out_w; ++ox) {
            for (int c = 0; c < p->channels; ++c) {
                int32_t best = -128;
                for (int ky = 0; ky < p->k_h; ++ky) {
                    int iy = oy * p->stride_h - p->pad_h + ky;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (int kx = 0; kx < p->k_w; ++kx) {
                        int ix = ox * p->stride_w - p->pad_w + kx;
                        if (ix < 0 || ix >= p->in_w) continue;
                        int32_t x = in[(iy * p->in_w + ix) * p->channels + c];
                        if (x > best) best = x;
                    }
                }
                out[(oy * p->out_w + ox) * p->channels + c] = saturate(best, p->act_min, p->act_max);
            }
        }
    }
}

typedef struct { /* FULLY_CONNECTED: per-channel or one multiplier (per_channel 0) */
    int16_t inputs, outputs, per_channel;
    int32_t in_offset, out_offset, act_min, act_max;
    const int8_t *weights;
    const int32_t *bias, *multiplier;
    const int8_t *shift;
} dense_t;

static void dense(const int8_t *in, int8_t *out, const dense_t *p) {
    for (int o = 0; o < p->outputs; o += 2) {
        int pair = o + 1 < p->outputs; /* two outputs' weights at a time */
        const int8_t *w = p->weights + (int32_t)o * p->inputs;
        int32_t acc[2] = {0, 0};
        dot2(in, w, pair ? w + p->inputs : w, p->inputs, p->in_offset, acc);
        for (int c = 0; c <= pair; ++c) {
            int k = p->per_channel ? o + c : 0;
            int32_t sum = acc[c] + (p->bias ? p->bias[o + c] : 0);
            out[o + c] = saturate(requantize(sum, p->multiplier[k], p->shift[k]) + p->out_offset, p->act_min, p->act_max);
        }
    }
}

static void quantize(const uint8_t *in, int8_t *out, int32_t size, int32_t in_zero_point, int32_t out_zero_point,
                     int32_t multiplier, int shift) { /* QUANTIZE of the uint8 pixels: Requantize */
    for (int32_t i = 0; i < size; ++i)
        out[i] = saturate(requantize(in[i] - in_zero_point, multiplier, shift) + out_zero_point, -128, 127);
}
