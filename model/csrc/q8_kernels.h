/* K-quant products (Q4_K, Q5_K, Q6_K) on 8-bit activations with AVX-512 VNNI, as llama.cpp computes
 * them: the activation row is rounded once per matrix to int8 in blocks of 256 with one scale and
 * the sums of each 16 values (ggml's Q8_K), and a row of weight blocks times it is integer
 * arithmetic (vpmaddubsw, then vpdpwssd with the sub-block scales) until one float multiply per
 * super-block. Included by decode_step.c after quant_kernels.h.
 *
 * Why: with fp32 activations (quant_kernels.h) a k-quant row costs ~20 vector operations per 64
 * weights, widening nibbles to floats, and one core falls behind the memory (measured: the 1.5B
 * Q4_K_M file at 0.78x llama.cpp per CPU-second). Here it is ~6 per 64, so a core keeps up with
 * its share of the bandwidth. The price is the activations' 8-bit rounding (relative error ~0.4%
 * per product): a row's products no longer equal the dequantised fp32 model's to fp32 rounding,
 * only to that (tests/model/test_gguf_models.py bounds it, and the fp32 kernels stay where VNNI
 * is missing or kb_int8_activations(0) asks for them). A row's sums never depend on the other rows
 * of a batch, so tokens stay the same batched or alone.
 */
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define KB_Q8_ACTIVATIONS 1

/* 256 activations: x ~ d q, and bsums[j] = sum of q over values 16j .. 16j + 15. */
typedef struct {
    float d;
    int16_t bsums[16];
    int8_t q[256];
} Q8Block;

/* x [n] (n a multiple of 256) -> n / 256 blocks, rounded to nearest (even) as the tests' reference. */
static void quantize_q8(const float *x, int n, Q8Block *y) {
    for (int i = 0; i < n; i += 256, y++) {
        __m512 amax = _mm512_setzero_ps();
        for (int j = 0; j < 256; j += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + i + j)));
        float top = _mm512_reduce_max_ps(amax);
        float inverse = top > 0.0f ? 127.0f / top : 0.0f;
        y->d = top > 0.0f ? top / 127.0f : 0.0f;
        __m512 scale = _mm512_set1_ps(inverse);
        for (int j = 0; j < 16; j++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * j), scale));
            _mm_storeu_si128((__m128i *)(y->q + 16 * j), _mm512_cvtsepi32_epi8(q));
            y->bsums[j] = (int16_t)_mm512_reduce_add_epi32(q);
        }
    }
}

/* Lanes of a 32 x int16 vector that pick source lane `first` for lanes 0-15 and `second` for 16-31
 * (Q4_K / Q5_K: a sub-block of 32 values is 16 pair sums), or first + i / 8 (Q6_K: 16 values). */
static inline __m512i pick_halves(int first, int second) {
    return _mm512_mask_set1_epi16(_mm512_set1_epi16((short)first), 0xFFFF0000u, (short)second);
}

static inline __m512i pick_quarters(int first) {
    const __m512i quarter = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1,
                                             0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_add_epi16(quarter, _mm512_set1_epi16((short)first));
}

/* The 12 scale/min bytes of a Q4_K / Q5_K super-block as 8 scales then 8 mins (ggml's utmp trick). */
static inline __m256i scales_mins_k4(const uint8_t *packed) {
    uint32_t u[4];
    memcpy(u, packed, 12);
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
    u[3] = ((u[2] >> 4) & low4) | (((u[1] >> 6) & low2) << 4);
    uint32_t mins_low = u[1] & low6;
    u[1] = (u[2] & low4) | (((u[0] >> 6) & low2) << 4);
    u[2] = mins_low;
    u[0] &= low6;
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)u));
}

/* sum over sub-blocks j of mins[j] * (bsums[2j] + bsums[2j + 1]), as 4 int32 lanes. */
static inline __m128i min_sums_k4(__m256i scales_mins, const Q8Block *y) {
    __m256i bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
    __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    return _mm_madd_epi16(pairs, _mm256_extracti128_si256(scales_mins, 1));
}

/* Q4_K (high_at 0) and Q5_K: group g's 32 bytes hold sub-block 2g (low nibbles, values 64g..) and
 * 2g + 1 (high); Q5_K's 32 bytes qh at high_at: bit s of qh[l] is the fifth bit of value l of
 * sub-block s. Inlined with constant layouts, one function per type. */
static inline __attribute__((always_inline)) float dot_k4_q8(const uint8_t *w, const Q8Block *y, int n,
                                                            int block_bytes, int qs_at, int high_at) {
    const __m512i nibble = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int i = 0; i < n; i += 256, w += block_bytes, y++) {
        for (int ahead = 0; ahead < block_bytes; ahead += 64) prefetch_ahead(w + ahead);
        __m256i scales_mins = scales_mins_k4(w + 4);
        __m512i scales = _mm512_castsi256_si512(scales_mins); /* lanes 0-7 picked, the rest unused */
        __m512i high = high_at ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + high_at)))
                               : _mm512_setzero_si512();
        __m512i sums = _mm512_setzero_si512();
        for (int g = 0; g < 4; g++) {
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + qs_at + 32 * g)));
            q = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), nibble);
            __m512i picks = pick_halves(2 * g, 2 * g + 1);
            if (high_at) { /* bit 2g of each byte (low half) or 2g + 1 (high half) to bit 4 */
                __m512i bit = _mm512_and_si512(_mm512_srlv_epi16(high, picks), one);
                q = _mm512_or_si512(q, _mm512_slli_epi16(bit, 4));
            }
            __m512i pairs = _mm512_maddubs_epi16(q, _mm512_loadu_si512(y->q + 64 * g));
            sums = _mm512_dpwssd_epi32(sums, pairs, _mm512_permutexvar_epi16(picks, scales));
        }
        float dy = y->d;
        acc = _mm512_fmadd_ps(_mm512_set1_ps(kb_half(w) * dy), _mm512_cvtepi32_ps(sums), acc);
        acc_min = _mm_fmadd_ps(_mm_set1_ps(kb_half(w + 2) * dy), _mm_cvtepi32_ps(min_sums_k4(scales_mins, y)), acc_min);
    }
    __m128 m = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(m);
}

static float dot_q4_k_q8(const uint8_t *w, const Q8Block *y, int n) { return dot_k4_q8(w, y, n, 144, 16, 0); }
static float dot_q5_k_q8(const uint8_t *w, const Q8Block *y, int n) { return dot_k4_q8(w, y, n, 176, 48, 16); }

/* Q6_K: in each half of 128 values, ql's 64 bytes hold values 0-63 in low nibbles and 64-127 in
 * high ones; qh's 32 bytes hold their top two bits (bits 0-1: values 0-31, 2-3: 32-63, 4-5:
 * 64-95, 6-7: 96-127); w = d sc (q - 32), one int8 scale per 16 values. The -32 is taken out of
 * the sums through bsums. */
static float dot_q6_k_q8(const uint8_t *w, const Q8Block *y, int n) {
    const __m512i nibble = _mm512_set1_epi8(15), top = _mm512_set1_epi8(0x30);
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 256, w += 210, y++) {
        prefetch_ahead(w);
        prefetch_ahead(w + 64);
        prefetch_ahead(w + 128);
        __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192)));
        __m512i scales = _mm512_castsi256_si512(scales16);
        __m256i offsets = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), scales16);
        __m512i sums = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(_mm256_slli_epi32(offsets, 5)));
        for (int half = 0; half < 2; half++) {
            __m512i low = _mm512_loadu_si512(w + 64 * half);
            __m512i high = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 128 + 32 * half)));
            /* values 0-63: low nibbles, qh bits 0-1 (0-31) and 2-3 (32-63) to bits 4-5 */
            __m512i h01 = _mm512_mask_slli_epi16(_mm512_slli_epi16(high, 4), 0xFFFF0000u, high, 2);
            __m512i q01 = _mm512_or_si512(_mm512_and_si512(low, nibble), _mm512_and_si512(h01, top));
            /* values 64-127: high nibbles, qh bits 4-5 and 6-7 */
            __m512i h23 = _mm512_mask_srli_epi16(high, 0xFFFF0000u, high, 2);
            __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(low, 4), nibble), _mm512_and_si512(h23, top));
            const int8_t *x = y->q + 128 * half;
            __m512i p01 = _mm512_maddubs_epi16(q01, _mm512_loadu_si512(x));
            __m512i p23 = _mm512_maddubs_epi16(q23, _mm512_loadu_si512(x + 64));
            sums = _mm512_dpwssd_epi32(sums, p01, _mm512_permutexvar_epi16(pick_quarters(8 * half), scales));
            sums = _mm512_dpwssd_epi32(sums, p23, _mm512_permutexvar_epi16(pick_quarters(8 * half + 4), scales));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(kb_half(w + 208) * y->d), _mm512_cvtepi32_ps(sums), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

typedef float (*RowDotQ8)(const uint8_t *, const Q8Block *, int);

static atomic_int q8_wanted = 1; /* kb_int8_activations(0): the fp32 kernels for every type */

static inline RowDotQ8 row_dot_q8_for(int type) {
    if (!atomic_load_explicit(&q8_wanted, memory_order_relaxed)) return NULL;
    switch (type) {
    case KB_Q4_K: return dot_q4_k_q8;
    case KB_Q5_K: return dot_q5_k_q8;
    case KB_Q6_K: return dot_q6_k_q8;
    default: return NULL;
    }
}

/* Whether any part of the matrix is multiplied on 8-bit activations (they are quantised once for it). */
static inline int wants_q8(const QuantMatrix *m) {
    for (int p = 0; p < m->n_parts; p++)
        if (row_dot_q8_for(m->part_type[p])) return 1;
    return 0;
}

/* This thread's quantised activations: rows x blocks, grown as needed (pool threads live long). */
static __thread Q8Block *q8_scratch;
static __thread size_t q8_capacity;

static const Q8Block *quantize_rows_q8(const float *x, int k, int batch) {
    size_t need = (size_t)batch * (size_t)(k / 256);
    if (need > q8_capacity) {
        Q8Block *grown = realloc(q8_scratch, need * sizeof(Q8Block));
        if (!grown) return NULL; /* the fp32 kernels serve */
        q8_scratch = grown;
        q8_capacity = need;
    }
    for (int b = 0; b < batch; b++) quantize_q8(x + (size_t)b * k, k, q8_scratch + (size_t)b * (k / 256));
    return q8_scratch;
}

#else
typedef struct Q8Block { float d; } Q8Block; /* never made: no kernel reads it here */
typedef float (*RowDotQ8)(const uint8_t *, const Q8Block *, int);
static inline RowDotQ8 row_dot_q8_for(int type) { (void)type; return NULL; }
static inline int wants_q8(const void *m) { (void)m; return 0; }
static inline const Q8Block *quantize_rows_q8(const float *x, int k, int batch) { (void)x, (void)k, (void)batch; return NULL; }
#endif

/* Turns the 8-bit activation kernels on (1) or off (0), or only asks (-1); returns whether they
 * serve k-quant rows now (0 where the CPU or compiler lacks AVX-512 VNNI). */
KB_API int kb_int8_activations(int on) {
#if defined(KB_Q8_ACTIVATIONS)
    if (on >= 0) atomic_store(&q8_wanted, on ? 1 : 0);
    return atomic_load(&q8_wanted);
#else
    (void)on;
    return 0;
#endif
}

/* Test entry point: rows of `type` times x through the 8-bit activation kernels (one thread).
 * Returns -1 where there is none for the type (or none at all here). */
KB_API int kb_quant_matvec_q8(int type, const uint8_t *w, int rows, int cols, int64_t row_bytes, const float *x,
                              float *out) {
    RowDotQ8 dot = row_dot_q8_for(type);
    const Q8Block *xq = dot && cols % 256 == 0 ? quantize_rows_q8(x, cols, 1) : NULL;
    if (!xq) return -1;
    for (int r = 0; r < rows; r++) out[r] = dot(w + (size_t)r * row_bytes, xq, cols);
    return 0;
}
