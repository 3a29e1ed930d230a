/* Kernels of our own for a decode step on an x86 CPU with AVX-512 VNNI (`model.kernels`).

   wr_q8_matmul: out[m, n] = wscale[n] * sum_k w[n, k] * x[m, k], for float32 activations x [M, K]
   and int8 weights w [N, K] (one scale per output row, as `model.quant.Int8Weight` rounds them),
   held in the kernels' order: 16 output rows by 4 inputs a 64-byte vector (`model.kernels.order`).
   The activations are rounded to int8 in blocks of 32 with one float32 scale a block (llama.cpp's
   Q8_0). One VNNI instruction multiplies a vector of weights by a row's next 4 inputs, broadcast
   to every lane, and adds the 4 products into each of 16 int32 lanes, one lane an output: no sum
   across lanes is ever needed. VNNI multiplies unsigned bytes by signed ones: each weight byte
   gets its top bit flipped as it is loaded (the int8 w read as the unsigned w + 128), and 128 *
   (the activations' sum) is taken off again, once a row (`shift`). A block's int32 sums are
   exact; each is converted to float, scaled by its block's activation scale and summed in
   float32. Rows 3 at a time and tiles of 16 outputs 4 at a time share the loads: 12 VNNI
   instructions for 4 weight vectors and 3 broadcasts.

   wr_attend_f16: a decode step's attention over a float16 key/value cache, in float32.

   Threads: the work is shared by OpenMP's threads. Built against the libgomp torch has loaded
   (same soname), it runs in torch's own thread pool, with torch's thread count. */

#include <immintrin.h>
#include <omp.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 32
#define STEP 64
/* The weights' order (`wr_q8_matmul`): 16 output rows by 4 inputs a 64-byte vector. */
#define TILE 16
#define GROUP 4
/* A call's register block: ROWS activation rows by TILES tiles of 16 outputs (ROWS * TILES
   int32 sums of the current block of 32 inputs and as many float32 totals, TILES weight
   vectors and one broadcast input: 29 of the 32 vector registers). */
#define ROWS 3
#define TILES 4

/* x [K] -> q [K] int8 and bscale [K/32], one scale a block of 32 (its largest magnitude / 127);
   returns 128 * the sum over blocks of bscale times the block's sum of q (the term the weights'
   flipped top bit adds, `shift`). With `norm`, x is first RMS-normalised and scaled by it, as
   Llama's RMSNorm does in float32: x * (1 / sqrt(mean(x^2) + eps)) * norm. */
static float quantize_row(const float *x, int K, int8_t *q, float *bscale, const float *norm,
                          float eps) {
    __m512 r = _mm512_set1_ps(1.0f);
    if (norm) {
        __m512 squares = _mm512_setzero_ps();
        for (int k = 0; k < K; k += 16) {
            __m512 v = _mm512_loadu_ps(x + k);
            squares = _mm512_fmadd_ps(v, v, squares);
        }
        r = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(squares) / (float)K + eps));
    }
    float shift = 0.0f;
    for (int b = 0; b < K / BLOCK; b++) {
        const float *xb = x + b * BLOCK;
        __m512 lo = _mm512_loadu_ps(xb), hi = _mm512_loadu_ps(xb + 16);
        if (norm) {
            lo = _mm512_mul_ps(_mm512_mul_ps(lo, r), _mm512_loadu_ps(norm + b * BLOCK));
            hi = _mm512_mul_ps(_mm512_mul_ps(hi, r), _mm512_loadu_ps(norm + b * BLOCK + 16));
        }
        __m512 amax = _mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi));
        float peak = _mm512_reduce_max_ps(amax);
        float scale = peak / 127.0f;
        float inverse = peak > 0.0f ? 127.0f / peak : 0.0f;
        __m512 inv = _mm512_set1_ps(inverse);
        __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv));
        __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
        _mm_storeu_si128((__m128i *)(q + b * BLOCK), _mm512_cvtsepi32_epi8(qlo));
        _mm_storeu_si128((__m128i *)(q + b * BLOCK + 16), _mm512_cvtsepi32_epi8(qhi));
        bscale[b] = scale;
        shift += scale * 128.0f * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
    }
    return shift;
}

/* out [rows, 16 * tiles] (row stride `out_stride`) for `rows` <= ROWS activation rows and
   `tiles` <= TILES tiles of the ordered weights (`tile_bytes` apart). For each block of 32
   inputs: 8 groups of 4, each one VNNI instruction per row and tile (a tile's vector of 16
   outputs x 4 weights, the row's 4 inputs broadcast to every lane), the 16 lanes' int32 sums
   exact; then each sum, as float32, times the row's block scale into the row's totals. The
   arrays have constant sizes and the loops constant bounds once inlined, so they unroll and the
   sums stay in registers (sizes from the arguments made them arrays on the stack, 3x slower). */
static inline __attribute__((always_inline)) void block_of_tiles(
    const int8_t *w, size_t tile_bytes, int K, const int8_t *q, const float *bscale,
    const float *shift, const float *wscale, float *out, int out_stride, const int rows,
    const int tiles) {
    const __m512i top = _mm512_set1_epi8((char)0x80);
    const int blocks = K / BLOCK;
    __m512 total[ROWS][TILES];
#pragma GCC unroll 4
    for (int m = 0; m < rows; m++)
#pragma GCC unroll 4
        for (int t = 0; t < tiles; t++) total[m][t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        __m512i sum[ROWS][TILES];
#pragma GCC unroll 4
        for (int m = 0; m < rows; m++)
#pragma GCC unroll 4
            for (int t = 0; t < tiles; t++) sum[m][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = 0; g < BLOCK / GROUP; g++) {
            const size_t at = ((size_t)b * (BLOCK / GROUP) + g) * STEP;
            __m512i wv[TILES];
#pragma GCC unroll 4
            for (int t = 0; t < tiles; t++) /* read as unsigned: w + 128 */
                wv[t] = _mm512_xor_si512(_mm512_loadu_si512((const void *)(w + t * tile_bytes + at)),
                                         top);
#pragma GCC unroll 4
            for (int m = 0; m < rows; m++) {
                int32_t four;
                memcpy(&four, q + (size_t)m * K + b * BLOCK + g * GROUP, 4);
                const __m512i xv = _mm512_set1_epi32(four);
#pragma GCC unroll 4
                for (int t = 0; t < tiles; t++) sum[m][t] = _mm512_dpbusd_epi32(sum[m][t], wv[t], xv);
            }
        }
#pragma GCC unroll 4
        for (int m = 0; m < rows; m++) {
            const __m512 s = _mm512_set1_ps(bscale[(size_t)m * blocks + b]);
#pragma GCC unroll 4
            for (int t = 0; t < tiles; t++)
                total[m][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[m][t]), s, total[m][t]);
        }
    }
#pragma GCC unroll 4
    for (int m = 0; m < rows; m++) {
        const __m512 sh = _mm512_set1_ps(shift[m]);
#pragma GCC unroll 4
        for (int t = 0; t < tiles; t++)
            _mm512_storeu_ps(out + (size_t)m * out_stride + t * TILE,
                             _mm512_mul_ps(_mm512_sub_ps(total[m][t], sh),
                                           _mm512_loadu_ps(wscale + t * TILE)));
    }
}

#define ROWS_CASE(r, n)                                                                          \
    case r:                                                                                      \
        block_of_tiles(w, tile_bytes, K, q, bscale, shift, wscale, out, out_stride, r, n);       \
        break;
#define TILES_CASE(n)                                                                            \
    case n:                                                                                      \
        switch (rows) { ROWS_CASE(1, n) ROWS_CASE(2, n) ROWS_CASE(3, n) }                        \
        break;

/* `block_of_tiles` with constant rows and tiles (each pair its own unrolled code). */
static void tiles_product(const int8_t *w, size_t tile_bytes, int K, const int8_t *q,
                          const float *bscale, const float *shift, const float *wscale, float *out,
                          int out_stride, int rows, int tiles) {
    switch (tiles) { TILES_CASE(1) TILES_CASE(2) TILES_CASE(3) TILES_CASE(4) }
}

/* Scratch memory of this thread, grown as needed (calls come from the engine's one thread). */
static __thread void *scratch = NULL;
static __thread size_t scratch_bytes = 0;

/* out [M, N] = x [M, K] @ w^T * wscale, for the int8 weight w [N, K] in the kernels' order
   (`model.kernels.order`: w[n, k] at ((n / 16) * (K / 4) + k / 4) * 64 + (n % 16) * 4 + k % 4),
   N a multiple of 16, K of 64; with `norm` (NULL: none), each row of x RMS-normalised first
   (`quantize_row`). Each thread takes an equal run of the tiles of 16 outputs and every row for
   them, so a tile's weights are read from memory once and stay in cache for the rows. Returns 0,
   or -1 when the scratch memory cannot be had (nothing written then). */
int wr_q8_matmul(const float *x, int M, int K, const int8_t *w, const float *wscale, int N,
                 float *out, const float *norm, float eps) {
    const int blocks = K / BLOCK;
    size_t need = (size_t)M * K + (size_t)M * blocks * 4 + (size_t)M * 4 + 256;
    if (need > scratch_bytes) {
        void *grown = aligned_alloc(64, (need + 63) / 64 * 64);
        if (!grown) return -1;
        free(scratch);
        scratch = grown;
        scratch_bytes = (need + 63) / 64 * 64;
    }
    int8_t *q = scratch;
    float *bscale = (float *)(q + (size_t)M * K);
    float *shift = bscale + (size_t)M * blocks;
    const int count = N / TILE;
    const size_t tile_bytes = (size_t)K * TILE;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int m = 0; m < M; m++)
            shift[m] = quantize_row(x + (size_t)m * K, K, q + (size_t)m * K,
                                    bscale + (size_t)m * blocks, norm, eps);
        const int threads = omp_get_num_threads(), me = omp_get_thread_num();
        const int first = (int)((long)count * me / threads);
        const int last = (int)((long)count * (me + 1) / threads);
        for (int t = first; t < last; t += TILES) {
            const int tiles = last - t < TILES ? last - t : TILES;
            for (int m = 0; m < M; m += ROWS)
                tiles_product(w + t * tile_bytes, tile_bytes, K, q + (size_t)m * K,
                              bscale + (size_t)m * blocks, shift + m, wscale + t * TILE,
                              out + (size_t)m * N + t * TILE, N, M - m < ROWS ? M - m : ROWS,
                              tiles);
        }
    }
    return 0;
}

/* e^x for 16 floats (x <= 0 here: scores minus their maximum), to about 2 ulp: x = n ln2 + r with
   |r| <= ln2 / 2, e^r by its Taylor series to r^7, times 2^n (`scalef`). Below -87, 0. */
static inline __m512 exp_ps(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 16 float16 values as float32. */
static inline __m512 halves_at(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

/* The sums of eight vectors' 16 lanes each, in order, as 8 floats (a transposing tree of
   shuffles and adds: 24 instructions where eight horizontal sums take 64). */
static inline __m256 sums_of_eight(const __m512 a[8]) {
    __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a[0], a[1]), _mm512_unpackhi_ps(a[0], a[1]));
    __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a[2], a[3]), _mm512_unpackhi_ps(a[2], a[3]));
    __m512 t2 = _mm512_add_ps(_mm512_unpacklo_ps(a[4], a[5]), _mm512_unpackhi_ps(a[4], a[5]));
    __m512 t3 = _mm512_add_ps(_mm512_unpacklo_ps(a[6], a[7]), _mm512_unpackhi_ps(a[6], a[7]));
    /* Each 128-bit lane of t0: a0, a1, a0, a1 (partial sums); of t1: a2, a3, a2, a3. */
    __m512 u0 = _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
    __m512 u1 = _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t2), _mm512_castps_pd(t3))),
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t2), _mm512_castps_pd(t3))));
    /* Each 128-bit lane of u0: a0..a3 over that lane; of u1: a4..a7. */
    __m512 v = _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
    /* v's 128-bit lanes: a0..a3 (lanes 0+1), a0..a3 (2+3), a4..a7 (0+1), a4..a7 (2+3). */
    __m512 w = _mm512_add_ps(_mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 1, 2, 0)),
                             _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 0, 3, 1)));
    return _mm512_castps512_ps256(w);
}

/* A tile of eight columns of float16 keys or values as float32, tile [8][16 * chunks]: column
   t0 + j from `own`, or from `from` before column `common`; zeros past `width`. */
static inline __attribute__((always_inline)) void tile_of(const uint16_t *own,
                                                          const uint16_t *from, int t0, int width,
                                                          int common, int chunks, float *tile) {
    const int D = 16 * chunks;
    for (int j = 0; j < 8; j++) {
        const int t = t0 + j;
        if (t >= width) {
            for (int c = 0; c < chunks; c++)
                _mm512_store_ps(tile + j * D + c * 16, _mm512_setzero_ps());
            continue;
        }
        const uint16_t *column = (t < common ? from : own) + (size_t)t * D;
        for (int c = 0; c < chunks; c++)
            _mm512_store_ps(tile + j * D + c * 16, halves_at(column + c * 16));
    }
}

/* One row's attention for one key/value head (see wr_attend_f16), its G queries `qs` [G][D]
   into `o` [G][D]. Scratch: scores [G][padded], tile [8][D], acc [G][D], 64-byte aligned.
   Inlined with `chunks` (D / 16) a constant where it is one, so the loops over a vector's
   chunks unroll into registers. */
static inline __attribute__((always_inline)) void attend_one(
    const float *qs, const uint16_t *k_own, const uint16_t *k_from, const uint16_t *v_own,
    const uint16_t *v_from, int width, int common, int G, int chunks, float scale, float *scores,
    int padded, float *tile, float *acc, float *o) {
    const int D = 16 * chunks;
    for (int t0 = 0; t0 < width; t0 += 8) {
        tile_of(k_own, k_from, t0, width, common, chunks, tile);
        for (int g = 0; g < G; g++) {
            const float *qg = qs + g * D;
            __m512 a[8];
            __m512 q0 = _mm512_loadu_ps(qg);
            for (int j = 0; j < 8; j++) a[j] = _mm512_mul_ps(_mm512_load_ps(tile + j * D), q0);
            for (int c = 1; c < chunks; c++) {
                __m512 qc = _mm512_loadu_ps(qg + c * 16);
                for (int j = 0; j < 8; j++)
                    a[j] = _mm512_fmadd_ps(_mm512_load_ps(tile + j * D + c * 16), qc, a[j]);
            }
            _mm256_store_ps(scores + (size_t)g * padded + t0,
                            _mm256_mul_ps(sums_of_eight(a), _mm256_set1_ps(scale)));
        }
    }
    float total[16];
    const __mmask16 tail = (__mmask16)((1u << (width % 16)) - 1);
    const int whole = width / 16 * 16;
    for (int g = 0; g < G; g++) {
        float *sg = scores + (size_t)g * padded;
        __m512 top = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        for (int t = 0; t < whole; t += 16) top = _mm512_max_ps(top, _mm512_load_ps(sg + t));
        if (tail) top = _mm512_mask_max_ps(top, tail, top, _mm512_load_ps(sg + whole));
        top = _mm512_set1_ps(_mm512_reduce_max_ps(top));
        for (int t = 0; t < whole; t += 16) {
            __m512 e = exp_ps(_mm512_sub_ps(_mm512_load_ps(sg + t), top));
            _mm512_store_ps(sg + t, e);
            sum = _mm512_add_ps(sum, e);
        }
        if (tail) {
            __m512 e = exp_ps(_mm512_sub_ps(_mm512_load_ps(sg + whole), top));
            e = _mm512_maskz_mov_ps(tail, e);
            _mm512_store_ps(sg + whole, e); /* zeros past the width */
            sum = _mm512_add_ps(sum, e);
        }
        total[g] = _mm512_reduce_add_ps(sum);
        for (int c = 0; c < chunks; c++) _mm512_store_ps(acc + g * D + c * 16, _mm512_setzero_ps());
    }
    for (int t0 = 0; t0 < width; t0 += 8) {
        tile_of(v_own, v_from, t0, width, common, chunks, tile);
        for (int g = 0; g < G; g++) {
            const float *sg = scores + (size_t)g * padded + t0;
            __m512 a[16];
            for (int c = 0; c < chunks; c++) a[c] = _mm512_load_ps(acc + g * D + c * 16);
            for (int j = 0; j < 8; j++) { /* past the width: a zero weight, a zero column */
                __m512 p = _mm512_set1_ps(sg[j]);
                for (int c = 0; c < chunks; c++)
                    a[c] = _mm512_fmadd_ps(p, _mm512_load_ps(tile + j * D + c * 16), a[c]);
            }
            for (int c = 0; c < chunks; c++) _mm512_store_ps(acc + g * D + c * 16, a[c]);
        }
    }
    for (int g = 0; g < G; g++) {
        __m512 inverse = _mm512_set1_ps(1.0f / total[g]);
        for (int c = 0; c < chunks; c++)
            _mm512_storeu_ps(o + g * D + c * 16,
                             _mm512_mul_ps(_mm512_load_ps(acc + g * D + c * 16), inverse));
    }
}

/* Attention of one new token per row over a float16 key/value cache (a decode step's):
   out [B, H, G, D] float32 = softmax(scale * q k^T) v for each row b and key/value head h, the G
   query heads of h together. q [B, H, G, D] float32, contiguous; keys and values float16,
   element (b, h, t, d) at b * row + h * head + t * D + d (a cache's rows and heads, its columns
   contiguous). Row b attends its first columns[b] columns (NULL: T each); of those, its first
   shared[b] are read in row source[b] (NULL: none), which holds the same keys and values (the
   takes of one request share their prompt's): rows that share a prompt read it from memory
   once between them, not once each. D a multiple of 16, at most 256; G at most 16. The scores
   (eight columns at a time, from a float32 tile of their keys) and the sums in float32.
   Returns 0, or -1 when scratch memory cannot be had. */
int wr_attend_f16(const float *q, const uint16_t *keys, const uint16_t *values, int B, int H, int G,
                  int T, int D, long row, long head, float scale, float *out, const int *columns,
                  const int *source, const int *shared) {
    if (D % 16 || D > 256 || G > 16) return -1;
    int failed = 0;
#pragma omp parallel for schedule(static) reduction(| : failed)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        /* Out-of-range layouts are clamped: never a read outside the rows and columns given. */
        const int width = columns && columns[b] >= 1 && columns[b] < T ? columns[b] : T;
        const int common = source && source[b] >= 0 && source[b] < B
                               ? (shared[b] < 0 ? 0 : shared[b] < width ? shared[b] : width)
                               : 0;
        const long own = b * row + h * head, from = (common ? source[b] : b) * row + h * head;
        const int chunks = D / 16, padded = (width + 15) / 16 * 16;
        float *scores = aligned_alloc(64, ((size_t)G * padded + 8 * D + (size_t)G * D) * 4);
        if (!scores) {
            failed = 1;
            continue;
        }
        float *tile = scores + (size_t)G * padded, *acc = tile + 8 * D;
        const float *qs = q + (size_t)bh * G * D;
        float *o = out + (size_t)bh * G * D;
        if (chunks == 4) /* head size 64 (SmolLM2), 128: the loops unrolled */
            attend_one(qs, keys + own, keys + from, values + own, values + from, width, common,
                       G, 4, scale, scores, padded, tile, acc, o);
        else if (chunks == 8)
            attend_one(qs, keys + own, keys + from, values + own, values + from, width, common,
                       G, 8, scale, scores, padded, tile, acc, o);
        else
            attend_one(qs, keys + own, keys + from, values + own, values + from, width, common,
                       G, chunks, scale, scores, padded, tile, acc, o);
        free(scores);
    }
    return failed ? -1 : 0;
}

/* One int8 weight of a layer: int8 [n, k] with one float32 scale per output row. */
typedef struct {
    const int8_t *values;
    const float *scales;
    int n;
} wr_weight;

/* A Llama layer for `wr_decode_layers`: its four products, the RMSNorms' weights before the
   first and third, and its key/value cache buffers (float16 [rows, kv_heads, columns, D]). */
typedef struct {
    wr_weight qkv, o, gate_up, down;
    const float *ln_attn, *ln_mlp;
    uint16_t *keys, *values;
} wr_layer;

/* silu(gate) * up for n values (torch's silu: x / (1 + e^-x)). */
static void silu_times(const float *gate, const float *up, float *out, int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 g = _mm512_loadu_ps(gate + i);
        __m512 e = exp_ps(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), g),
                                        _mm512_set1_ps(88.0f)));
        __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
    }
    for (; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* A decode step's layers, one new token per row, in one call: for each layer, the RMSNorm and
   the q/k/v product (`wr_q8_matmul`), the rotary embedding of q and k (x * cos + x rolled by
   half a head * sin, `sin`'s first half negated, as the fast path's `_rope` makes them), k and
   v written to the cache as float16 at column write_at[m] (NULL: T - 1 for every row),
   attention (`wr_attend_f16` with the layout `columns`, `source`, `shared`), the output
   product added to `hidden`, the RMSNorm and the gate/up product, silu(gate) * up, and the down
   product added to `hidden` [M, E] (float32, in place). `work`: M * (qkv width + 2 * heads * D +
   E + 3 * inter) floats. Returns 0, -1 where scratch memory cannot be had, -2 (before anything
   is written) where a row's column is outside the step's T. */
int wr_decode_layers(const wr_layer *layers, int count, float *hidden, int M, int E, int heads,
                     int kv_heads, int D, int inter, float eps, const float *cos,
                     const float *sin, long row, long head, int T, const int *write_at,
                     const int *columns, const int *source, const int *shared, float scale,
                     float *work) {
    const int width = (heads + 2 * kv_heads) * D, half = D / 2;
    for (int m = 0; write_at && m < M; m++)
        if (write_at[m] < 0 || write_at[m] >= T) return -2; /* never a write outside the step */
    float *qkv = work, *q = qkv + (size_t)M * width, *attn = q + (size_t)M * heads * D;
    float *product_out = attn + (size_t)M * heads * D, *gate_up = product_out + (size_t)M * E;
    float *act = gate_up + (size_t)M * 2 * inter;
    for (int l = 0; l < count; l++) {
        const wr_layer *layer = layers + l;
        if (wr_q8_matmul(hidden, M, E, layer->qkv.values, layer->qkv.scales, layer->qkv.n, qkv,
                         layer->ln_attn, eps))
            return -1;
        for (int m = 0; m < M; m++) {
            float *x = qkv + (size_t)m * width;
            const float *c = cos + (size_t)m * D, *s = sin + (size_t)m * D;
            const long at = write_at ? write_at[m] : T - 1;
            for (int j = 0; j < heads + kv_heads; j++) {
                const float *xj = x + j * D;
                float rotated[256];
                for (int d = 0; d < D; d++)
                    rotated[d] = xj[d] * c[d] + xj[(d + half) % D] * s[d];
                if (j < heads) {
                    memcpy(q + ((size_t)m * heads + j) * D, rotated, (size_t)D * 4);
                    continue;
                }
                const int h = j - heads;
                uint16_t *k = layer->keys + m * row + h * head + at * D;
                uint16_t *v = layer->values + m * row + h * head + at * D;
                const float *vj = x + (heads + kv_heads + h) * D;
                for (int d = 0; d < D; d += 16) {
                    _mm256_storeu_si256((__m256i *)(k + d),
                                        _mm512_cvtps_ph(_mm512_loadu_ps(rotated + d),
                                                        _MM_FROUND_TO_NEAREST_INT));
                    _mm256_storeu_si256((__m256i *)(v + d),
                                        _mm512_cvtps_ph(_mm512_loadu_ps(vj + d),
                                                        _MM_FROUND_TO_NEAREST_INT));
                }
            }
        }
        if (wr_attend_f16(q, layer->keys, layer->values, M, kv_heads, heads / kv_heads, T, D, row,
                          head, scale, attn, columns, source, shared))
            return -1;
        if (wr_q8_matmul(attn, M, heads * D, layer->o.values, layer->o.scales, E, product_out,
                         NULL, 0.0f))
            return -1;
        for (size_t i = 0; i < (size_t)M * E; i++) hidden[i] += product_out[i];
        if (wr_q8_matmul(hidden, M, E, layer->gate_up.values, layer->gate_up.scales, 2 * inter,
                         gate_up, layer->ln_mlp, eps))
            return -1;
        for (int m = 0; m < M; m++)
            silu_times(gate_up + (size_t)m * 2 * inter, gate_up + (size_t)m * 2 * inter + inter,
                       act + (size_t)m * inter, inter);
        if (wr_q8_matmul(act, M, inter, layer->down.values, layer->down.scales, E, product_out,
                         NULL, 0.0f))
            return -1;
        for (size_t i = 0; i < (size_t)M * E; i++) hidden[i] += product_out[i];
    }
    return 0;
}

/* The sampler of a decode step (`model.sampling`), one row at a time, the rows shared among the
   threads: what torch's operators do in `model.sampling.sample` and `token_logprobs`, in one
   pass over each row's logits where those take about thirty small operators and as many passes.

   For row r of logits [B, V] (row stride `stride`, float32): the repetition penalty (a token
   marked in `penalised` (row stride `pstride`, bytes) has its logit divided by penalty[r] when
   positive, multiplied when negative); the `candidates` largest scores (ties: the lower token
   first), found with a min-heap whose smallest member sixteen scores at a time are compared
   with; greedy when temperature[r] is 0, else: the candidates' scores over the temperature (at
   least 1e-5), those past top_k[r] (when above 0) dropped, their softmax, a candidate kept while
   the mass before it is below top_p[r], and the argmax of score + Gumbel noise, the noise a pure
   function of (seed[r], drawn[r], token) (`noise`). tokens[r] is the pick, logprobs[r] its
   log-probability under the raw logits. Scratch: B * candidates (score, token) pairs. Returns 0,
   -1 where the scratch cannot be had, -2 (before anything is written) for sizes it does not take:
   fewer than 16 tokens, or candidates outside 1..V. */

typedef struct {
    float value;
    int token;
} wr_candidate;

static inline uint32_t murmur_mix(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

/* Standard Gumbel noise of (seed, step, token), as `model.sampling._gumbel` makes it: the 32
   hash bits' top 23 and a half over 2^23, a float strictly between 0 and 1. */
static inline float noise(uint32_t seed, uint32_t step, uint32_t token) {
    uint32_t h = murmur_mix(murmur_mix(murmur_mix(seed) ^ step) ^ token);
    float u = ((float)(h >> 9) + 0.5f) * (1.0f / 8388608.0f);
    return -logf(-logf(u));
}

/* `a` ranks below `b`: a smaller score, or the same score and a later token. */
static inline int below(wr_candidate a, wr_candidate b) {
    return a.value < b.value || (a.value == b.value && a.token > b.token);
}

static void sift_down(wr_candidate *heap, int n, int i) {
    for (;;) {
        int least = i, l = 2 * i + 1, r = l + 1;
        if (l < n && below(heap[l], heap[least])) least = l;
        if (r < n && below(heap[r], heap[least])) least = r;
        if (least == i) return;
        wr_candidate t = heap[i];
        heap[i] = heap[least];
        heap[least] = t;
        i = least;
    }
}

static int ranked_first(const void *a, const void *b) {
    const wr_candidate *x = a, *y = b;
    return below(*y, *x) ? -1 : below(*x, *y) ? 1 : 0;
}

/* The score of token v: its logit, penalised when marked; a NaN ranks below everything (so
   the candidates' order, which qsort is given, is a total one). */
static inline float penalised_score(const float *raw, const uint8_t *seen, int v, float penalty) {
    float x = raw[v];
    if (x != x) return -INFINITY;
    if (!seen[v]) return x;
    return x > 0.0f ? x / penalty : x * penalty;
}

static void sample_row(const float *raw, const uint8_t *seen, int V, float temperature,
                       float top_p, long top_k, float penalty, uint32_t seed, uint32_t step,
                       int K, wr_candidate *heap, int64_t *token, float *logprob) {
    /* The K best scores: the first K in a min-heap, then any score above its smallest. */
    float most = -INFINITY; /* the largest raw logit, for the log-probability */
    for (int v = 0; v < K; v++) {
        heap[v] = (wr_candidate){penalised_score(raw, seen, v, penalty), v};
        if (raw[v] > most) most = raw[v];
    }
    for (int i = K / 2 - 1; i >= 0; i--) sift_down(heap, K, i);
    const __m512 factor = _mm512_set1_ps(penalty), zero = _mm512_setzero_ps();
    __m512 rawmax = _mm512_set1_ps(most);
    int v = K;
    for (; v + 16 <= V; v += 16) {
        __m512 x = _mm512_loadu_ps(raw + v);
        rawmax = _mm512_max_ps(rawmax, x);
        __mmask16 marked = _mm_test_epi8_mask(_mm_loadu_si128((const __m128i *)(seen + v)),
                                              _mm_set1_epi8(-1));
        if (marked) {
            __mmask16 positive = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
            __m512 lowered = _mm512_mask_div_ps(_mm512_mul_ps(x, factor), positive, x, factor);
            x = _mm512_mask_blend_ps(marked, x, lowered);
        }
        /* Only a score at least the heap's smallest can enter (a tie, if its token is lower:
           never, the tokens come in order). */
        __mmask16 above = _mm512_cmp_ps_mask(x, _mm512_set1_ps(heap[0].value), _CMP_GT_OQ);
        while (above) {
            int lane = __builtin_ctz(above);
            above &= above - 1;
            float value = penalised_score(raw, seen, v + lane, penalty);
            if (value > heap[0].value) {
                heap[0] = (wr_candidate){value, v + lane};
                sift_down(heap, K, 0);
            }
        }
    }
    most = _mm512_reduce_max_ps(rawmax);
    for (; v < V; v++) {
        float value = penalised_score(raw, seen, v, penalty);
        if (raw[v] > most) most = raw[v];
        if (value > heap[0].value) {
            heap[0] = (wr_candidate){value, v};
            sift_down(heap, K, 0);
        }
    }
    qsort(heap, (size_t)K, sizeof *heap, ranked_first);

    int pick = 0;
    if (temperature > 0.0f) {
        const float t = temperature > 1e-5f ? temperature : 1e-5f;
        const int kept = top_k > 0 && top_k < K ? (int)top_k : K;
        /* The softmax of the kept scores over t (the largest is the first), as torch's:
           e^(x - max) times 1 / their sum. */
        float first = heap[0].value / t, sum = 0.0f;
        for (int i = 0; i < kept; i++) sum += expf(heap[i].value / t - first);
        const float inverse = 1.0f / sum;
        double mass = 0.0; /* the mass up to candidate i (torch's cumsum sums in double) */
        float best = -INFINITY;
        for (int i = 0; i < kept; i++) {
            float scaled = heap[i].value / t, p = expf(scaled - first) * inverse;
            mass += p;
            if ((float)mass - p >= top_p) continue; /* the mass before it reaches top-p */
            float drawn = scaled + noise(seed, step, (uint32_t)heap[i].token);
            if (drawn > best) best = drawn, pick = i;
        }
    }
    *token = heap[pick].token;
    /* log p(token) = raw[token] - most - log(sum of e^(raw - most)) over the vocabulary. */
    int u = 0;
    const __m512 m = _mm512_set1_ps(most);
    __m512 lanes = _mm512_setzero_ps();
    for (; u + 16 <= V; u += 16)
        lanes = _mm512_add_ps(lanes, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(raw + u), m)));
    double sum = _mm512_reduce_add_ps(lanes);
    for (; u < V; u++) sum += expf(raw[u] - most);
    *logprob = (float)((double)raw[*token] - (double)most - log(sum));
}

int wr_sample(const float *logits, long stride, const uint8_t *penalised, long pstride, int B,
              int V, const float *temperature, const float *top_p, const int64_t *top_k,
              const float *penalty, const int64_t *seed, const int64_t *drawn, int candidates,
              int64_t *tokens, float *logprobs) {
    if (candidates < 1 || candidates > V || V < 16) return -2;
    wr_candidate *heap = malloc((size_t)B * candidates * sizeof *heap);
    if (!heap) return -1;
#pragma omp parallel for schedule(static) if (B > 1)
    for (int r = 0; r < B; r++)
        sample_row(logits + r * stride, penalised + r * pstride, V, temperature[r], top_p[r],
                   (long)top_k[r], penalty[r], (uint32_t)seed[r], (uint32_t)drawn[r], candidates,
                   heap + (size_t)r * candidates, tokens + r, logprobs + r);
    free(heap);
    return 0;
}
