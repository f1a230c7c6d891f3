/* Batched products on GGUF Q4_1 / Q8_0 weights with AVX-512 VNNI: weights repacked once into strips of
 * 16 rows, activations rounded to 8 bits in blocks of 32 (ggml's Q8_1), one VPDPBUSD per 16 rows x 4
 * weights x one activation row. Included by decode_step.c after q8_kernels.h.
 *
 * Why: the bf16 path (decode_step.c) forms every weight in bf16 each step and reduces each (weight row,
 * activation row) pair horizontally; on two Zen 4 cores a step of 16 requests ran at about half the
 * bf16 peak, 3.7x a step of one. Here a 512-bit lane is one weight row, so no reduction is left:
 * 16 rows x 32 weights x one activation row cost 8 VPDPBUSD (64 products each, twice VDPBF16PS's 32)
 * and 4 vector operations for the block's scales. The weights stay 4 bits (Q4_1) or 8 bits (Q8_0)
 * in memory, so one request's step reads no more than the blocks themselves.
 *
 * Maths: a Q4_1 weight is d u + m (u the nibble, 0..15); a Q8_0 weight d q is stored as u = q + 128
 * with m = -128 d. With x ~ dx xq over a block of 32, a block's share of the product is
 * d dx sum(u xq) + m dx sum(xq): integer sums, then two fused multiply-adds in fp32, block after
 * block. A (weight row, activation row) pair sums in that order whatever the batch, so a request's
 * tokens are the same batched or alone. The activations' rounding (relative error ~0.4% a product)
 * is llama.cpp's for these types (Q4_1 x Q8_1); kb_int8_activations(0) turns the path off.
 *
 * Layout: strip s (rows 16 s .. 16 s + 15; rows past the matrix are zero), block i (columns 32 i ..)
 * is one record. Q4_1 matrices (STRIPS_Q4): 4 x 64 bytes where byte 4 j + c of vector t holds row
 * j's weights 4 t + c (low nibble) and 16 + 4 t + c (high nibble), then d[16], m[16] in fp16.
 * Matrices with Q8_0 parts (STRIPS_U8): 8 x 64 bytes, byte 4 j + c of vector g is row j's weight
 * 4 g + c, then d[16], m[16]. */
#if defined(KB_Q8_ACTIVATIONS) && defined(__AVX512F__) && defined(__F16C__)
#define KB_VNNI_STRIPS 1
#define STRIP_ROWS 16
#define STRIP_BATCH 8 /* activation rows a pass: 8 sums and 8 accumulators stay in registers */
enum { STRIPS_NONE = 0, STRIPS_Q4 = 1, STRIPS_U8 = 2 };

/* A record: the weights' vectors (4 of nibble pairs or 8 of bytes, 64 bytes each), then d[16], m[16]. */
static inline size_t strip_vector_bytes(int format) { return format == STRIPS_Q4 ? 256 : 512; }
static inline size_t strip_record_bytes(int format) { return strip_vector_bytes(format) + 2 * STRIP_ROWS * 2; }

/* Which strip layout a matrix takes (STRIPS_NONE: some part is neither Q4_1 nor Q8_0). */
static int strip_format_of(const QuantMatrix *qm) {
    if (qm->cols % 32 || qm->cols <= 0) return STRIPS_NONE;
    int all_q4 = 1;
    for (int p = 0; p < qm->n_parts; p++) {
        if (qm->part_type[p] != KB_Q4_1 && qm->part_type[p] != KB_Q8_0) return STRIPS_NONE;
        all_q4 &= qm->part_type[p] == KB_Q4_1;
    }
    return all_q4 ? STRIPS_Q4 : STRIPS_U8;
}

static int quant_rows(const QuantMatrix *qm) {
    int rows = 0;
    for (int p = 0; p < qm->n_parts; p++) rows += qm->part_rows[p];
    return rows;
}

/* One block of row `row` as 32 unsigned values and its d, m (fp16 bits), as in the layout above. */
static void block_unsigned(const QuantMatrix *qm, int row, int block, uint8_t u[32], uint16_t *d, uint16_t *m) {
    int type;
    const uint8_t *w = quant_row_at(qm, row, &type);
    if (type == KB_Q4_1) {
        w += (size_t)block * 20;
        memcpy(d, w, 2);
        memcpy(m, w + 2, 2);
        for (int t = 0; t < 16; t++) u[t] = w[4 + t] & 15, u[16 + t] = w[4 + t] >> 4;
        return;
    }
    w += (size_t)block * 34;
    memcpy(d, w, 2);
    *m = _cvtss_sh(-128.0f * _cvtsh_ss(*d), 0); /* exact: a power of two */
    for (int t = 0; t < 32; t++) u[t] = (uint8_t)((int)(int8_t)w[2 + t] + 128);
}

static size_t strips_bytes(const QuantMatrix *qm, int format) {
    size_t strips = (size_t)(quant_rows(qm) + STRIP_ROWS - 1) / STRIP_ROWS;
    return strips * (size_t)(qm->cols / 32) * strip_record_bytes(format);
}

static void repack_strips(const QuantMatrix *qm, int format, uint8_t *out) {
    int rows = quant_rows(qm), blocks = qm->cols / 32;
    size_t record = strip_record_bytes(format), vectors = strip_vector_bytes(format);
    memset(out, 0, strips_bytes(qm, format));
    for (int r0 = 0; r0 < rows; r0 += STRIP_ROWS)
        for (int i = 0; i < blocks; i++, out += record) {
            uint16_t *ds = (uint16_t *)(out + vectors), *ms = ds + STRIP_ROWS;
            for (int j = 0; j < STRIP_ROWS && r0 + j < rows; j++) {
                uint8_t u[32];
                block_unsigned(qm, r0 + j, i, u, &ds[j], &ms[j]);
                for (int g = 0; g < 8; g++)
                    for (int c = 0; c < 4; c++) {
                        if (format == STRIPS_U8) out[64 * g + 4 * j + c] = u[4 * g + c];
                        else if (g < 4) out[64 * g + 4 * j + c] |= u[4 * g + c];
                        else out[64 * (g - 4) + 4 * j + c] |= (uint8_t)(u[4 * g + c] << 4);
                    }
            }
        }
}

/* x [batch, k] -> xq [batch, k] int8 and per block of 32: dx (scale) and sx = dx * sum(xq). */
static void quantize_blocks_q8(const float *x, int k, int batch, int8_t *xq, float *dx, float *sx) {
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < k; i += 32) {
            const float *v = x + (size_t)b * k + i;
            __m512 lo = _mm512_loadu_ps(v), hi = _mm512_loadu_ps(v + 16);
            float top = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
            __m512 scale = _mm512_set1_ps(top > 0.0f ? 127.0f / top : 0.0f);
            __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, scale)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, scale));
            _mm_storeu_si128((__m128i *)(xq + (size_t)b * k + i), _mm512_cvtsepi32_epi8(qlo));
            _mm_storeu_si128((__m128i *)(xq + (size_t)b * k + i + 16), _mm512_cvtsepi32_epi8(qhi));
            float d = top / 127.0f;
            size_t at = (size_t)b * (k / 32) + i / 32;
            dx[at] = d;
            sx[at] = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
        }
}

typedef int32_t kb_i32_alias __attribute__((may_alias, aligned(1)));

/* One strip (its first record at w) times `nb` activation rows: out[b] = the 16 rows' sums for
 * activation row b. Inlined with nb constant so the accumulators stay in registers; the rows' integer
 * sums advance together (independent chains) and the activations' 4 bytes are broadcast from memory. */
static inline __attribute__((always_inline)) void strip_times(const uint8_t *w, int format, int blocks,
                                                              const int8_t *xq, const float *dx, const float *sx,
                                                              int k, int nb, __m512 *out) {
    __m512 acc[STRIP_BATCH];
    for (int b = 0; b < nb; b++) acc[b] = _mm512_setzero_ps();
    const size_t record = strip_record_bytes(format), vectors = strip_vector_bytes(format);
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int i = 0; i < blocks; i++, w += record) {
        prefetch_ahead(w);
        __m512i sums[STRIP_BATCH];
        for (int b = 0; b < nb; b++) sums[b] = _mm512_setzero_si512();
        for (int g = 0; g < 8; g++) {
            __m512i u;
            if (format == STRIPS_Q4) {
                __m512i packed = _mm512_loadu_si512(w + 64 * (g & 3));
                u = g < 4 ? _mm512_and_si512(packed, low4) : _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
            } else {
                u = _mm512_loadu_si512(w + 64 * g);
            }
            for (int b = 0; b < nb; b++) {
                const kb_i32_alias *x = (const kb_i32_alias *)(xq + (size_t)b * k + (size_t)i * 32);
                sums[b] = _mm512_dpbusd_epi32(sums[b], u, _mm512_set1_epi32(x[g]));
            }
        }
        __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + vectors)));
        __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + vectors + 32)));
        for (int b = 0; b < nb; b++) {
            size_t at = (size_t)b * blocks + i;
            acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[b]), _mm512_mul_ps(d, _mm512_set1_ps(dx[at])), acc[b]);
            acc[b] = _mm512_fmadd_ps(m, _mm512_set1_ps(sx[at]), acc[b]);
        }
    }
    for (int b = 0; b < nb; b++) out[b] = acc[b];
}

/* Copies with the format and batch constant (the loops unroll into registers); edges take nb. */
#define STRIP_KERNEL(name, fmt, rows)                                                                          \
    static __attribute__((noinline)) void name(const uint8_t *w, int blocks, const int8_t *xq, const float *dx, \
                                               const float *sx, int k, int nb, __m512 *out) {                 \
        (void)nb;                                                                                              \
        strip_times(w, fmt, blocks, xq, dx, sx, k, rows, out);                                                 \
    }
STRIP_KERNEL(strip_q4_full, STRIPS_Q4, STRIP_BATCH)
STRIP_KERNEL(strip_u8_full, STRIPS_U8, STRIP_BATCH)
STRIP_KERNEL(strip_q4_one, STRIPS_Q4, 1)
STRIP_KERNEL(strip_u8_one, STRIPS_U8, 1)
STRIP_KERNEL(strip_q4_some, STRIPS_Q4, nb)
STRIP_KERNEL(strip_u8_some, STRIPS_U8, nb)

/* This thread's rounded activations, grown as needed (pool threads live long). */
static __thread uint8_t *strip_acts;
static __thread size_t strip_acts_capacity;

/* Weight rows row0 + [first, last) of qm times every activation row, as matvec_rows, on the strips;
 * 0 where the path cannot serve (the caller's paths do). Strips that straddle [first, last) are
 * computed whole and only this thread's rows written. */
static int matvec_strips(const QuantMatrix *qm, int row0, const float *x, int k, int batch, float *y, int n,
                         int first, int last, int accumulate) {
    if (!qm->strips || !atomic_load_explicit(&q8_wanted, memory_order_relaxed) || first >= last) return 0;
    int blocks = k / 32;
    size_t need = (size_t)batch * k + 2 * (size_t)batch * blocks * sizeof(float);
    if (need > strip_acts_capacity) {
        uint8_t *grown = realloc(strip_acts, need);
        if (!grown) return 0;
        strip_acts = grown;
        strip_acts_capacity = need;
    }
    int8_t *xq = (int8_t *)strip_acts;
    float *dx = (float *)(strip_acts + (size_t)batch * k), *sx = dx + (size_t)batch * blocks;
    quantize_blocks_q8(x, k, batch, xq, dx, sx); /* each thread for itself: no barrier */
    int format = qm->strip_format;
    size_t strip_bytes = (size_t)blocks * strip_record_bytes(format);
    int lo = row0 + first, hi = row0 + last; /* rows of qm */
    for (int s = lo / STRIP_ROWS; s * STRIP_ROWS < hi; s++) {
        const uint8_t *w = qm->strips + (size_t)s * strip_bytes;
        for (int b0 = 0; b0 < batch; b0 += STRIP_BATCH) {
            int nb = batch - b0 < STRIP_BATCH ? batch - b0 : STRIP_BATCH;
            __m512 sums[STRIP_ROWS];
            const int8_t *xb = xq + (size_t)b0 * k;
            const float *dxb = dx + (size_t)b0 * blocks, *sxb = sx + (size_t)b0 * blocks;
            int q4 = format == STRIPS_Q4;
            if (nb == STRIP_BATCH) (q4 ? strip_q4_full : strip_u8_full)(w, blocks, xb, dxb, sxb, k, nb, sums);
            else if (nb == 1) (q4 ? strip_q4_one : strip_u8_one)(w, blocks, xb, dxb, sxb, k, nb, sums);
            else (q4 ? strip_q4_some : strip_u8_some)(w, blocks, xb, dxb, sxb, k, nb, sums);
            /* this thread's rows of the strip: a lane mask (rows of qm lo .. hi) */
            int r0 = s * STRIP_ROWS, from = lo > r0 ? lo - r0 : 0, to = hi - r0 < STRIP_ROWS ? hi - r0 : STRIP_ROWS;
            __mmask16 mine = (__mmask16)(((1u << to) - 1u) & ~((1u << from) - 1u));
            __m512 bias = qm->bias ? _mm512_maskz_loadu_ps(mine, qm->bias + r0) : _mm512_setzero_ps();
            for (int b = 0; b < nb; b++) {
                float *at = y + (size_t)(b0 + b) * n + (r0 - row0); /* lanes outside `mine` untouched */
                __m512 value = _mm512_add_ps(sums[b], bias);
                if (accumulate) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mine, at), value);
                _mm512_mask_storeu_ps(at, mine, value);
            }
        }
    }
    return 1;
}
#endif

/* The strip layout this build would repack qm into (0: none: no AVX-512 VNNI, other types, or AMX
 * tiles serve batched steps here). */
KB_API int kb_strip_format(const QuantMatrix *qm) {
#if defined(KB_VNNI_STRIPS)
#if defined(KB_AMX)
    if (amx_usable()) return STRIPS_NONE;
#endif
    return strip_format_of(qm);
#else
    (void)qm;
    return 0;
#endif
}

/* Bytes of qm's strips in `format` (kb_strip_format's answer). */
KB_API int64_t kb_strip_bytes(const QuantMatrix *qm, int format) {
#if defined(KB_VNNI_STRIPS)
    return format == strip_format_of(qm) && format != STRIPS_NONE ? (int64_t)strips_bytes(qm, format) : -1;
#else
    (void)qm, (void)format;
    return -1;
#endif
}

/* Fills out (kb_strip_bytes long) with qm's strips; 0, or -1 where the format does not fit qm. */
KB_API int kb_repack_strips(const QuantMatrix *qm, int format, uint8_t *out) {
#if defined(KB_VNNI_STRIPS)
    if (format == STRIPS_NONE || format != strip_format_of(qm)) return -1;
    repack_strips(qm, format, out);
    return 0;
#else
    (void)qm, (void)format, (void)out;
    return -1;
#endif
}

/* y [batch, rows] = qm's strips times x [batch, cols] (one thread; tests); 0, or -1 without strips. */
KB_API int kb_strip_matvec(const QuantMatrix *qm, const float *x, int batch, float *y) {
#if defined(KB_VNNI_STRIPS)
    if (batch < 1) return -1;
    int rows = quant_rows(qm);
    return matvec_strips(qm, 0, x, qm->cols, batch, y, rows, 0, rows, 0) ? 0 : -1;
#else
    (void)qm, (void)x, (void)batch, (void)y;
    return -1;
#endif
}
