/* Self-attention of e5's encoder layers on CPU, fused: softmax(scale q k^T + padding) v for one
 * (window, head) at a time, straight from the query/key/value product's bf16 rows into the
 * attention output's rows, with the scores never leaving a few kilobytes of cache.
 *
 * Why: through PyTorch the same work is four kernels and three copies per layer (the heads' strided
 * views copied out, the scores written and read back by softmax, the heads copied back together);
 * on a Zen 4 core pair that was about 30% of the encoder's time for 6% of its arithmetic.
 *
 * Numerics: products of bf16 values summed in fp32 (VDPBF16PS), as oneDNN's bf16 products; softmax
 * in fp32 with the weights rounded to bf16 for the product with v, as PyTorch's bf16 softmax gives
 * them; each row divided by its fp32 sum at the end. Padding keys (at or past a window's length)
 * get no weight, and padding query rows get zeros.
 *
 * Where the CPU has no AVX-512 BF16 a plain-C path computes the same thing, slowly: it exists so
 * that the kernel is built and tested everywhere; callers use the kernel only where kb_e5_fast(). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BF16__) && defined(__AVX512BW__)
#include <immintrin.h>
#define KB_FAST 1
#else
#define KB_FAST 0
#endif

#define WIDTH 32       /* e5-small's head width: 384 / 12; other widths are refused */
#define MAX_LENGTH 512 /* e5's position table */
#define ROWS 8         /* query rows per pass: each key and value load serves eight rows */
#define LOG2E 1.4426950408889634f

int kb_e5_abi_version(void) { return 1; }
int kb_e5_fast(void) { return KB_FAST; }

static inline float bf16_to_float(uint16_t x) {
    uint32_t bits = (uint32_t)x << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t float_to_bf16(float f) { /* round to nearest even, as VCVTNEPS2BF16 */
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

typedef struct {
    const uint16_t *q, *k, *v; /* the unit's first row of each; rows are `stride` apart */
    uint16_t *out;             /* its first output row; rows are `out_stride` apart */
    size_t stride, out_stride;
    int length, padded; /* the window's real length, and the batch's (rows to write) */
    float scale;
} Unit;

#if KB_FAST
/* 2^x for x <= 0 (Cephes' exp2f polynomial on [-0.5, 0.5], scaled by 2^round(x)); far below bf16's
 * precision, and 0 in effect for the padding's -inf (clamped to 2^-126). */
static inline __m512 exp2_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 whole = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, whole);
    __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, whole);
}

/* rows[i] holds row i of a 16x16 matrix of 32-bit items; afterwards, column i. */
static inline void transpose16(__m512i rows[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(rows[i], rows[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(rows[i], rows[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* lane k: columns 4k..4k+3 of rows i..i+3 */
        rows[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        rows[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        rows[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        rows[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int half = 0; half < 16; half += 8)
        for (int c = 0; c < 4; c++) {
            t[half + c] = _mm512_shuffle_i32x4(rows[half + c], rows[half + 4 + c], 0x88);
            t[half + 4 + c] = _mm512_shuffle_i32x4(rows[half + c], rows[half + 4 + c], 0xdd);
        }
    for (int c = 0; c < 8; c++) {
        rows[c] = _mm512_shuffle_i32x4(t[c], t[8 + c], 0x88);
        rows[8 + c] = _mm512_shuffle_i32x4(t[c], t[8 + c], 0xdd);
    }
}

static void attend_fast(const Unit *u) {
    /* Keys in blocks of 16 with their (even, odd) pairs of dimensions side by side: one VDPBF16PS
     * gives 16 keys' partial dot products with one query pair. Values in pairs of keys: one gives
     * 16 dimensions' partial sums over two keys. Both zero past the window's length. */
    static _Thread_local uint32_t keys[MAX_LENGTH / 16][WIDTH / 2][16] __attribute__((aligned(64)));
    static _Thread_local uint32_t values[MAX_LENGTH / 2][WIDTH / 16][16] __attribute__((aligned(64)));
    static _Thread_local float scores[ROWS][MAX_LENGTH] __attribute__((aligned(64)));
    static _Thread_local uint16_t weights[ROWS][MAX_LENGTH] __attribute__((aligned(64)));
    const int n = u->length, blocks = (n + 15) / 16, pairs = (n + 1) / 2;
    for (int b = 0; b < blocks; b++) { /* 16 key rows of 16 pairs, transposed */
        __m512i rows[16];
        for (int i = 0; i < 16; i++)
            rows[i] = 16 * b + i < n ? _mm512_loadu_si512(u->k + (size_t)(16 * b + i) * u->stride) : _mm512_setzero_si512();
        transpose16(rows);
        for (int p = 0; p < WIDTH / 2; p++) _mm512_store_si512(keys[b][p], rows[p]);
    }
    const __m512i low_dims = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                              37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i high_dims = _mm512_add_epi16(low_dims, _mm512_set1_epi16(16));
    for (int pair = 0; pair < pairs; pair++) { /* two key rows' values interleaved */
        const uint16_t *even = u->v + (size_t)(2 * pair) * u->stride;
        __m512i a = _mm512_loadu_si512(even);
        __m512i b = 2 * pair + 1 < n ? _mm512_loadu_si512(even + u->stride) : _mm512_setzero_si512();
        _mm512_store_si512(values[pair][0], _mm512_permutex2var_epi16(a, low_dims, b));
        _mm512_store_si512(values[pair][1], _mm512_permutex2var_epi16(a, high_dims, b));
    }
    const __m512 scale = _mm512_set1_ps(u->scale * LOG2E); /* softmax through 2^x */
    for (int r0 = 0; r0 < n; r0 += ROWS) {
        uint32_t query[ROWS][WIDTH / 2];
        for (int r = 0; r < ROWS; r++) /* rows past the end repeat the last; never written out */
            memcpy(query[r], u->q + (size_t)(r0 + r < n ? r0 + r : n - 1) * u->stride, WIDTH * 2);
        __m512 top[ROWS];
        for (int r = 0; r < ROWS; r++) top[r] = _mm512_set1_ps(-INFINITY);
        for (int b = 0; b < blocks; b++) {
            __m512 acc[ROWS];
            for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
            for (int p = 0; p < WIDTH / 2; p++) {
                __m512bh k = (__m512bh)_mm512_load_si512(keys[b][p]);
                for (int r = 0; r < ROWS; r++)
                    acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32((int)query[r][p]), k);
            }
            /* keys past the window's end: -inf, so that they get no weight */
            const __mmask16 real = n - 16 * b >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - 16 * b)) - 1);
            for (int r = 0; r < ROWS; r++) {
                __m512 s = _mm512_mask_mul_ps(_mm512_set1_ps(-INFINITY), real, acc[r], scale);
                top[r] = _mm512_max_ps(top[r], s);
                _mm512_store_ps(scores[r] + 16 * b, s);
            }
        }
        float inverse_sum[ROWS];
        for (int r = 0; r < ROWS; r++) {
            const __m512 peak = _mm512_set1_ps(_mm512_reduce_max_ps(top[r]));
            __m512 sum = _mm512_setzero_ps();
            for (int b = 0; b < blocks; b++) {
                __m512 e = exp2_ps(_mm512_sub_ps(_mm512_load_ps(scores[r] + 16 * b), peak));
                __m256bh rounded = _mm512_cvtneps_pbh(e);
                _mm256_store_si256((__m256i *)(weights[r] + 16 * b), (__m256i)rounded);
                sum = _mm512_add_ps(sum, e);
            }
            inverse_sum[r] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        __m512 lo[ROWS], hi[ROWS];
        for (int r = 0; r < ROWS; r++) lo[r] = hi[r] = _mm512_setzero_ps();
        for (int pair = 0; pair < pairs; pair++) {
            __m512bh v0 = (__m512bh)_mm512_load_si512(values[pair][0]);
            __m512bh v1 = (__m512bh)_mm512_load_si512(values[pair][1]);
            for (int r = 0; r < ROWS; r++) {
                uint32_t two;
                memcpy(&two, weights[r] + 2 * pair, 4);
                __m512bh w = (__m512bh)_mm512_set1_epi32((int)two);
                lo[r] = _mm512_dpbf16_ps(lo[r], w, v0);
                hi[r] = _mm512_dpbf16_ps(hi[r], w, v1);
            }
        }
        for (int r = 0; r < ROWS && r0 + r < n; r++) {
            __m512 s = _mm512_set1_ps(inverse_sum[r]);
            uint16_t *row = u->out + (size_t)(r0 + r) * u->out_stride;
            _mm256_storeu_si256((__m256i *)row, (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(lo[r], s)));
            _mm256_storeu_si256((__m256i *)(row + 16), (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(hi[r], s)));
        }
    }
}
#endif

static void attend_plain(const Unit *u) {
    const int n = u->length;
    float scores[MAX_LENGTH], q[WIDTH], out[WIDTH];
    for (int r = 0; r < n; r++) {
        for (int d = 0; d < WIDTH; d++) q[d] = bf16_to_float(u->q[(size_t)r * u->stride + d]);
        float top = -INFINITY;
        for (int j = 0; j < n; j++) {
            const uint16_t *k = u->k + (size_t)j * u->stride;
            float dot = 0.0f;
            for (int d = 0; d < WIDTH; d++) dot += q[d] * bf16_to_float(k[d]);
            scores[j] = dot * u->scale;
            top = scores[j] > top ? scores[j] : top;
        }
        float sum = 0.0f;
        for (int d = 0; d < WIDTH; d++) out[d] = 0.0f;
        for (int j = 0; j < n; j++) {
            float e = expf(scores[j] - top);
            sum += e;
            float w = bf16_to_float(float_to_bf16(e));
            const uint16_t *v = u->v + (size_t)j * u->stride;
            for (int d = 0; d < WIDTH; d++) out[d] += w * bf16_to_float(v[d]);
        }
        uint16_t *row = u->out + (size_t)r * u->out_stride;
        for (int d = 0; d < WIDTH; d++) row[d] = float_to_bf16(out[d] / sum);
    }
}

/* qkv: [count * length] rows of 3 * heads * width bf16 (queries, keys, values, each head by head);
 * out: [count * length] rows of heads * width bf16; lengths: each window's real length. The units
 * (window w, head h) numbered w * heads + h from `first` in steps of `step` are done, so that
 * callers' threads split a batch between them. 0 when done; -1 for a shape this kernel refuses. */
int kb_e5_attention(const uint16_t *qkv, uint16_t *out, const int32_t *lengths, int count, int length, int heads,
                    int width, float scale, int first, int step, int fast) {
    if (width != WIDTH || length < 1 || length > MAX_LENGTH || heads < 1 || step < 1 || first < 0) return -1;
    for (int w = 0; w < count; w++)
        if (lengths[w] < 1 || lengths[w] > length) return -1;
    const size_t hidden = (size_t)heads * WIDTH, stride = 3 * hidden;
    for (int unit = first; unit < count * heads; unit += step) {
        const int w = unit / heads, h = unit % heads;
        const uint16_t *base = qkv + (size_t)w * length * stride + (size_t)h * WIDTH;
        Unit u = {base, base + hidden, base + 2 * hidden, out + (size_t)w * length * hidden + (size_t)h * WIDTH,
                  stride, hidden, lengths[w], length, scale};
        for (int r = u.length; r < u.padded; r++) memset(u.out + (size_t)r * hidden, 0, WIDTH * 2);
#if KB_FAST
        if (fast) {
            attend_fast(&u);
            continue;
        }
#endif
        (void)fast;
        attend_plain(&u);
    }
    return 0;
}
