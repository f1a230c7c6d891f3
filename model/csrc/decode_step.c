/* One decode step of the Llama decoder (model/model.py) for B rows, on CPU, fp32 activations with
 * fp32, int8 (per-row scaled) or GGUF-quantised (quant_kernels.h) weights. Each row has its own
 * position and its own row (slot) of the KV cache: beam search passes one position for all, the
 * batching scheduler (model/batching.py) one per request.
 *
 * Why: a decode step is a chain of ~10 small kernels per layer. Run through PyTorch (even compiled)
 * each kernel forks and joins the thread pool and the weights stream at well under the memory
 * bandwidth. Here the whole step is one parallel region: every thread takes its share of each matrix's
 * rows and the threads meet at a spin barrier between dependent stages, so the step costs little more
 * than reading the weights once.
 *
 * The maths is model.py's, in the same order (RMSNorm, fused qkv, half-split rotary, grouped-query
 * attention over the static KV cache, SwiGLU with fused gate/up, tied or untied head); only the order
 * of the float additions inside dot products differs. Built at run time by model/native.py with the
 * machine's own instruction set (-march=native); GCC vector extensions keep it portable. Batched
 * steps on GGUF Q4_1 / Q8_0 blocks use AMX tiles in bf16 where the CPU and kernel offer them, else
 * AVX-512 VNNI on weights repacked into strips (strip_kernels.h), else AVX-512 BF16; CPUs with AVX2
 * but not AVX-512 take 8-lane kernels for them (avx2_kernels.h).
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define KB_API __attribute__((visibility("default")))
#define MAX_THREADS 64
#define MAX_BATCH 64
#define LANES 16
/* Weights are prefetched this far ahead of the row being read: measured on the int8 step, one
 * thread streams 6.9 GB/s with the hardware prefetcher alone and 11.6 with this (two threads reach
 * the machine's ~23.5 GB/s); from 4 KB to 16 KB the gain is the same. */
#define PREFETCH_BYTES 8192
#define prefetch_ahead(p) __builtin_prefetch((const char *)(p) + PREFETCH_BYTES)

typedef float vf __attribute__((vector_size(LANES * 4), aligned(4)));      /* unaligned loads */
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));

/* A 16-lane vf has no register where AVX-512 is missing: the hot kernels take 8 lanes there. */
#if defined(__AVX2__) && !defined(__AVX512F__)
#define KB_AVX2_HALVES 1
typedef float vf8u __attribute__((vector_size(32), aligned(4))); /* unaligned loads */
#endif

struct QuantMatrix; /* quant_kernels.h: a GGUF-quantised matrix, read as stored */

/* Mirrors class LayerWeights in model/native.py. scale pointers are NULL for fp32 weights; the
 * *_q matrices, when set, replace the plain weight (GGUF blocks, model/native_quant.py). */
typedef struct {
    const void *wqkv, *wo, *w13, *w2;
    const float *wqkv_scale, *wo_scale, *w13_scale, *w2_scale;
    const float *attn_norm, *ffn_norm;
    float *k_cache, *v_cache; /* [cache_batch, n_kv_heads, cache_seq, head_dim] */
    const struct QuantMatrix *wqkv_q, *wo_q, *w13_q, *w2_q;
} LayerWeights;

/* Mirrors class ModelWeights in model/native.py. */
typedef struct {
    int32_t dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab;
    int32_t quantized; /* 1: the linear weights are int8 with per-row float scales */
    int32_t cache_seq, cache_batch;
    float eps;
    const float *embed; /* [vocab, dim] */
    const float *final_norm;
    const void *head;
    const float *head_scale;
    const LayerWeights *layers;
    const struct QuantMatrix *embed_q, *head_q; /* set for GGUF blocks: replace embed / head */
} ModelWeights;

/* ---------------------------------------------------------------- thread pool and barrier */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spin first (a barrier is usually met within microseconds), then give the core away: when the
 * machine has more runnable threads than cores (HTTP threads, other processes), a thread spinning
 * for a descheduled partner would burn its whole time slice; measured 5x slower steps without this. */
#define SPINS_BEFORE_YIELD 2000
static inline void wait_turn(int spins) {
    if (spins < SPINS_BEFORE_YIELD) cpu_relax();
    else sched_yield();
}

typedef struct {
    atomic_int count;
    atomic_int phase;
    int n;
} SpinBarrier;

static void barrier_wait(SpinBarrier *b) {
    if (b->n == 1) return;
    int phase = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
    } else {
        for (int spins = 0; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; spins++) wait_turn(spins);
    }
}

typedef struct Step Step;
static void run_step(Step *step, int thread);

/* Workers spin briefly for the next step (the gap between tokens is short), then sleep. */
#define IDLE_SPINS 20000

static struct {
    int n_threads; /* workers + the calling thread */
    pid_t owner;   /* threads do not survive fork(): a child builds its own pool */
    pthread_t workers[MAX_THREADS];
    atomic_int generation, finished, quit;
    int base_generation; /* generation when the workers were started: the first one they wait past */
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    pthread_mutex_t one_step; /* the pool serves one step at a time: ctypes calls release the GIL */
    Step *step;
} pool = {.mutex = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .one_step = PTHREAD_MUTEX_INITIALIZER};

static void *worker_main(void *arg) {
    int thread = (int)(intptr_t)arg;
    int seen = pool.base_generation; /* not the live value: the first step may already have begun */
    for (;;) {
        for (int i = 0; i < IDLE_SPINS && atomic_load(&pool.generation) == seen; i++) cpu_relax();
        if (atomic_load(&pool.generation) == seen) {
            pthread_mutex_lock(&pool.mutex);
            while (atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.wake, &pool.mutex);
            pthread_mutex_unlock(&pool.mutex);
        }
        seen = atomic_load(&pool.generation);
        if (atomic_load(&pool.quit)) return NULL;
        run_step(pool.step, thread);
        atomic_fetch_add(&pool.finished, 1);
    }
}

static void stop_pool(void) {
    if (pool.n_threads <= 1 || pool.owner != getpid()) {
        pool.n_threads = 0;
        return;
    }
    pthread_mutex_lock(&pool.mutex);
    atomic_store(&pool.quit, 1);
    atomic_fetch_add(&pool.generation, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mutex);
    for (int t = 1; t < pool.n_threads; t++) pthread_join(pool.workers[t], NULL);
    atomic_store(&pool.quit, 0);
    pool.n_threads = 0;
}

static int ensure_pool(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
    if (pool.n_threads == n_threads && pool.owner == getpid()) return n_threads;
    stop_pool();
    pool.owner = getpid();
    pool.n_threads = 1;
    pool.base_generation = atomic_load(&pool.generation);
    for (int t = 1; t < n_threads; t++) {
        if (pthread_create(&pool.workers[t], NULL, worker_main, (void *)(intptr_t)t) != 0) break;
        pool.n_threads = t + 1;
    }
    return pool.n_threads;
}

/* ---------------------------------------------------------------- kernels */

static inline float hsum8(vf8 half) {
    vf4 quarter = __builtin_shufflevector(half, half, 0, 1, 2, 3) + __builtin_shufflevector(half, half, 4, 5, 6, 7);
    return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

static inline float hsum(vf v) {
    vf8 half = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    vf4 quarter = __builtin_shufflevector(half, half, 0, 1, 2, 3) + __builtin_shufflevector(half, half, 4, 5, 6, 7);
    return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

/* 16 int8 weights as floats. GCC scalarises __builtin_convertvector from chars, hence intrinsics. */
static inline vf load_i8(const int8_t *p) {
    vf out;
#if defined(__AVX512F__)
    __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
    memcpy(&out, &f, sizeof out);
#elif defined(__AVX2__)
    __m128i bytes = _mm_loadu_si128((const __m128i *)p);
    __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
    __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8)));
    memcpy(&out, &lo, sizeof lo);
    memcpy((char *)&out + sizeof lo, &hi, sizeof hi);
#else
    for (int i = 0; i < LANES; i++) out[i] = (float)p[i];
#endif
    return out;
}

/* dot(w_row, x) for one activation row: two accumulators keep the FMA pipes busy (attention). */
static inline float dot1_f32(const float *w, const float *x, int k) {
    vf a0 = {0}, a1 = {0};
    int i = 0;
    for (; i + 2 * LANES <= k; i += 2 * LANES) {
        a0 += *(const vf *)(w + i) * *(const vf *)(x + i);
        a1 += *(const vf *)(w + i + LANES) * *(const vf *)(x + i + LANES);
    }
    for (; i + LANES <= k; i += LANES) a0 += *(const vf *)(w + i) * *(const vf *)(x + i);
    float s = hsum(a0 + a1);
    for (; i < k; i++) s += w[i] * x[i];
    return s;
}

/* A tile of ROWS weight rows times TB activation rows. Each weight chunk is loaded (and for int8
 * converted) once and multiplied into every activation row, so a batch costs little more than one
 * row until the FMA units are busy. Every (weight row, activation row) pair has its own accumulator
 * and sums its chunks in the same order whatever the tile's shape: a request's logits are bit for
 * bit the same alone or in a batch (model/batching.py relies on it for greedy decoding).
 * ROWS * TB accumulators stay in registers (4 x 4 = 16 of AVX-512's 32). */
#define TILE_ROWS 4
#define TILE_BATCH 4

#if !defined(KB_AVX2_HALVES)
static inline __attribute__((always_inline)) void tile_f32(const float *w, int k, const float *x, int tb,
                                                           int rows, float *out /* [rows][TILE_BATCH] */) {
    vf acc[TILE_ROWS][TILE_BATCH] = {{{0}}};
    int i = 0;
    for (; i + LANES <= k; i += LANES) {
        for (int r = 0; r < rows; r++) {
            const float *wr = w + (size_t)r * k + i;
            prefetch_ahead(wr);
            vf wv = *(const vf *)wr;
            for (int b = 0; b < tb; b++) acc[r][b] += wv * *(const vf *)(x + (size_t)b * k + i);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < tb; b++) {
            float s = hsum(acc[r][b]);
            for (int j = i; j < k; j++) s += w[(size_t)r * k + j] * x[(size_t)b * k + j];
            out[r * TILE_BATCH + b] = s;
        }
}

static inline __attribute__((always_inline)) void tile_i8(const int8_t *w, int k, const float *x, int tb,
                                                          int rows, float *out) {
    vf acc[TILE_ROWS][TILE_BATCH] = {{{0}}};
    int i = 0;
    for (; i + LANES <= k; i += LANES) {
        for (int r = 0; r < rows; r++) {
            const int8_t *wr = w + (size_t)r * k + i;
            prefetch_ahead(wr);
            vf wv = load_i8(wr);
            for (int b = 0; b < tb; b++) acc[r][b] += wv * *(const vf *)(x + (size_t)b * k + i);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < tb; b++) {
            float s = hsum(acc[r][b]);
            for (int j = i; j < k; j++) s += (float)w[(size_t)r * k + j] * x[(size_t)b * k + j];
            out[r * TILE_BATCH + b] = s;
        }
}

#else
/* tile_f32 and tile_i8 on 8-lane vectors (see KB_AVX2_HALVES): each (weight row, activation row)
 * pair has its own accumulator, summed in the same order whatever the tile's shape. */
static inline __attribute__((always_inline)) void tile8(int quantized, const void *w, int k, const float *x, int tb,
                                                        int rows, float *out /* [rows][TILE_BATCH] */) {
    vf8 acc[TILE_ROWS][TILE_BATCH] = {{{0}}};
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        for (int r = 0; r < rows; r++) {
            vf8 wv;
            if (quantized) {
                const int8_t *wr = (const int8_t *)w + (size_t)r * k + i;
                prefetch_ahead(wr);
                wv = (vf8)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)wr)));
            } else {
                const float *wr = (const float *)w + (size_t)r * k + i;
                prefetch_ahead(wr);
                wv = *(const vf8u *)wr;
            }
            for (int b = 0; b < tb; b++) acc[r][b] += wv * *(const vf8u *)(x + (size_t)b * k + i);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < tb; b++) {
            float s = hsum8(acc[r][b]);
            for (int j = i; j < k; j++)
                s += (quantized ? (float)((const int8_t *)w)[(size_t)r * k + j] : ((const float *)w)[(size_t)r * k + j]) *
                     x[(size_t)b * k + j];
            out[r * TILE_BATCH + b] = s;
        }
}

static inline __attribute__((always_inline)) void tile_f32(const float *w, int k, const float *x, int tb,
                                                           int rows, float *out) {
    tile8(0, w, k, x, tb, rows, out);
}

static inline __attribute__((always_inline)) void tile_i8(const int8_t *w, int k, const float *x, int tb,
                                                          int rows, float *out) {
    tile8(1, w, k, x, tb, rows, out);
}
#endif

/* Full tiles get a constant shape (the loops unroll into registers); edges take the general one. */
static void tile(const void *w, int quantized, int k, const float *x, int tb, int rows, float *out) {
    if (quantized) {
        if (rows == TILE_ROWS && tb == TILE_BATCH) tile_i8(w, k, x, TILE_BATCH, TILE_ROWS, out);
        else if (rows == TILE_ROWS && tb == 1) tile_i8(w, k, x, 1, TILE_ROWS, out);
        else tile_i8(w, k, x, tb, rows, out);
    } else {
        if (rows == TILE_ROWS && tb == TILE_BATCH) tile_f32(w, k, x, TILE_BATCH, TILE_ROWS, out);
        else if (rows == TILE_ROWS && tb == 1) tile_f32(w, k, x, 1, TILE_ROWS, out);
        else tile_f32(w, k, x, tb, rows, out);
    }
}

#include "quant_kernels.h" /* with avx2_kernels.h where KB_AVX2_HALVES */

/* One row of GGUF blocks times tb activation rows: each block's weights are formed once (as the
 * block products form them) and multiplied into every row, each row with its own accumulators
 * summed in the same order whatever tb is. Up to QUANT_BATCH rows at once: forming the weights is
 * most of the work, and 8 rows' accumulators still fit AVX-512's registers (16 spilled: slower).
 * Where KB_AVX2_HALVES, avx2_kernels.h's 8-lane kernel serves both types, AVX2_BATCH rows at once. */
#if defined(KB_AVX2_HALVES)
#define QUANT_BATCH AVX2_BATCH
static inline __attribute__((always_inline)) void rows_q4_1(const uint8_t *w, const float *x, int k, int tb,
                                                            float *out) {
    rows_formed(1, w, x, k, tb, out);
}

static inline __attribute__((always_inline)) void rows_q8_0(const uint8_t *w, const float *x, int k, int tb,
                                                            float *out) {
    rows_formed(0, w, x, k, tb, out);
}
#else
#define QUANT_BATCH 8
static inline __attribute__((always_inline)) void rows_q4_1(const uint8_t *w, const float *x, int k, int tb,
                                                            float *out) {
    vf acc0[QUANT_BATCH] = {{0}}, acc1[QUANT_BATCH] = {{0}};
    for (int i = 0; i < k; i += 32, w += 20) {
        prefetch_ahead(w);
        vi q = load_u8(w + 4);
        vf d = splat(kb_half(w)), m = splat(kb_half(w + 2));
        vf lo = d * to_float(q & 15) + m, hi = d * to_float(q >> 4) + m;
        for (int b = 0; b < tb; b++) {
            acc0[b] += lo * xv(x + (size_t)b * k + i);
            acc1[b] += hi * xv(x + (size_t)b * k + i + 16);
        }
    }
    for (int b = 0; b < tb; b++) out[b] = hsum(acc0[b] + acc1[b]);
}

static inline __attribute__((always_inline)) void rows_q8_0(const uint8_t *w, const float *x, int k, int tb,
                                                            float *out) {
    vf acc[QUANT_BATCH] = {{0}};
    for (int i = 0; i < k; i += 32, w += 34) {
        prefetch_ahead(w);
        vf d = splat(kb_half(w));
        vf lo = d * load_i8((const int8_t *)w + 2), hi = d * load_i8((const int8_t *)w + 18);
        for (int b = 0; b < tb; b++) acc[b] += lo * xv(x + (size_t)b * k + i) + hi * xv(x + (size_t)b * k + i + 16);
    }
    for (int b = 0; b < tb; b++) out[b] = hsum(acc[b]);
}
#endif

/* Row `row` of a quantised matrix times every activation row (requests decoded together). Q4_1 and
 * Q8_0 rows go through the fused kernels above; other types are dequantised once into `rowbuf` and
 * multiplied as fp32. */
static void quant_row_batch(const QuantMatrix *qm, int row, const float *x, int batch, float *rowbuf, float *out) {
    int type, k = qm->cols;
    const uint8_t *w = quant_row_at(qm, row, &type);
    if (type != KB_Q4_1 && type != KB_Q8_0) dequant_row(type, w, k, rowbuf);
    float dots[TILE_ROWS * TILE_BATCH];
    int group = type == KB_Q4_1 || type == KB_Q8_0 ? QUANT_BATCH : TILE_BATCH;
    for (int b0 = 0; b0 < batch; b0 += group) {
        int tb = batch - b0 < group ? batch - b0 : group;
        const float *xb = x + (size_t)b0 * k;
        if (type == KB_Q4_1) {
            if (tb == QUANT_BATCH) rows_q4_1(w, xb, k, QUANT_BATCH, out + b0);
            else if (tb == 1) rows_q4_1(w, xb, k, 1, out + b0);
            else rows_q4_1(w, xb, k, tb, out + b0);
        } else if (type == KB_Q8_0) {
            if (tb == QUANT_BATCH) rows_q8_0(w, xb, k, QUANT_BATCH, out + b0);
            else if (tb == 1) rows_q8_0(w, xb, k, 1, out + b0);
            else rows_q8_0(w, xb, k, tb, out + b0);
        } else {
            tile(rowbuf, 0, k, xb, tb, 1, dots);
            for (int b = 0; b < tb; b++) out[b0 + b] = dots[b];
        }
    }
    if (qm->bias)
        for (int b = 0; b < batch; b++) out[b] += qm->bias[row];
}

/* Test entry point: rows x cols of one block type times `batch` activation rows through the batched
 * kernels above, out [batch, rows]; one thread, no model. */
KB_API int kb_quant_rows_batch(int type, const uint8_t *w, int rows, int cols, int64_t row_bytes, const float *x,
                               int batch, float *out) {
    if (batch < 1 || batch > MAX_BATCH || !row_dequant_for(type)) return -1;
    QuantMatrix qm = {.n_parts = 1, .cols = cols, .part_type = {type}, .part_rows = {rows},
                      .part_row_bytes = {row_bytes}, .part_data = {w}};
    float *rowbuf = malloc(sizeof(float) * (size_t)cols), dots[MAX_BATCH];
    if (!rowbuf) return -1;
    for (int r = 0; r < rows; r++) {
        quant_row_batch(&qm, r, x, batch, rowbuf, dots);
        for (int b = 0; b < batch; b++) out[(size_t)b * rows + r] = dots[b];
    }
    free(rowbuf);
    return 0;
}

#include "q8_kernels.h"

/* Row `row` of a quantised matrix times every activation row on 8-bit activations (xq: `batch` rows
 * of k / 256 blocks); 0 where its part has no such kernel (the caller's fp32 path serves it). */
static int quant_row_q8(const QuantMatrix *qm, int row, const Q8Block *xq, int batch, float *out) {
    int type;
    const uint8_t *w = quant_row_at(qm, row, &type);
    RowDotQ8 dot = xq ? row_dot_q8_for(type) : NULL;
    if (!dot) return 0;
    float bias = qm->bias ? qm->bias[row] : 0.0f;
    for (int b = 0; b < batch; b++) out[b] = dot(w, xq + (size_t)b * (qm->cols / 256), qm->cols) + bias;
    return 1;
}

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
/* ---- bf16 products for a batch of requests' rows on GGUF Q4_1 / Q8_0 blocks, where the CPU has
 * AVX-512 BF16 (AMD Zen 4, Intel Cooper Lake and later); AMX tiles below take over where they exist.
 *
 * Why: the fused fp32 kernels above form each weight once but spend two FMAs per 32 weights for
 * every activation row, so 16 rows cost ~6x one (measured on Zen 4: 16 rows 59.8 ms, one 9.7). Here
 * a strip of weight rows is formed once in bf16 and each activation row (rounded to bf16 once per
 * matrix) takes one VDPBF16PS per 32 weights. The numerics are the AMX path's: weights formed in
 * fp32 as the block products form them and rounded to bf16 once, products summed in fp32. Each
 * (weight row, activation row) pair has one accumulator over the blocks in order, whatever the
 * batch, so tokens stay the same batched or alone. */
#define KB_BF16_BATCH 1

static int bf16_fits(const QuantMatrix *qm) {
    if (qm->cols % 32) return 0;
    for (int p = 0; p < qm->n_parts; p++)
        if (qm->part_type[p] != KB_Q4_1 && qm->part_type[p] != KB_Q8_0) return 0;
    return 1;
}

/* One Q4_1 or Q8_0 block's 32 weights in bf16, in order (Q4_1: low nibbles are values 0..15). */
static inline __m512bh form_bf16(int type, const uint8_t *block) {
    if (type == KB_Q4_1) {
        vi q = load_u8(block + 4);
        int32_t halves; /* d and m converted together: forming is most of this path's work */
        memcpy(&halves, block, 4);
        __m512 dm = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(halves)));
        vf d = (vf)_mm512_broadcastss_ps(_mm512_castps512_ps128(dm));
        vf m = (vf)_mm512_permutexvar_ps(_mm512_set1_epi32(1), dm);
        return _mm512_cvtne2ps_pbh((__m512)(d * to_float(q >> 4) + m), (__m512)(d * to_float(q & 15) + m));
    }
    vf d = splat(kb_half(block));
    return _mm512_cvtne2ps_pbh((__m512)(d * load_i8((const int8_t *)block + 18)),
                               (__m512)(d * load_i8((const int8_t *)block + 2)));
}

/* Row `row` of qm (all Q4_1 / Q8_0) formed in bf16: block i's 32 weights at to + i * stride. */
static void form_row_bf16(const QuantMatrix *qm, int row, int blocks, uint16_t *to, size_t stride) {
    int type;
    const uint8_t *block = quant_row_at(qm, row, &type);
    int block_bytes = type == KB_Q4_1 ? 20 : 34;
    for (int i = 0; i < blocks; i++, block += block_bytes, to += stride) {
        prefetch_ahead(block);
        _mm512_storeu_si512(to, (__m512i)form_bf16(type, block));
    }
}

/* This thread's bf16 scratch (formed strip, activations), grown as needed: pool threads live long. */
static __thread uint16_t *bf16_scratch;
static __thread size_t bf16_capacity;

static uint16_t *bf16_buffer(size_t values) {
    if (values > bf16_capacity) {
        uint16_t *grown = realloc(bf16_scratch, values * sizeof(uint16_t));
        if (!grown) return NULL;
        bf16_scratch = grown;
        bf16_capacity = values;
    }
    return bf16_scratch;
}

/* TILE_ROWS formed weight rows times up to TILE_BATCH bf16 activation rows. */
static inline __attribute__((always_inline)) void tile_bf16(const uint16_t *w, int k, const uint16_t *x, int tb,
                                                            int rows, float *out /* [rows][TILE_BATCH] */) {
    __m512 acc[TILE_ROWS][TILE_BATCH];
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < tb; b++) acc[r][b] = _mm512_setzero_ps();
    for (int i = 0; i < k; i += 32) {
        __m512bh xs[TILE_BATCH];
        for (int b = 0; b < tb; b++) xs[b] = (__m512bh)_mm512_loadu_si512(x + (size_t)b * k + i);
        for (int r = 0; r < rows; r++) {
            __m512bh wv = (__m512bh)_mm512_loadu_si512(w + (size_t)r * k + i);
            for (int b = 0; b < tb; b++) acc[r][b] = _mm512_dpbf16_ps(acc[r][b], wv, xs[b]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < tb; b++) out[r * TILE_BATCH + b] = _mm512_reduce_add_ps(acc[r][b]);
}

/* Weight rows row0 + [first, last) of qm times every activation row, as matvec_rows; 0 where the
 * scratch could not be had (the fp32 path serves). */
static int matvec_bf16(const QuantMatrix *qm, int row0, const float *x, int k, int batch, float *y, int n, int first,
                       int last, int accumulate) {
    uint16_t *formed = bf16_buffer((size_t)(TILE_ROWS + batch) * k), *acts = formed + (size_t)TILE_ROWS * k;
    if (!formed) return 0;
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < k; i += 32) {
            const float *values = x + (size_t)b * k + i;
            _mm512_storeu_si512(acts + (size_t)b * k + i,
                                (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(values + 16), _mm512_loadu_ps(values)));
        }
    float dots[TILE_ROWS * TILE_BATCH];
    for (int row = first; row < last; row += TILE_ROWS) {
        int rows = last - row < TILE_ROWS ? last - row : TILE_ROWS;
        for (int r = 0; r < rows; r++) form_row_bf16(qm, row0 + row + r, k / 32, formed + (size_t)r * k, 32);
        for (int b0 = 0; b0 < batch; b0 += TILE_BATCH) {
            int tb = batch - b0 < TILE_BATCH ? batch - b0 : TILE_BATCH;
            const uint16_t *xb = acts + (size_t)b0 * k;
            if (rows == TILE_ROWS && tb == TILE_BATCH) tile_bf16(formed, k, xb, TILE_BATCH, TILE_ROWS, dots);
            else if (rows == TILE_ROWS && tb == 1) tile_bf16(formed, k, xb, 1, TILE_ROWS, dots);
            else tile_bf16(formed, k, xb, tb, rows, dots);
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < tb; b++) {
                    float value = dots[r * TILE_BATCH + b] + (qm->bias ? qm->bias[row0 + row + r] : 0.0f);
                    float *out = y + (size_t)(b0 + b) * n + row + r;
                    *out = accumulate ? *out + value : value;
                }
        }
    }
    return 1;
}
#endif

#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(KB_BF16_BATCH) /* forms weights as above */
/* ---- AMX: a batch of requests' rows times GGUF Q4_1 / Q8_0 blocks in tiles.
 *
 * Why: the fused kernels above spend two FMAs per block for every activation row, so a step of 16
 * requests cost 5x a step of one. AMX multiplies a tile of 16 weight rows x 32 values by 16
 * activation rows in one instruction, so forming the weights (once per step, as above) is the
 * work left and 16 or 64 rows cost about what one does. Weights are formed in fp32 as the block
 * products form them and rounded to bf16 once; activations are rounded to bf16 once per matrix;
 * products are summed in fp32 by the tile unit. A row's sums do not depend on the other rows in the
 * tile, so tokens stay the same batched or alone. Linux hands out the tile registers on request
 * (arch_prctl), once per process. */
#include <sys/syscall.h>
#define KB_AMX 1
#define AMX_GROUPS (MAX_BATCH / 16) /* accumulator tiles 0..3, 16 activation rows each */
#define AMX_TILE_BYTES 1024

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

static atomic_int amx_state; /* 0: not asked yet, 1: granted, -1: refused */

static int amx_usable(void) {
    int state = atomic_load(&amx_state);
    if (state == 0) {
        state = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0 ? 1 : -1;
        atomic_store(&amx_state, state);
    }
    return state == 1;
}

/* The tile configuration is the thread's own state, and other code on the same thread (oneDNN's
 * bf16 kernels in PyTorch) may set its own or release the tiles, so each use configures them and
 * releases them after (a few cycles beside a matrix). */
static void amx_configure(void) {
    TileConfig config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) config.colsb[t] = 64, config.rows[t] = 16;
    _tile_loadconfig(&config);
}

/* x [batch, k] -> tiles of 16 value pairs x 16 activation rows x 2 bf16, one per (row group, block):
 * the layout TDPBF16PS takes its second operand in. Group g's tiles start at g * group_stride
 * (in uint16), whatever k, so the rows past `batch`, zeroed once per step, stay zero. */
static void amx_pack(const float *x, int k, int batch, size_t group_stride, uint16_t *packed) {
    int blocks = k / 32;
    const __m512i pair_rows = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(16));
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < blocks; i++) {
            const float *values = x + (size_t)b * k + (size_t)i * 32;
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(values + 16), _mm512_loadu_ps(values));
            uint32_t *tile = (uint32_t *)(packed + (size_t)(b / 16) * group_stride + (size_t)i * (AMX_TILE_BYTES / 2));
            _mm512_i32scatter_epi32(tile + b % 16, pair_rows, (__m512i)v, 4);
        }
}

/* Weight rows r0 .. r0 + rows of qm (rows <= 16), formed in bf16 into one tile per block. */
static void amx_form_strip(const QuantMatrix *qm, int r0, int rows, int blocks, uint16_t *formed) {
    for (int r = 0; r < rows; r++) /* row by row: the rows lie one after another in memory */
        form_row_bf16(qm, r0 + r, blocks, formed + r * 32, AMX_TILE_BYTES / 2);
    for (int r = rows; r < 16; r++)
        for (int i = 0; i < blocks; i++) memset(formed + (size_t)i * (AMX_TILE_BYTES / 2) + r * 32, 0, 64);
}

/* A formed strip times the packed activation rows: out[b][r] for every activation row b. Four
 * accumulators take the blocks in turn (a tile product waits for the one before it into the same
 * tile) and are added in a fixed order, whatever the batch. */
static void amx_multiply_strip(const uint16_t *formed, const uint16_t *packed, size_t group_stride, int blocks,
                               int batch, float *sums, void (*put)(void *, int, const float *), void *target) {
    for (int g = 0; g * 16 < batch; g++) {
        const uint16_t *acts = packed + (size_t)g * group_stride;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
#define AMX_BLOCK(acc, a, b, i)                                                                    \
    do {                                                                                           \
        _tile_loadd(a, formed + (size_t)(i) * (AMX_TILE_BYTES / 2), 64);                          \
        _tile_loadd(b, acts + (size_t)(i) * (AMX_TILE_BYTES / 2), 64);                            \
        _tile_dpbf16ps(acc, a, b);                                                                 \
    } while (0)
        int i = 0;
        for (; i + 4 <= blocks; i += 4) {
            AMX_BLOCK(0, 4, 5, i);
            AMX_BLOCK(1, 6, 7, i + 1);
            AMX_BLOCK(2, 4, 5, i + 2);
            AMX_BLOCK(3, 6, 7, i + 3);
        }
        if (i < blocks) AMX_BLOCK(0, 4, 5, i);
        if (i + 1 < blocks) AMX_BLOCK(1, 6, 7, i + 1);
        if (i + 2 < blocks) AMX_BLOCK(2, 4, 5, i + 2);
#undef AMX_BLOCK
        _tile_stored(0, sums, 64);
        _tile_stored(1, sums + 256, 64);
        _tile_stored(2, sums + 512, 64);
        _tile_stored(3, sums + 768, 64);
        for (int b = g * 16; b < batch && b < g * 16 + 16; b++) {
            float column[16];
            const float *at = sums + b % 16; /* sums[accumulator][weight row][activation row] */
            for (int r = 0; r < 16; r++)
                column[r] = (at[r * 16] + at[256 + r * 16]) + (at[512 + r * 16] + at[768 + r * 16]);
            put(target, b, column);
        }
    }
}

typedef struct {
    const float *bias;
    float *y;
    int n, r0, rows, accumulate;
} AmxOut;

static void amx_put(void *target, int b, const float *column) {
    const AmxOut *o = target;
    for (int r = 0; r < o->rows; r++) {
        float value = column[r] + (o->bias ? o->bias[o->r0 + r] : 0.0f);
        float *out = o->y + (size_t)b * o->n + o->r0 + r;
        *out = o->accumulate ? *out + value : value;
    }
}

/* Weight rows row0 + [first, last) of qm times the packed activation rows, as matvec_rows. sums: 4
 * accumulator tiles as floats; formed: two strips of 16 weight rows in bf16, used in turn: forming
 * a strip into the buffer the tile unit is still reading would wait for those reads. (Forming the
 * next strip before multiplying this one measured slower: two strips no longer fit in L1.) */
static void matvec_amx(const QuantMatrix *qm, int row0, const uint16_t *packed, size_t group_stride, int k,
                       int batch, float *y, int n, int first, int last, int accumulate, float *sums,
                       uint16_t *formed) {
    int blocks = k / 32;
    uint16_t *strips[2] = {formed, formed + (size_t)blocks * (AMX_TILE_BYTES / 2)};
    amx_configure();
    for (int r0 = first, s = 0; r0 < last; r0 += 16, s ^= 1) {
        int rows = last - r0 < 16 ? last - r0 : 16;
        amx_form_strip(qm, row0 + r0, rows, blocks, strips[s]);
        AmxOut out = {qm->bias ? qm->bias + row0 : NULL, y, n, r0, rows, accumulate};
        amx_multiply_strip(strips[s], packed, group_stride, blocks, batch, sums, amx_put, &out);
    }
    _tile_release();
}

/* Per thread: accumulators, a strip of formed weights, then the packed activations (see amx_pack). */
typedef struct {
    float *sums;
    uint16_t *formed, *packed;
    size_t group_stride; /* in uint16 */
} AmxScratch;

static size_t amx_scratch_bytes(int widest, int batch) {
    return (size_t)(AMX_GROUPS + 2 * (widest / 32) + ((batch + 15) / 16) * (widest / 32)) * AMX_TILE_BYTES;
}

/* Lays the scratch out and zeroes the packed activations once for the step (rows past the batch). */
static AmxScratch amx_scratch(uint8_t *at, int widest, int batch) {
    AmxScratch a;
    a.sums = (float *)at;
    a.formed = (uint16_t *)(at + AMX_GROUPS * AMX_TILE_BYTES);
    a.packed = (uint16_t *)(at + (size_t)(AMX_GROUPS + 2 * (widest / 32)) * AMX_TILE_BYTES);
    a.group_stride = (size_t)(widest / 32) * (AMX_TILE_BYTES / 2);
    memset(a.packed, 0, (size_t)((batch + 15) / 16) * (widest / 32) * AMX_TILE_BYTES);
    return a;
}
#endif

#include "strip_kernels.h" /* after the AMX section: AMX tiles, where usable, take precedence */

/* Weight rows row0 + [first, last) times every activation row: y[b * n + row] = scale * (W x[b])
 * (+ the value there when accumulate: the residual add). fp32 and int8 weights go in tiles.
 * GGUF blocks (qm) go row by row through the blocks' own dot products, or, given a row buffer
 * (`rowbuf`: requests decoded together), through quant_row_batch, which forms each weight once for
 * all activation rows: the block products form it once per activation row, which leaves a batch as
 * slow as its rows one after another. Either way a row's arithmetic does not depend on the batch,
 * and the scheduler always asks for the batch path, so its greedy tokens are the same batched or
 * alone. */
static void matvec_rows(const void *w, const float *scale, int quantized, const QuantMatrix *qm, int row0,
                        const float *x, int k, int batch, float *y, int n, int first, int last, int accumulate,
                        float *rowbuf, const void *amx_scratch_) {
#if defined(KB_AMX)
    const AmxScratch *amx = amx_scratch_;
    if (qm && amx && first < last && bf16_fits(qm)) {
        amx_pack(x, k, batch, amx->group_stride, amx->packed); /* each thread for itself: no barrier */
        matvec_amx(qm, row0, amx->packed, amx->group_stride, k, batch, y, n, first, last, accumulate, amx->sums,
                   amx->formed);
        return;
    }
#else
    (void)amx_scratch_;
#endif
    /* each thread rounds the activations for itself: no barrier */
    const Q8Block *xq = qm && first < last && wants_q8(qm) ? quantize_rows_q8(x, k, batch) : NULL;
#if defined(KB_VNNI_STRIPS)
    if (qm && rowbuf && matvec_strips(qm, row0, x, k, batch, y, n, first, last, accumulate)) return;
#endif
#if defined(KB_BF16_BATCH)
    if (qm && rowbuf && !xq && bf16_fits(qm) && matvec_bf16(qm, row0, x, k, batch, y, n, first, last, accumulate))
        return;
#endif
    if (qm && rowbuf) {
        float dots[MAX_BATCH];
        for (int row = first; row < last; row++) {
            if (!quant_row_q8(qm, row0 + row, xq, batch, dots)) quant_row_batch(qm, row0 + row, x, batch, rowbuf, dots);
            for (int b = 0; b < batch; b++) {
                float *out = y + (size_t)b * n + row;
                *out = accumulate ? *out + dots[b] : dots[b];
            }
        }
        return;
    }
    if (qm) {
        float dots[MAX_BATCH];
        for (int row = first; row < last; row++) {
            if (!quant_row_q8(qm, row0 + row, xq, batch, dots)) quant_row_times(qm, x, batch, row0 + row, dots);
            for (int b = 0; b < batch; b++) {
                float *out = y + (size_t)b * n + row;
                *out = accumulate ? *out + dots[b] : dots[b];
            }
        }
        return;
    }
    size_t width = quantized ? 1 : sizeof(float);
    float dots[TILE_ROWS * TILE_BATCH];
    for (int row = first; row < last; row += TILE_ROWS) {
        int rows = last - row < TILE_ROWS ? last - row : TILE_ROWS;
        const void *wr = (const char *)w + (size_t)(row0 + row) * k * width;
        for (int b0 = 0; b0 < batch; b0 += TILE_BATCH) {
            int tb = batch - b0 < TILE_BATCH ? batch - b0 : TILE_BATCH;
            tile(wr, quantized, k, x + (size_t)b0 * k, tb, rows, dots);
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < tb; b++) {
                    float value = dots[r * TILE_BATCH + b] * (quantized ? scale[row0 + row + r] : 1.0f);
                    float *out = y + (size_t)(b0 + b) * n + row + r;
                    *out = accumulate ? *out + value : value;
                }
        }
    }
}

/* RMSNorm as model.py: x * rsqrt(mean(x^2) + eps), then times the weight. */
static void rms_norm(const float *x, const float *weight, int dim, float eps, float *out) {
    float squares = 0.0f;
    for (int i = 0; i < dim; i++) squares += x[i] * x[i];
    float inv = 1.0f / sqrtf(squares / (float)dim + eps);
    for (int i = 0; i < dim; i++) out[i] = weight[i] * (x[i] * inv);
}

/* Half-split rotary (rotate_half): out = x * cos + rotate_half(x) * sin. */
static void rotary(float *x, const float *cos_, const float *sin_, int head_dim) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float a = x[i], b = x[i + half];
        x[i] = a * cos_[i] + (-b) * sin_[i];
        x[i + half] = b * cos_[i + half] + a * sin_[i + half];
    }
}

/* ---------------------------------------------------------------- the step */

struct Step {
    const ModelWeights *m;
    const int64_t *tokens;
    const int32_t *positions, *slots; /* [batch]: each row's position and its row of the KV cache */
    int batch, longest, n_threads;    /* longest: the largest position + 1 */
    const int32_t *out_rows;          /* [n_out]: the rows whose logits are wanted, in order */
    int n_out;
    const float *cos_, *sin_; /* [batch, head_dim]: each row's rotary factors */
    float *logits;            /* [n_out, vocab] */
    float *x;                 /* [batch, dim] residual stream */
    float *normed;            /* [n_threads][batch, dim]: each thread normalises for itself */
    float *qkv;               /* [batch, (n_heads + 2 n_kv_heads) head_dim] */
    float *attended;          /* [batch, n_heads head_dim] */
    float *act;               /* [batch, hidden] silu(gate) * up */
    float *act_up;            /* [batch, hidden] the up projection, before it joins act */
    float *rowbufs;           /* [n_threads][TILE_ROWS * widest] dequantised GGUF rows, or NULL */
    uint8_t *amx;             /* [n_threads][amx_bytes] AMX scratch (tile batches), or NULL */
    size_t amx_bytes;
    int widest;               /* the longest weight row (dim, heads x head_dim or hidden) */
    float *scores;            /* [n_threads][cache positions] */
    SpinBarrier barrier;
};

static inline void share(int n, int thread, int n_threads, int *first, int *last) {
    *first = (int)((int64_t)n * thread / n_threads);
    *last = (int)((int64_t)n * (thread + 1) / n_threads);
}

/* scores[t] = scale * q . keys[t] for t < length, four keys at a time (independent FMA chains).
 * Inlined with d a constant for the common head sizes, so the loops unroll into registers. */
static inline __attribute__((always_inline)) void key_scores(const float *q, const float *keys, int d, int length,
                                                             float scale, float *scores) {
    int t = 0;
#if defined(KB_AVX2_HALVES)
    if (d % 8 == 0) {
        for (; t + 4 <= length; t += 4) {
            const float *k0 = keys + (size_t)t * d;
            vf8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int i = 0; i < d; i += 8) {
                vf8 qv = *(const vf8u *)(q + i);
                a0 += qv * *(const vf8u *)(k0 + i);
                a1 += qv * *(const vf8u *)(k0 + d + i);
                a2 += qv * *(const vf8u *)(k0 + 2 * d + i);
                a3 += qv * *(const vf8u *)(k0 + 3 * d + i);
            }
            scores[t] = hsum8(a0) * scale;
            scores[t + 1] = hsum8(a1) * scale;
            scores[t + 2] = hsum8(a2) * scale;
            scores[t + 3] = hsum8(a3) * scale;
        }
    }
#else
    if (d % LANES == 0) {
        for (; t + 4 <= length; t += 4) {
            const float *k0 = keys + (size_t)t * d;
            vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int i = 0; i < d; i += LANES) {
                vf qv = *(const vf *)(q + i);
                a0 += qv * *(const vf *)(k0 + i);
                a1 += qv * *(const vf *)(k0 + d + i);
                a2 += qv * *(const vf *)(k0 + 2 * d + i);
                a3 += qv * *(const vf *)(k0 + 3 * d + i);
            }
            scores[t] = hsum(a0) * scale;
            scores[t + 1] = hsum(a1) * scale;
            scores[t + 2] = hsum(a2) * scale;
            scores[t + 3] = hsum(a3) * scale;
        }
    }
#endif
    for (; t < length; t++) scores[t] = dot1_f32(keys + (size_t)t * d, q, d) * scale;
}

/* out = sum_t p[t] values[t]; the accumulators stay in registers when d is a small constant. */
static inline __attribute__((always_inline)) void weighted_values(const float *p, const float *values, int d,
                                                                  int length, float *out) {
#if defined(KB_AVX2_HALVES)
    if (d % 8 == 0 && d <= 128) {
        vf8 acc[16] = {{0}};
        for (int t = 0; t < length; t++) {
            const float *v = values + (size_t)t * d;
            vf8 weight = (vf8)_mm256_set1_ps(p[t]);
            for (int j = 0; j < d / 8; j++) acc[j] += weight * *(const vf8u *)(v + j * 8);
        }
        for (int j = 0; j < d / 8; j++) memcpy(out + j * 8, &acc[j], sizeof acc[j]);
        return;
    }
#endif
    if (d % LANES == 0 && d <= 8 * LANES) {
        vf acc[8] = {{0}};
        for (int t = 0; t < length; t++) {
            const float *v = values + (size_t)t * d;
            for (int j = 0; j < d / LANES; j++) acc[j] += p[t] * *(const vf *)(v + j * LANES);
        }
        for (int j = 0; j < d / LANES; j++) memcpy(out + j * LANES, &acc[j], sizeof acc[j]);
        return;
    }
    for (int i = 0; i < d; i++) out[i] = 0.0f;
    for (int t = 0; t < length; t++)
        for (int i = 0; i < d; i++) out[i] += p[t] * values[(size_t)t * d + i];
}

#if defined(__AVX512F__)
/* e^x for 16 lanes, within 2 ulp of expf (Cephes' polynomial after x = n ln2 + r, |r| <= ln2 / 2;
 * 2^n by scalef). Softmax and SiLU call it once per 16 values: expf one value at a time was 10% of
 * a batched step. */
static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-103.0f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}
#endif

#if defined(KB_AVX2_HALVES)
/* exp16's polynomial on 8 lanes; 2^n from the exponent bits, so x is kept above -87 (e^-87 ~ 1.6e-38
 * stands for anything smaller: a softmax term or a SiLU's e^-g that small changes no sum). */
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.7f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i two_to_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(two_to_n));
}
#endif

/* scores[t] = e^(scores[t] - top) for t < length; returns their sum. */
static inline float exp_shifted(float *scores, int length, float top) {
    int t = 0;
    float total = 0.0f;
#if defined(__AVX512F__)
    __m512 sums = _mm512_setzero_ps(), shift = _mm512_set1_ps(top);
    for (; t < length; t += 16) {
        __mmask16 live = length - t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (length - t)) - 1u);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, scores + t), shift));
        _mm512_mask_storeu_ps(scores + t, live, e);
        sums = _mm512_add_ps(sums, _mm512_maskz_mov_ps(live, e));
    }
    total = _mm512_reduce_add_ps(sums);
#elif defined(KB_AVX2_HALVES)
    vf8 sums = {0};
    __m256 shift = _mm256_set1_ps(top);
    for (; t + 8 <= length; t += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + t), shift));
        _mm256_storeu_ps(scores + t, e);
        sums += (vf8)e;
    }
    total = hsum8(sums);
#endif
    for (; t < length; t++) {
        scores[t] = expf(scores[t] - top);
        total += scores[t];
    }
    return total;
}

/* out[j] = silu(gate[j]) * up[j] for j < n (gate and out may be the same). Every value goes the same
 * way (the tail masked), so how the threads split n changes no bit. */
static void silu_times(const float *gate, const float *up, int n, float *out) {
    int j = 0;
#if defined(__AVX512F__)
    for (; j < n; j += 16) {
        __mmask16 live = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1u);
        __m512 g = _mm512_maskz_loadu_ps(live, gate + j);
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        _mm512_mask_storeu_ps(out + j, live, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(live, up + j)));
    }
#elif defined(KB_AVX2_HALVES)
    for (; j < n; j += 8) {
        __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 g = _mm256_maskload_ps(gate + j, live);
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_maskstore_ps(out + j, live, _mm256_mul_ps(silu, _mm256_maskload_ps(up + j, live)));
    }
#endif
    for (; j < n; j++) out[j] = (gate[j] / (1.0f + expf(-gate[j]))) * up[j];
}

/* softmax(scale q K^T) V for one head over the cache, as scaled_dot_product_attention. */
static inline __attribute__((always_inline)) void attend_head(const float *q, const float *keys,
                                                              const float *values, int d, int length,
                                                              float *scores, float *out) {
    key_scores(q, keys, d, length, 1.0f / sqrtf((float)d), scores);
    float top = -INFINITY;
    for (int t = 0; t < length; t++) top = scores[t] > top ? scores[t] : top;
    float total = exp_shifted(scores, length, top);
    float inv = 1.0f / total;
    for (int t = 0; t < length; t++) scores[t] *= inv;
    weighted_values(scores, values, d, length, out);
}

static void attend(const Step *s, const LayerWeights *layer, int b, int h, float *scores) {
    const ModelWeights *m = s->m;
    int d = m->head_dim, kv = h / (m->n_heads / m->n_kv_heads), length = s->positions[b] + 1;
    int qkv_width = (m->n_heads + 2 * m->n_kv_heads) * d;
    const float *q = s->qkv + (size_t)b * qkv_width + (size_t)h * d;
    size_t base = ((size_t)s->slots[b] * m->n_kv_heads + kv) * (size_t)m->cache_seq * d;
    const float *keys = layer->k_cache + base, *values = layer->v_cache + base;
    float *out = s->attended + (size_t)b * m->n_heads * d + (size_t)h * d;
    switch (d) { /* the head sizes of Llama-2 (128) and SmolLM2 (64) get unrolled copies */
    case 64: attend_head(q, keys, values, 64, length, scores, out); break;
    case 128: attend_head(q, keys, values, 128, length, scores, out); break;
    default: attend_head(q, keys, values, d, length, scores, out);
    }
}

static void run_step(Step *s, int thread) {
    const ModelWeights *m = s->m;
    int B = s->batch, C = m->dim, D = m->head_dim, H = m->n_heads, K = m->n_kv_heads, F = m->hidden;
    int qkv_width = (H + 2 * K) * D, nt = s->n_threads, first, last;
    float *normed = s->normed + (size_t)thread * B * C;
    float *scores = s->scores + (size_t)thread * s->longest;
    float *rowbuf = s->rowbufs ? s->rowbufs + (size_t)thread * TILE_ROWS * s->widest : NULL;
    const void *amx = NULL;
#if defined(KB_AMX)
    AmxScratch amx_own;
    if (s->amx) {
        amx_own = amx_scratch(s->amx + (size_t)thread * s->amx_bytes, s->widest, B);
        amx = &amx_own;
    }
#endif
    int q8 = m->quantized;

    if (m->embed_q) { /* a quantised table: each thread dequantises whole rows */
        share(B, thread, nt, &first, &last);
        for (int b = first; b < last; b++) {
            const QuantMatrix *e = m->embed_q;
            dequant_row(e->part_type[0], e->part_data[0] + (size_t)s->tokens[b] * e->part_row_bytes[0], C,
                        s->x + (size_t)b * C);
        }
    } else {
        share(B * C, thread, nt, &first, &last);
        for (int i = first; i < last; i++) s->x[i] = m->embed[(size_t)s->tokens[i / C] * C + i % C];
    }
    barrier_wait(&s->barrier);

    for (int l = 0; l < m->n_layers; l++) {
        const LayerWeights *layer = &m->layers[l];
        for (int b = 0; b < B; b++) rms_norm(s->x + (size_t)b * C, layer->attn_norm, C, m->eps, normed + (size_t)b * C);
        share(qkv_width, thread, nt, &first, &last);
        matvec_rows(layer->wqkv, layer->wqkv_scale, q8, layer->wqkv_q, 0, normed, C, B, s->qkv, qkv_width, first, last, 0, rowbuf, amx);
        barrier_wait(&s->barrier);

        /* Rotary on q and k heads, then k and v into the cache at this position. */
        share(B * (H + K), thread, nt, &first, &last);
        for (int job = first; job < last; job++) {
            int b = job / (H + K), head = job % (H + K);
            float *row = s->qkv + (size_t)b * qkv_width;
            rotary(row + (size_t)head * D, s->cos_ + (size_t)b * D, s->sin_ + (size_t)b * D, D);
            if (head >= H) {
                int kv = head - H;
                size_t at = (((size_t)s->slots[b] * K + kv) * m->cache_seq + s->positions[b]) * D;
                memcpy(layer->k_cache + at, row + (size_t)head * D, (size_t)D * sizeof(float));
                memcpy(layer->v_cache + at, row + (size_t)(H + K + kv) * D, (size_t)D * sizeof(float));
            }
        }
        barrier_wait(&s->barrier);

        share(B * H, thread, nt, &first, &last);
        for (int job = first; job < last; job++) attend(s, layer, job / H, job % H, scores);
        barrier_wait(&s->barrier);

        share(C, thread, nt, &first, &last);
        matvec_rows(layer->wo, layer->wo_scale, q8, layer->wo_q, 0, s->attended, H * D, B, s->x, C, first, last, 1, rowbuf, amx);
        barrier_wait(&s->barrier);

        for (int b = 0; b < B; b++) rms_norm(s->x + (size_t)b * C, layer->ffn_norm, C, m->eps, normed + (size_t)b * C);
        /* Gate rows j.. and up rows F + j.. together, so silu(gate) * up needs no barrier. The
         * gate goes into act and the up half into act_up, then act becomes silu(gate) * up. */
        share(F, thread, nt, &first, &last);
        matvec_rows(layer->w13, layer->w13_scale, q8, layer->w13_q, 0, normed, C, B, s->act, F, first, last, 0, rowbuf, amx);
        matvec_rows(layer->w13, layer->w13_scale, q8, layer->w13_q, F, normed, C, B, s->act_up, F, first, last, 0, rowbuf, amx);
        for (int b = 0; b < B; b++) {
            float *gate = s->act + (size_t)b * F + first;
            silu_times(gate, s->act_up + (size_t)b * F + first, last - first, gate);
        }
        barrier_wait(&s->barrier);

        share(C, thread, nt, &first, &last);
        matvec_rows(layer->w2, layer->w2_scale, q8, layer->w2_q, 0, s->act, F, B, s->x, C, first, last, 1, rowbuf, amx);
        barrier_wait(&s->barrier);
    }

    /* Only the rows whose logits are wanted (a prompt's rows but its last need none): the head is
     * the largest matrix of a small model. */
    if (s->n_out == 0) return;
    for (int o = 0; o < s->n_out; o++)
        rms_norm(s->x + (size_t)s->out_rows[o] * C, m->final_norm, C, m->eps, normed + (size_t)o * C);
    share(m->vocab, thread, nt, &first, &last);
    matvec_rows(m->head, m->head_scale, q8, m->head_q, 0, normed, C, s->n_out, s->logits, m->vocab, first, last, 0,
                rowbuf, amx);
}

static int decode_rows_locked(const ModelWeights *m, const int64_t *tokens, int batch, const int32_t *positions,
                              const int32_t *slots, const float *cos_, const float *sin_, const int32_t *out_rows,
                              int n_out, float *logits, int n_threads, int row_tiles) {
    int C = m->dim, D = m->head_dim, H = m->n_heads, K = m->n_kv_heads, F = m->hidden, longest = 0;
    int widest = C > H * D ? C : H * D;
    widest = widest > F ? widest : F;
    for (int b = 0; b < batch; b++) longest = positions[b] + 1 > longest ? positions[b] + 1 : longest;
    n_threads = ensure_pool(n_threads);
    size_t floats = (size_t)batch * C                       /* x */
                    + (size_t)n_threads * batch * C         /* normed */
                    + (size_t)batch * (H + 2 * K) * D       /* qkv */
                    + (size_t)batch * H * D                 /* attended */
                    + 2 * (size_t)batch * F                 /* act, act_up */
                    + (size_t)n_threads * longest           /* scores */
                    + (row_tiles ? (size_t)n_threads * TILE_ROWS * widest : 0); /* rowbufs */
    size_t amx_bytes = 0;
#if defined(KB_AMX)
    if (row_tiles && amx_usable()) amx_bytes = (amx_scratch_bytes(widest, batch) + 63) / 64 * 64;
#endif
    size_t float_bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float *scratch = aligned_alloc(64, float_bytes + (size_t)n_threads * amx_bytes);
    if (!scratch) return -1;
    Step step = {.m = m, .tokens = tokens, .positions = positions, .slots = slots, .batch = batch,
                 .longest = longest, .n_threads = n_threads, .cos_ = cos_, .sin_ = sin_, .logits = logits,
                 .out_rows = out_rows, .n_out = n_out};
    float *at = scratch;
    step.x = at, at += (size_t)batch * C;
    step.normed = at, at += (size_t)n_threads * batch * C;
    step.qkv = at, at += (size_t)batch * (H + 2 * K) * D;
    step.attended = at, at += (size_t)batch * H * D;
    step.act = at, at += (size_t)batch * F;
    step.act_up = at, at += (size_t)batch * F;
    step.scores = at, at += (size_t)n_threads * longest;
    step.rowbufs = row_tiles ? at : NULL;
    step.amx = amx_bytes ? (uint8_t *)scratch + float_bytes : NULL;
    step.amx_bytes = amx_bytes;
    step.widest = widest;
    step.barrier.n = n_threads;
    atomic_init(&step.barrier.count, 0);
    atomic_init(&step.barrier.phase, 0);

    if (n_threads > 1) {
        pool.step = &step;
        atomic_store(&pool.finished, 0);
        pthread_mutex_lock(&pool.mutex);
        atomic_fetch_add(&pool.generation, 1);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mutex);
    }
    run_step(&step, 0);
    for (int spins = 0; atomic_load(&pool.finished) < n_threads - 1; spins++) wait_turn(spins);
    free(scratch);
    return 0;
}

/* tokens [batch], row b at position positions[b] in cache row slots[b] -> logits [n_out, vocab]
 * for the rows out_rows lists. cos_, sin_ [batch, head_dim] are each row's rotary factors. Each row
 * writes its keys and values at its position, and all rows write before any attends, so several
 * rows of one slot (a prompt's tokens, at distinct positions) go in one step: row b sees positions
 * 0..positions[b] of its slot, those below its own written earlier or by other rows of this step.
 * row_tiles: GGUF blocks are dequantised a tile of rows at a time and shared by the batch's rows
 * (see matvec_rows). Returns 0, or -1 for arguments it cannot serve. */
KB_API int kb_decode_rows(const ModelWeights *m, const int64_t *tokens, int batch, const int32_t *positions,
                          const int32_t *slots, const float *cos_, const float *sin_, const int32_t *out_rows,
                          int n_out, float *logits, int n_threads, int row_tiles) {
    if (batch < 1 || batch > MAX_BATCH || n_out < 0 || n_out > batch) return -1;
    for (int b = 0; b < batch; b++) {
        if (tokens[b] < 0 || tokens[b] >= m->vocab) return -1;
        if (positions[b] < 0 || positions[b] >= m->cache_seq || slots[b] < 0 || slots[b] >= m->cache_batch) return -1;
        for (int other = 0; other < b; other++)
            if (slots[other] == slots[b] && positions[other] == positions[b]) return -1;
    }
    for (int o = 0; o < n_out; o++)
        if (out_rows[o] < 0 || out_rows[o] >= batch) return -1;
    pthread_mutex_lock(&pool.one_step);
    int status = decode_rows_locked(m, tokens, batch, positions, slots, cos_, sin_, out_rows, n_out, logits,
                                    n_threads, row_tiles);
    pthread_mutex_unlock(&pool.one_step);
    return status;
}

KB_API int kb_max_batch(void) { return MAX_BATCH; }

/* How batched steps (row_tiles) multiply Q4_1 and Q8_0 blocks without strips (strip_kernels.h,
 * used where a matrix's strips are bound): 1 AMX tiles in bf16, 2 AVX-512 BF16 dot products, 0 fp32
 * FMAs. */
KB_API int kb_batch_kernel(void) {
#if defined(KB_AMX)
    if (amx_usable()) return 1;
#endif
#if defined(KB_BF16_BATCH)
    return 2;
#else
    return 0;
#endif
}

KB_API int kb_abi_version(void) { return 5; }
