/* Matrix-vector products on GGUF's quantised blocks as stored (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
 * Q5_K, Q6_K), with fp32 activations. Included by decode_step.c after its vector helpers (vf, LANES,
 * hsum, load_i8, prefetch_ahead).
 *
 * Why fp32 activations (llama.cpp rounds them to 8 bits): every product then equals the gguf
 * package's dequantise-then-multiply up to the order of the float additions, so a quantised model
 * decodes the tokens its dequantised weights give. A decode step is memory-bound; unpacking 4-6 bit
 * fields into floats costs fewer cycles than the bytes take to arrive, and the block scales are
 * applied once per 16 or 32 weights, not per weight. The nibble unpacking runs on GCC vector
 * extensions; only widening 16 bytes to 16 ints uses AVX-512 / AVX2 intrinsics (with a portable loop).
 * The block layouts are ggml's (ggml-common.h) and model/gguf_quant.py's.
 */
#include <stdint.h>

/* GGML type ids, as gguf.GGMLQuantizationType. */
enum { KB_F32 = 0, KB_Q4_0 = 2, KB_Q4_1 = 3, KB_Q5_0 = 6, KB_Q5_1 = 7, KB_Q8_0 = 8,
       KB_Q4_K = 12, KB_Q5_K = 13, KB_Q6_K = 14 };

#define KB_MAX_PARTS 3

/* A matrix of `rows` rows stored as up to three row ranges of their own type (a fused q/k/v whose
 * parts a Q4_K_M file quantises differently), plus an optional bias. Mirrors QuantMatrix in
 * model/native_quant.py. Rows of part p start at part_data[p]; each is part_row_bytes[p] long. */
typedef struct QuantMatrix {
    int32_t n_parts, cols;
    int32_t part_type[KB_MAX_PARTS];
    int32_t part_rows[KB_MAX_PARTS];
    int64_t part_row_bytes[KB_MAX_PARTS];
    const uint8_t *part_data[KB_MAX_PARTS];
    const float *bias; /* [sum of part_rows] or NULL */
    const uint8_t *strips; /* the rows repacked for batched steps (strip_kernels.h), or NULL */
    int32_t strip_format;  /* STRIPS_Q4 or STRIPS_U8 when strips is set */
} QuantMatrix;

typedef int32_t vi __attribute__((vector_size(LANES * 4), aligned(4)));

static inline float kb_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (mant << 13);
    else if (exp != 0) bits = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant == 0) bits = sign;
    else { /* subnormal half: normalise */
        exp = 113;
        while (!(mant & 0x400)) mant <<= 1, exp--;
        bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

/* 16 bytes widened to 16 int32 lanes. */
static inline vi load_u8(const uint8_t *p) {
    vi out;
#if defined(__AVX512F__)
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    memcpy(&out, &v, sizeof out);
#elif defined(__AVX2__)
    __m128i bytes = _mm_loadu_si128((const __m128i *)p);
    __m256i lo = _mm256_cvtepu8_epi32(bytes), hi = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
    memcpy(&out, &lo, sizeof lo);
    memcpy((char *)&out + sizeof lo, &hi, sizeof hi);
#else
    for (int i = 0; i < LANES; i++) out[i] = p[i];
#endif
    return out;
}

static inline vf to_float(vi v) { return __builtin_convertvector(v, vf); }
/* Where AVX-512 is missing a vf lives on the stack in two halves, and GCC builds (vf){0} + f from 16
 * scalar stores that the next vector load cannot forward from (a stall per block); two 256-bit
 * stores forward (the other block types' kernels 2.5x faster on a Zen 1). */
static inline vf splat(float f) {
#if defined(KB_AVX2_HALVES)
    vf out;
    __m256 half = _mm256_set1_ps(f);
    memcpy(&out, &half, sizeof half);
    memcpy((char *)&out + sizeof half, &half, sizeof half);
    return out;
#else
    return (vf){0} + f;
#endif
}
static inline vf xv(const float *x) { return *(const vf *)x; }

static const vi LANE_INDEX = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* ---- one row dot x, per type. `n` is the row length (a multiple of the block size). */

/* Q4_0: d (f16), 16 bytes: value j low nibble, value 16 + j high nibble; w = d (q - 8). */
static float dot_q4_0(const uint8_t *w, const float *x, int n) {
    vf acc = {0};
    for (int i = 0; i < n; i += 32, w += 18) {
        prefetch_ahead(w);
        vi q = load_u8(w + 2);
        vf s = (to_float(q & 15) - 8.0f) * xv(x + i) + (to_float(q >> 4) - 8.0f) * xv(x + i + 16);
        acc += splat(kb_half(w)) * s;
    }
    return hsum(acc);
}

#if defined(KB_AVX2_HALVES)
#include "avx2_kernels.h" /* its own dot_q4_1 and dot_q8_0 */
#else
/* Q4_1: d, m (f16), 16 bytes; w = d q + m. Each weight is formed by one FMA and multiplied in by a
 * second: 9 vector operations per 32 weights where scaling the partial sums took 12 (the 4-bit
 * kernels are bound by these operations, not by memory, on one core). */
static float dot_q4_1(const uint8_t *w, const float *x, int n) {
    vf acc0 = {0}, acc1 = {0};
    for (int i = 0; i < n; i += 32, w += 20) {
        prefetch_ahead(w);
        vi q = load_u8(w + 4);
        vf d = splat(kb_half(w)), m = splat(kb_half(w + 2));
        acc0 += (d * to_float(q & 15) + m) * xv(x + i);
        acc1 += (d * to_float(q >> 4) + m) * xv(x + i + 16);
    }
    return hsum(acc0 + acc1);
}

#endif

/* Q5_0: d, qh (32 bits: bit j is value j's fifth bit), 16 bytes; w = d (q - 16). */
static float dot_q5_0(const uint8_t *w, const float *x, int n) {
    vf acc = {0};
    for (int i = 0; i < n; i += 32, w += 22) {
        prefetch_ahead(w);
        uint32_t qh;
        memcpy(&qh, w + 2, 4);
        vi q = load_u8(w + 6), h = (vi){0} + (int32_t)qh;
        vi lo = (q & 15) | (((h >> LANE_INDEX) & 1) << 4);
        vi hi = (q >> 4) | ((((h >> 16) >> LANE_INDEX) & 1) << 4);
        acc += splat(kb_half(w)) * ((to_float(lo) - 16.0f) * xv(x + i) + (to_float(hi) - 16.0f) * xv(x + i + 16));
    }
    return hsum(acc);
}

/* Q5_1: d, m, qh, 16 bytes; w = d q + m. */
static float dot_q5_1(const uint8_t *w, const float *x, int n) {
    vf acc = {0}, acc_m = {0};
    for (int i = 0; i < n; i += 32, w += 24) {
        prefetch_ahead(w);
        uint32_t qh;
        memcpy(&qh, w + 4, 4);
        vi q = load_u8(w + 8), h = (vi){0} + (int32_t)(qh & 0xffff), h2 = (vi){0} + (int32_t)(qh >> 16);
        vi lo = (q & 15) | (((h >> LANE_INDEX) & 1) << 4);
        vi hi = (q >> 4) | (((h2 >> LANE_INDEX) & 1) << 4);
        vf x0 = xv(x + i), x1 = xv(x + i + 16);
        acc += splat(kb_half(w)) * (to_float(lo) * x0 + to_float(hi) * x1);
        acc_m += splat(kb_half(w + 2)) * (x0 + x1);
    }
    return hsum(acc + acc_m);
}

#if !defined(KB_AVX2_HALVES)
/* Q8_0: d, 32 int8; w = d q. */
static float dot_q8_0(const uint8_t *w, const float *x, int n) {
    vf acc = {0};
    for (int i = 0; i < n; i += 32, w += 34) {
        prefetch_ahead(w);
        vf s = load_i8((const int8_t *)w + 2) * xv(x + i) + load_i8((const int8_t *)w + 18) * xv(x + i + 16);
        acc += splat(kb_half(w)) * s;
    }
    return hsum(acc);
}
#endif

/* The 6-bit scale and min of sub-block j of a Q4_K / Q5_K super-block (ggml's get_scale_min_k4). */
static inline void scale_min_k4(int j, const uint8_t *q, int *scale, int *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K: 256 values: d, dmin (f16), 12 bytes of scales/mins, 128 bytes; 32-byte group g holds
 * sub-block 2g in its low nibbles and 2g + 1 in its high ones; w = d sc q - dmin m. */
static float dot_q4_k(const uint8_t *w, const float *x, int n) {
    vf acc0 = {0}, acc1 = {0};
    for (int i = 0; i < n; i += 256, w += 144) {
        prefetch_ahead(w);
        prefetch_ahead(w + 64);
        float d = kb_half(w), dmin = kb_half(w + 2);
        const uint8_t *qs = w + 16;
        for (int g = 0; g < 4; g++, qs += 32) {
            int sc0, m0, sc1, m1;
            scale_min_k4(2 * g, w + 4, &sc0, &m0);
            scale_min_k4(2 * g + 1, w + 4, &sc1, &m1);
            const float *xa = x + i + 64 * g, *xb = xa + 32;
            vi qa = load_u8(qs), qb = load_u8(qs + 16);
            vf a0 = splat(d * (float)sc0), b0 = splat(-(dmin * (float)m0));
            vf a1 = splat(d * (float)sc1), b1 = splat(-(dmin * (float)m1));
            acc0 += (a0 * to_float(qa & 15) + b0) * xv(xa) + (a0 * to_float(qb & 15) + b0) * xv(xa + 16);
            acc1 += (a1 * to_float(qa >> 4) + b1) * xv(xb) + (a1 * to_float(qb >> 4) + b1) * xv(xb + 16);
        }
    }
    return hsum(acc0 + acc1);
}

/* Q5_K: as Q4_K plus 32 bytes qh: bit s of qh[l] is the fifth bit of value l of sub-block s. */
static float dot_q5_k(const uint8_t *w, const float *x, int n) {
    vf acc = {0};
    for (int i = 0; i < n; i += 256, w += 176) {
        prefetch_ahead(w);
        prefetch_ahead(w + 64);
        prefetch_ahead(w + 128);
        float d = kb_half(w), dmin = kb_half(w + 2);
        const uint8_t *qh = w + 16, *qs = w + 48;
        vi h0 = load_u8(qh), h1 = load_u8(qh + 16);
        for (int g = 0; g < 4; g++, qs += 32) {
            int sc0, m0, sc1, m1;
            scale_min_k4(2 * g, w + 4, &sc0, &m0);
            scale_min_k4(2 * g + 1, w + 4, &sc1, &m1);
            const float *xa = x + i + 64 * g, *xb = xa + 32;
            vi qa = load_u8(qs), qb = load_u8(qs + 16);
            vi a0 = (qa & 15) | (((h0 >> (2 * g)) & 1) << 4), a1 = (qb & 15) | (((h1 >> (2 * g)) & 1) << 4);
            vi b0 = (qa >> 4) | (((h0 >> (2 * g + 1)) & 1) << 4), b1 = (qb >> 4) | (((h1 >> (2 * g + 1)) & 1) << 4);
            vf xa0 = xv(xa), xa1 = xv(xa + 16), xb0 = xv(xb), xb1 = xv(xb + 16);
            acc += splat(d * (float)sc0) * (to_float(a0) * xa0 + to_float(a1) * xa1);
            acc += splat(d * (float)sc1) * (to_float(b0) * xb0 + to_float(b1) * xb1);
            acc -= splat(dmin * (float)m0) * (xa0 + xa1) + splat(dmin * (float)m1) * (xb0 + xb1);
        }
    }
    return hsum(acc);
}

/* Q6_K: 256 values: 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 int8 scales (one per 16
 * values), d (f16). In each half of 128 values, group g's value l takes ql[l + 32 (g & 1)]'s
 * nibble (g < 2 low, else high) and bits 2g..2g+1 of qh[l]; w = d sc (q - 32). */
static float dot_q6_k(const uint8_t *w, const float *x, int n) {
    vf acc = {0};
    for (int i = 0; i < n; i += 256, w += 210) {
        prefetch_ahead(w);
        prefetch_ahead(w + 64);
        prefetch_ahead(w + 128);
        float d = kb_half(w + 208);
        const int8_t *sc = (const int8_t *)(w + 192);
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = w + 64 * half, *qh = w + 128 + 32 * half;
            for (int part = 0; part < 2; part++) { /* values l = 16 part .. 16 part + 15 of each group */
                vi l0 = load_u8(ql + 16 * part), l1 = load_u8(ql + 32 + 16 * part), h = load_u8(qh + 16 * part);
                vi q[4] = {(l0 & 15) | ((h & 3) << 4), (l1 & 15) | (((h >> 2) & 3) << 4),
                           (l0 >> 4) | (((h >> 4) & 3) << 4), (l1 >> 4) | (((h >> 6) & 3) << 4)};
                for (int g = 0; g < 4; g++) { /* the weight d sc (q - 32) as one FMA */
                    int at = 128 * half + 32 * g + 16 * part;
                    float scale = d * (float)sc[at / 16];
                    acc += (splat(scale) * to_float(q[g]) + splat(-32.0f * scale)) * xv(x + i + at);
                }
            }
        }
    }
    return hsum(acc);
}

static inline float dot_f32_row(const uint8_t *w, const float *x, int n) { return dot1_f32((const float *)w, x, n); }

typedef float (*RowDot)(const uint8_t *, const float *, int);

static inline RowDot row_dot_for(int type) {
    switch (type) {
    case KB_F32: return dot_f32_row;
    case KB_Q4_0: return dot_q4_0;
    case KB_Q4_1: return dot_q4_1;
    case KB_Q5_0: return dot_q5_0;
    case KB_Q5_1: return dot_q5_1;
    case KB_Q8_0: return dot_q8_0;
    case KB_Q4_K: return dot_q4_k;
    case KB_Q5_K: return dot_q5_k;
    case KB_Q6_K: return dot_q6_k;
    default: return NULL;
    }
}

/* Where row `row` of the matrix starts, and its part's type. */
static inline const uint8_t *quant_row_at(const QuantMatrix *m, int row, int *type) {
    int r = row, p = 0;
    while (p < m->n_parts - 1 && r >= m->part_rows[p]) r -= m->part_rows[p++];
    *type = m->part_type[p];
    return m->part_data[p] + (size_t)r * m->part_row_bytes[p];
}

/* Row `row` of the quantised matrix times x[b] for every b (+ its bias). */
static inline void quant_row_times(const QuantMatrix *m, const float *x, int batch, int row, float *out) {
    int type;
    const uint8_t *w = quant_row_at(m, row, &type);
    RowDot dot = row_dot_for(type);
    float bias = m->bias ? m->bias[row] : 0.0f;
    for (int b = 0; b < batch; b++) out[b] = dot(w, x + (size_t)b * m->cols, m->cols) + bias;
}

/* ---- dequantising: one row of blocks -> n floats, each value computed as gguf.quants computes it
 * (no fused multiply-add, so the values are bit for bit gguf's). For the embedding lookup and for
 * prefill, which multiplies whole dequantised layers (model/gguf_quant.py). */

#define KB_EXACT __attribute__((optimize("fp-contract=off")))

static KB_EXACT void dequant_q4_0(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 32, w += 18) {
        float d = kb_half(w);
        for (int j = 0; j < 16; j++) {
            y[i + j] = d * (float)((w[2 + j] & 15) - 8);
            y[i + j + 16] = d * (float)((w[2 + j] >> 4) - 8);
        }
    }
}

static KB_EXACT void dequant_q4_1(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 32, w += 20) {
        float d = kb_half(w), m = kb_half(w + 2);
        for (int j = 0; j < 16; j++) {
            y[i + j] = d * (float)(w[4 + j] & 15) + m;
            y[i + j + 16] = d * (float)(w[4 + j] >> 4) + m;
        }
    }
}

static KB_EXACT void dequant_q5_0(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 32, w += 22) {
        float d = kb_half(w);
        uint32_t qh;
        memcpy(&qh, w + 2, 4);
        for (int j = 0; j < 16; j++) {
            y[i + j] = d * (float)((int)((w[6 + j] & 15) | (((qh >> j) & 1) << 4)) - 16); /* qh is unsigned */
            y[i + j + 16] = d * (float)((int)((w[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
        }
    }
}

static KB_EXACT void dequant_q5_1(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 32, w += 24) {
        float d = kb_half(w), m = kb_half(w + 2);
        uint32_t qh;
        memcpy(&qh, w + 4, 4);
        for (int j = 0; j < 16; j++) {
            y[i + j] = d * (float)((w[8 + j] & 15) | (((qh >> j) & 1) << 4)) + m;
            y[i + j + 16] = d * (float)((w[8 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) + m;
        }
    }
}

static KB_EXACT void dequant_q8_0(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 32, w += 34) {
        float d = kb_half(w);
        for (int j = 0; j < 32; j++) y[i + j] = d * (float)((const int8_t *)w)[2 + j];
    }
}

/* Q4_K (high_bits NULL) and Q5_K: sub-block s = 2g + (nibble high), value l: d sc q - dmin m. */
static KB_EXACT void dequant_k4(const uint8_t *w, const uint8_t *qs, const uint8_t *high_bits, float *y) {
    float d = kb_half(w), dmin = kb_half(w + 2);
    for (int s = 0; s < 8; s++) {
        int sc, m;
        scale_min_k4(s, w + 4, &sc, &m);
        float scale = d * (float)sc, shift = dmin * (float)m;
        const uint8_t *q = qs + 32 * (s / 2);
        for (int l = 0; l < 32; l++) {
            int v = (s & 1) ? q[l] >> 4 : q[l] & 15;
            if (high_bits) v |= ((high_bits[l] >> s) & 1) << 4;
            y[32 * s + l] = scale * (float)v - shift;
        }
    }
}

static void dequant_q4_k(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 256, w += 144) dequant_k4(w, w + 16, NULL, y + i);
}

static void dequant_q5_k(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 256, w += 176) dequant_k4(w, w + 48, w + 16, y + i);
}

static KB_EXACT void dequant_q6_k(const uint8_t *w, float *y, int n) {
    for (int i = 0; i < n; i += 256, w += 210) {
        float d = kb_half(w + 208);
        const int8_t *sc = (const int8_t *)(w + 192);
        for (int at = 0; at < 256; at++) {
            int half = at / 128, g = (at % 128) / 32, l = at % 32;
            uint8_t low = w[64 * half + l + 32 * (g & 1)], high = w[128 + 32 * half + l];
            int q = ((g < 2 ? low & 15 : low >> 4) | (((high >> (2 * g)) & 3) << 4)) - 32;
            y[i + at] = (d * (float)sc[at / 16]) * (float)q;
        }
    }
}

static void dequant_f32(const uint8_t *w, float *y, int n) { memcpy(y, w, (size_t)n * sizeof(float)); }

typedef void (*RowDequant)(const uint8_t *, float *, int);

static inline RowDequant row_dequant_for(int type) {
    switch (type) {
    case KB_F32: return dequant_f32;
    case KB_Q4_0: return dequant_q4_0;
    case KB_Q4_1: return dequant_q4_1;
    case KB_Q5_0: return dequant_q5_0;
    case KB_Q5_1: return dequant_q5_1;
    case KB_Q8_0: return dequant_q8_0;
    case KB_Q4_K: return dequant_q4_k;
    case KB_Q5_K: return dequant_q5_k;
    case KB_Q6_K: return dequant_q6_k;
    default: return NULL;
    }
}

static void dequant_row(int type, const uint8_t *w, int n, float *out) { row_dequant_for(type)(w, out, n); }

/* ---- entry points for prefill and the parity tests (model/native_quant.py): one thread, no model. */

KB_API int kb_quant_matvec(int type, const uint8_t *w, int rows, int cols, int64_t row_bytes, const float *x,
                           float *out) {
    RowDot dot = row_dot_for(type);
    if (!dot) return -1;
    for (int r = 0; r < rows; r++) out[r] = dot(w + (size_t)r * row_bytes, x, cols);
    return 0;
}

KB_API int kb_quant_dequant_rows(int type, const uint8_t *w, int rows, int cols, int64_t row_bytes, float *out) {
    RowDequant dequant = row_dequant_for(type);
    if (!dequant) return -1;
    for (int r = 0; r < rows; r++) dequant(w + (size_t)r * row_bytes, out + (size_t)r * cols, cols);
    return 0;
}
