/* Q4_1 and Q8_0 rows (the bundled model's blocks) times one or a batch's activation rows, on 8-lane
 * vectors, for CPUs with AVX2 but not AVX-512. Included by quant_kernels.h in place of its
 * own dot_q4_1 and dot_q8_0.
 *
 * Why: the generic kernels' 16-lane vf has no register of its size there; GCC 12 keeps such a value
 * on the stack and moves it in 8-byte pieces with scalar stores the next load cannot forward from.
 * Measured on a 2-core AMD Zen 1 (AVX2 only), the bundled model decoded 5.9 tok/s on one thread
 * through the generic kernels. Here every vector is one 256-bit register.
 *
 * A block's 32 weights are formed once (Q4_1: d u + m; Q8_0: d q) and multiplied into up to
 * AVX2_BATCH activation rows, each row with two accumulators (lanes 0-7 and 8-15 of the block's
 * halves) that sum in the same order whatever the batch: a request's tokens are the same batched or
 * alone, and one row's product (dot_*) is the batch kernel with one row. decode_step.c's batched
 * rows (rows_q4_1, rows_q8_0) call rows_formed with its own row counts. */
#if defined(KB_AVX2_HALVES)
#define AVX2_BATCH 6 /* 6 rows x 2 accumulators + 4 formed weight vectors: the 16 ymm registers */

typedef int32_t vi8 __attribute__((vector_size(32)));

static inline vf8 load8(const float *x) { return *(const vf8u *)x; }
static inline vf8 splat8(float f) { return (vf8)_mm256_set1_ps(f); }

/* Q4_1 block (d, m, 16 bytes of nibble pairs): values 0-7, 8-15, 16-23, 24-31 as floats d u + m. */
static inline void form_q4_1(const uint8_t *w, vf8 formed[4]) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)(w + 4));
    vi8 lo = (vi8)_mm256_cvtepu8_epi32(bytes), hi = (vi8)_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
    vf8 d = splat8(kb_half(w)), m = splat8(kb_half(w + 2));
    formed[0] = d * __builtin_convertvector(lo & 15, vf8) + m;
    formed[1] = d * __builtin_convertvector(hi & 15, vf8) + m;
    formed[2] = d * __builtin_convertvector(lo >> 4, vf8) + m;
    formed[3] = d * __builtin_convertvector(hi >> 4, vf8) + m;
}

/* Q8_0 block (d, 32 signed bytes): values 0-7, 8-15, 16-23, 24-31 as floats d q. */
static inline void form_q8_0(const uint8_t *w, vf8 formed[4]) {
    vf8 d = splat8(kb_half(w));
    for (int h = 0; h < 2; h++) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(w + 2 + 16 * h));
        formed[2 * h] = d * (vf8)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
        formed[2 * h + 1] = d * (vf8)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8)));
    }
}

/* One row of Q4_1 (q4) or Q8_0 blocks times tb <= AVX2_BATCH rows of x. */
static inline __attribute__((always_inline)) void rows_formed(int q4, const uint8_t *w, const float *x, int k,
                                                              int tb, float *out) {
    vf8 lo[AVX2_BATCH] = {{0}}, hi[AVX2_BATCH] = {{0}};
    size_t stride = q4 ? 20 : 34;
    for (int i = 0; i < k; i += 32, w += stride) {
        prefetch_ahead(w);
        vf8 formed[4];
        if (q4) form_q4_1(w, formed);
        else form_q8_0(w, formed);
        for (int b = 0; b < tb; b++) {
            const float *xb = x + (size_t)b * k + i;
            lo[b] += formed[0] * load8(xb); /* one fused multiply-add a product */
            hi[b] += formed[1] * load8(xb + 8);
            lo[b] += formed[2] * load8(xb + 16);
            hi[b] += formed[3] * load8(xb + 24);
        }
    }
    for (int b = 0; b < tb; b++) out[b] = hsum8(lo[b] + hi[b]);
}

static float dot_q4_1(const uint8_t *w, const float *x, int n) {
    float out;
    rows_formed(1, w, x, n, 1, &out);
    return out;
}

static float dot_q8_0(const uint8_t *w, const float *x, int n) {
    float out;
    rows_formed(0, w, x, n, 1, &out);
    return out;
}
#endif
