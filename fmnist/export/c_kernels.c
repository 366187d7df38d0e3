/* The int8 kernels, with TFLite Micro's reference arithmetic: the same requantisation (a 31-bit
 * multiplier and a shift per output channel, gemmlowp's double rounding), offsets and saturation,
 * so every output byte equals TFLite Micro's. Activations are NHWC; filters OHWI (depthwise:
 * 1HWO); per-channel weights have zero point 0, as TFLite's int8 scheme requires. An engine holds
 * the sections its operators need: each "provides" line names what the section after it defines. */

/* provides: high_mul divide_by_pot requantize saturate */
static int32_t high_mul(int32_t a, int32_t b) { /* gemmlowp SaturatingRoundingDoublingHighMul */
    if (a == b && a == INT32_MIN) return INT32_MAX;
    /* (ab + nudge) / 2^31 truncated toward zero, the nudge 2^30 for ab >= 0 and 1 - 2^30 below: for
     * both, (ab + 2^30) / 2^31 rounded down, one arithmetic shift (what C compilers do with a negative
     * int64_t), no 64-bit division and no branch */
    return (int32_t)(((int64_t)a * (int64_t)b + (INT64_C(1) << 30)) >> 31);
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

/* provides: conv_t */
typedef struct { /* CONV_2D and DEPTHWISE_CONV_2D */
    int16_t in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int16_t dil_h, dil_w, depth_multiplier; /* depth_multiplier 0: a full convolution */
    int32_t in_offset, out_offset, act_min, act_max;
    const int8_t *weights;
    const int32_t *bias, *multiplier;
    const int8_t *shift;
} conv_t;

/* provides: sxtb16 sxtb16_odd smlad sadd16 word */
/* Two 16-bit lanes a word: bytes 0 and 2 of a word sign-extended into them (SXTB16), bytes 1 and 3
 * (SXTB16 with the word rotated by a byte), the two lane products added to an accumulator (SMLAD),
 * and two lanes added to two (SADD16, each wrapping at 16 bits). On a core with the DSP extension
 * (Cortex-M4, M7, M33) each is one instruction; elsewhere the same integers in plain C. */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
static uint32_t sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int8x4_t)x); }
static uint32_t sxtb16_odd(uint32_t x) {
    uint32_t lanes;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(lanes) : "r"(x)); /* GCC does not fold the rotation itself */
    return lanes;
}
static int32_t smlad(uint32_t a, uint32_t b, int32_t acc) { return __smlad((int16x2_t)a, (int16x2_t)b, acc); }
static uint32_t sadd16(uint32_t a, uint32_t b) { return (uint32_t)__sadd16((int16x2_t)a, (int16x2_t)b); }
#else
static int32_t lane(uint32_t x, int bits) { /* the low `bits` of x as a signed number */
    uint32_t sign = UINT32_C(1) << (bits - 1);
    return (int32_t)((x & ((sign << 1) - 1)) ^ sign) - (int32_t)sign;
}
static uint32_t sxtb16(uint32_t x) {
    return ((uint32_t)lane(x, 8) & 0xFFFFu) | ((uint32_t)lane(x >> 16, 8) << 16);
}
static uint32_t sxtb16_odd(uint32_t x) { return sxtb16(x >> 8); }
static int32_t smlad(uint32_t a, uint32_t b, int32_t acc) {
    return acc + lane(a, 16) * lane(b, 16) + lane(a >> 16, 16) * lane(b >> 16, 16);
}
static uint32_t sadd16(uint32_t a, uint32_t b) { return ((a + b) & 0xFFFFu) | ((a >> 16) + (b >> 16)) << 16; }
#endif

static uint32_t word(const void *at) { /* four bytes, at any alignment */
    uint32_t w;
    memcpy(&w, at, 4);
    return w;
}

/* provides: output */
/* an accumulator (with its bias) requantised to an int8 output */
static int8_t output(int32_t sum, int32_t multiplier, int shift, int32_t out_offset, int32_t low, int32_t high) {
    return saturate(requantize(sum, multiplier, shift) + out_offset, low, high);
}

/* provides: window conv */
/* The input window of output pixel `i` as the `which`th (0 or 1) of two in `columns`: its `n` values
 * (rows, columns, channels) as int16 with the input offset added, 0 where the window leaves the
 * input (TFLite Micro skips those taps). Of each four values k..k+3, k and k+2 make the first word,
 * k+1 and k+3 the second (the lanes SXTB16 and its odd form make of four bytes); the two windows
 * alternate four values at a time, and each one's last n % 4 follow in order. */
static void window(const int8_t *in, int16_t *columns, int32_t i, int which, const conv_t *p) {
    /* the sizes in locals: the int16 stores below could otherwise be the struct's int16 fields */
    int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h;
    int dil_w = p->dil_w;
    int32_t offset = p->in_offset, n = (int32_t)k_h * k_w * in_c, grouped = n & ~3, k = 0;
    uint32_t offsets = ((uint32_t)offset & 0xFFFFu) * 0x10001u;
    int16_t *to = columns + 4 * which;
    int y0 = (int)(i / p->out_w) * p->stride_h - p->pad_h, x0 = (int)(i % p->out_w) * p->stride_w - p->pad_w;
    for (int ky = 0; ky < k_h; ++ky) {
        int y = y0 + ky * dil_h;
        for (int kx = 0; kx < k_w; ++kx) {
            int x = x0 + kx * dil_w, inside = y >= 0 && y < in_h && x >= 0 && x < in_w;
            const int8_t *at = inside ? in + ((int32_t)y * in_w + x) * in_c : in;
            if (in_c % 4 == 0) { /* whole fours: two words of each four input bytes */
                for (int c = 0; c < in_c; c += 4, to += 8) {
                    uint32_t bytes = inside ? word(at + c) : 0, offset_by = inside ? offsets : 0;
                    uint32_t lanes[2] = {sadd16(sxtb16(bytes), offset_by), sadd16(sxtb16_odd(bytes), offset_by)};
                    memcpy(to, lanes, sizeof lanes);
                }
                k += in_c;
                continue;
            }
            for (int c = 0; c < in_c; ++c, ++k) {
                int32_t slot = k < grouped ? 2 * (k & ~3) + 4 * which + ((k & 1) << 1) + ((k & 2) >> 1)
                                           : 2 * grouped + which * (n - grouped) + k - grouped;
                columns[slot] = (int16_t)(inside ? at[c] + offset : 0);
            }
        }
    }
}

/* A full convolution of the `count` output pixels from `first` (in raster order; `out` is the
 * first's), two pixels by two filters at a time: both pixels' windows are laid out once in
 * `columns` (int16), then every two words of a filter pair's weights (four values of each) feed
 * eight SMLADs, sixteen multiply-accumulates. The export lays the weights out for that: per pair
 * of filters, four values of the first, four of the second, and so on, then each one's last n % 4;
 * an odd last filter twice. */
static void conv(const int8_t *in, int8_t *out, int16_t *columns, const conv_t *p, int32_t first, int32_t count) {
    int32_t n = (int32_t)p->k_h * p->k_w * p->in_c, grouped = n & ~3, rest = n - grouped;
    int32_t pixels = first + count, out_offset = p->out_offset, low = p->act_min, high = p->act_max;
    int out_c = p->out_c; /* in locals, as the tables: a store to `out` (a char type) could be any of p's fields */
    const int32_t *bias = p->bias, *multiplier = p->multiplier;
    const int8_t *weights = p->weights, *shift = p->shift;
    const int16_t *a = columns + 2 * grouped, *b = a + rest; /* the windows' last n % 4 */
    for (int32_t i = first; i < pixels; i += 2) {
        int both = i + 1 < pixels; /* an odd last pixel: the second window is left as it was, unused */
        window(in, columns, i, 0, p);
        if (both) window(in, columns, i + 1, 1, p);
        for (int oc = 0; oc < out_c; oc += 2) {
            const int8_t *w = weights + (int32_t)oc * n, *end = w + 2 * grouped;
            const int16_t *c = columns;
            int32_t s00 = bias[oc], s10 = s00, s01 = oc + 1 < out_c ? bias[oc + 1] : 0, s11 = s01;
            for (; w < end; w += 8, c += 8) { /* s00: pixel i, filter oc; s01: filter oc + 1; s1x: pixel i + 1 */
                uint32_t u0 = word(w), u1 = word(w + 4), x = word(c), y = word(c + 4), e = sxtb16(u0);
                s00 = smlad(x, e, s00);
                s10 = smlad(y, e, s10);
                e = sxtb16(u1);
                s01 = smlad(x, e, s01);
                s11 = smlad(y, e, s11);
                x = word(c + 2);
                y = word(c + 6);
                e = sxtb16_odd(u0);
                s00 = smlad(x, e, s00);
                s10 = smlad(y, e, s10);
                e = sxtb16_odd(u1);
                s01 = smlad(x, e, s01);
                s11 = smlad(y, e, s11);
            }
            for (int32_t k = 0; k < rest; ++k) {
                s00 += a[k] * w[k];
                s01 += a[k] * w[rest + k];
                s10 += b[k] * w[k];
                s11 += b[k] * w[rest + k];
            }
            int8_t *to = out + (i - first) * out_c + oc;
            to[0] = output(s00, multiplier[oc], shift[oc], out_offset, low, high);
            if (both) to[out_c] = output(s10, multiplier[oc], shift[oc], out_offset, low, high);
            if (oc + 1 < out_c) {
                to[1] = output(s01, multiplier[oc + 1], shift[oc + 1], out_offset, low, high);
                if (both) to[out_c + 1] = output(s11, multiplier[oc + 1], shift[oc + 1], out_offset, low, high);
            }
        }
    }
}

/* provides: taps depthwise */
/* the first tap and one past the last of a window starting at `start` that lies inside 0..size-1 */
static void taps(int start, int kernel, int dilation, int size, int *first, int *end) {
    *first = start < 0 ? (-start + dilation - 1) / dilation : 0;
    *end = size - start <= 0 ? 0 : (size - start + dilation - 1) / dilation;
    if (*end > kernel) *end = kernel;
    if (*end < *first) *end = *first;
}

/* A depthwise convolution: output channel c reads input channel c / depth_multiplier. */
static void depthwise(const int8_t *in, int8_t *out, const conv_t *p) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        int y0 = oy * p->stride_h - p->pad_h, ky0, ky1;
        taps(y0, p->k_h, p->dil_h, p->in_h, &ky0, &ky1);
        for (int ox = 0; ox < p->out_w; ++ox) {
            int x0 = ox * p->stride_w - p->pad_w, kx0, kx1;
            taps(x0, p->k_w, p->dil_w, p->in_w, &kx0, &kx1);
            for (int oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = 0;
                for (int ky = ky0; ky < ky1; ++ky) {
                    const int8_t *x = in + ((y0 + ky * p->dil_h) * p->in_w + x0) * p->in_c + oc / p->depth_multiplier;
                    const int8_t *w = p->weights + ky * p->k_w * p->out_c + oc;
                    for (int kx = kx0; kx < kx1; ++kx)
                        acc += (x[kx * p->dil_w * p->in_c] + p->in_offset) * w[kx * p->out_c];
                }
                out[(oy * p->out_w + ox) * p->out_c + oc] = output(acc + p->bias[oc],
                                                                   p->multiplier[oc], p->shift[oc], p->out_offset,
                                                                   p->act_min, p->act_max);
            }
        }
    }
}

/* provides: pool_t max_pool */
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

/* provides: conv_pool */
/* A convolution and the max pool after it at once, when the pool's windows do not overlap in
 * height and start at its first row: the convolution's rows one pool row needs are made into
 * `band`, pooled, and made again for the next; its whole output is never held. */
static void conv_pool(const int8_t *in, int8_t *out, int16_t *columns, int8_t *band, const conv_t *c,
                      const pool_t *p) {
    pool_t rows = *p;
    rows.in_h = p->k_h;
    rows.out_h = 1;
    for (int py = 0; py < p->out_h; ++py) {
        conv(in, band, columns, c, (int32_t)py * p->stride_h * c->out_w, (int32_t)p->k_h * c->out_w);
        max_pool(band, out + (int32_t)py * p->out_w * p->channels, &rows);
    }
}

/* provides: dense_t dense */
typedef struct { /* FULLY_CONNECTED: per-channel or one multiplier (per_channel 0) */
    int16_t inputs, outputs, per_channel;
    int32_t out_offset, act_min, act_max;
    const int8_t *weights;
    const int32_t *bias, *multiplier; /* bias: with the input offset times the weights' sum folded in */
    const int8_t *shift;
} dense_t;

/* Two outputs at a time, four inputs a load, SMLAD by SMLAD: sum (x + offset) * w is sum x * w plus
 * offset * sum w, the second a constant the bias already holds. */
static void dense(const int8_t *in, int8_t *out, const dense_t *p) {
    int32_t grouped = p->inputs & ~3;
    for (int o = 0; o < p->outputs; o += 2) {
        int pair = o + 1 < p->outputs; /* an odd last output is paired with itself */
        const int8_t *w0 = p->weights + (int32_t)o * p->inputs, *w1 = pair ? w0 + p->inputs : w0;
        int32_t acc[2] = {0, 0};
        for (int32_t k = 0; k < grouped; k += 4) {
            uint32_t x = word(in + k), xe = sxtb16(x), xo = sxtb16_odd(x), u0 = word(w0 + k), u1 = word(w1 + k);
            acc[0] = smlad(xo, sxtb16_odd(u0), smlad(xe, sxtb16(u0), acc[0]));
            acc[1] = smlad(xo, sxtb16_odd(u1), smlad(xe, sxtb16(u1), acc[1]));
        }
        for (int32_t k = grouped; k < p->inputs; ++k) {
            acc[0] += in[k] * w0[k];
            acc[1] += in[k] * w1[k];
        }
        for (int c = o; c <= o + pair; ++c) {
            int k = p->per_channel ? c : 0;
            out[c] = output(acc[c - o] + p->bias[c], p->multiplier[k], p->shift[k], p->out_offset, p->act_min,
                            p->act_max);
        }
    }
}

/* provides: quantize */
static void quantize(const uint8_t *in, int8_t *out, int32_t size, int32_t in_zero_point, int32_t out_zero_point,
                     int32_t multiplier, int shift) { /* QUANTIZE of the uint8 pixels: Requantize */
    for (int32_t i = 0; i < size; ++i)
        out[i] = saturate(requantize(in[i] - in_zero_point, multiplier, shift) + out_zero_point, -128, 127);
}
