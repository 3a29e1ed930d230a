/* Kernels of our own for a decode step on an x86 CPU with AVX-512 VNNI (`model.kernels`).

   wr_q8_matmul: out[m, n] = wscale[n] * sum_k w[n, k] * x[m, k], for float32 activations x [M, K]
   and int8 weights w [N, K] (one scale per output row, as `model.quant.Int8Weight` rounds them).
   The activations are rounded to int8 in blocks of 32 with one float32 scale a block (llama.cpp's
   Q8_0), so each 64-byte step is one VNNI instruction (64 multiply-adds into 16 int32 lanes).
   VNNI multiplies unsigned bytes by signed ones: each weight byte gets its top bit flipped as it
   is loaded (the int8 w read as the unsigned w + 128), and 128 * (the activations' sum) is taken
   off again, once a row (`shift`). Lanes 0-7 of a step hold block 2c, lanes 8-15 block 2c+1: each
   lane's int32 sum is exact, converted to float, scaled by its block's activation scale and
   summed in float32.

   wr_attend_f16: a decode step's attention over a float16 key/value cache, in float32.

   Threads: the work is shared by OpenMP's threads. Built against the libgomp torch has loaded
   (same soname), it runs in torch's own thread pool, with torch's thread count. */

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 32
#define STEP 64
#define MAX_ROWS 8

/* x [K] -> q [K] int8, lane_scale [K/4] (each 16-lane step: block 2c's scale in lanes 0-7,
   block 2c+1's in lanes 8-15), lane_sum [K/4] (128 * the sum of each lane's 4 values).
   With `norm`, x is first RMS-normalised and scaled by it, as Llama's RMSNorm does in float32:
   x * (1 / sqrt(mean(x^2) + eps)) * norm. */
static void quantize_row(const float *x, int K, int8_t *q, float *lane_scale, int32_t *lane_sum,
                         const float *norm, float eps) {
    const __m512i offset = _mm512_set1_epi8((char)0x80);
    __m512 r = _mm512_set1_ps(1.0f);
    if (norm) {
        __m512 squares = _mm512_setzero_ps();
        for (int k = 0; k < K; k += 16) {
            __m512 v = _mm512_loadu_ps(x + k);
            squares = _mm512_fmadd_ps(v, v, squares);
        }
        r = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(squares) / (float)K + eps));
    }
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
        for (int lane = 0; lane < 8; lane++) lane_scale[b * 8 + lane] = scale;
    }
    for (int c = 0; c < K / STEP; c++) {
        __m512i xq = _mm512_loadu_si512((const void *)(q + c * STEP));
        _mm512_storeu_si512((void *)(lane_sum + c * 16),
                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, xq));
    }
}

/* 64 weight bytes, read as unsigned (their top bit flipped: w + 128). */
static inline __m512i weights_at(const int8_t *w, __m512i top) {
    return _mm512_xor_si512(_mm512_loadu_si512((const void *)w), top);
}

/* acc + the 16 lanes' sums of 64 weights times 64 activations `x`, each lane's times its block's
   activation scale (`scale`: the step's 16 lane scales). */
static inline __m512 step_sums(__m512i w, const int8_t *x, const float *scale, __m512 acc) {
    __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w,
                                      _mm512_loadu_si512((const void *)x));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_loadu_ps(scale), acc);
}

/* Rows [first, first + rows) of the activations (rows <= MAX_ROWS) against every weight row.
   Each row's offset term (its `lane_sum`s, scaled) is the same for every weight row: `shift`. */
static void product(const int8_t *w, const float *wscale, int N, int K, const int8_t *q,
                    const float *lane_scale, const float *shift, int rows, float *out,
                    int out_stride) {
    const int steps = K / STEP;
    const __m512i top = _mm512_set1_epi8((char)0x80);
    if (rows == 1) { /* two accumulators: two independent chains of additions */
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            const int8_t *wn = w + (size_t)n * K;
            __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
            int c = 0;
            for (; c + 1 < steps; c += 2) {
                even = step_sums(weights_at(wn + c * STEP, top), q + c * STEP,
                                 lane_scale + c * 16, even);
                odd = step_sums(weights_at(wn + (c + 1) * STEP, top), q + (c + 1) * STEP,
                                lane_scale + (c + 1) * 16, odd);
            }
            if (c < steps)
                even = step_sums(weights_at(wn + c * STEP, top), q + c * STEP,
                                 lane_scale + c * 16, even);
            out[n] = (_mm512_reduce_add_ps(_mm512_add_ps(even, odd)) - shift[0]) * wscale[n];
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const int8_t *wn = w + (size_t)n * K;
        __m512 acc[MAX_ROWS];
        for (int m = 0; m < rows; m++) acc[m] = _mm512_setzero_ps();
        for (int c = 0; c < steps; c++) {
            __m512i wv = weights_at(wn + c * STEP, top); /* read once for every row */
            for (int m = 0; m < rows; m++)
                acc[m] = step_sums(wv, q + (size_t)m * K + c * STEP,
                                   lane_scale + (size_t)m * K / 4 + c * 16, acc[m]);
        }
        for (int m = 0; m < rows; m++)
            out[(size_t)m * out_stride + n] =
                (_mm512_reduce_add_ps(acc[m]) - shift[m]) * wscale[n];
    }
}

/* Scratch memory of this thread, grown as needed (calls come from the engine's one thread). */
static __thread void *scratch = NULL;
static __thread size_t scratch_bytes = 0;

/* out [M, N] = x [M, K] @ w^T * wscale, w int8 [N, K], K a multiple of 64; with `norm` (NULL:
   none), each row of x RMS-normalised first (`quantize_row`). Returns 0, or -1 when the scratch
   memory cannot be had (nothing written then). */
int wr_q8_matmul(const float *x, int M, int K, const int8_t *w, const float *wscale, int N,
                 float *out, const float *norm, float eps) {
    /* q: M*K bytes; lane_scale and lane_sum: M*K/4 four-byte values each; shift: M floats. */
    size_t need = (size_t)M * K * 3 + (size_t)M * 4 + 256;
    if (need > scratch_bytes) {
        void *grown = aligned_alloc(64, (need + 63) / 64 * 64);
        if (!grown) return -1;
        free(scratch);
        scratch = grown;
        scratch_bytes = (need + 63) / 64 * 64;
    }
    int8_t *q = scratch;
    float *lane_scale = (float *)(q + (size_t)M * K);
    int32_t *lane_sum = (int32_t *)(lane_scale + (size_t)M * K / 4);
    float *shift = (float *)(lane_sum + (size_t)M * K / 4);
    for (int m = 0; m < M; m++) {
        const size_t lanes = (size_t)m * K / 4;
        quantize_row(x + (size_t)m * K, K, q + (size_t)m * K, lane_scale + lanes, lane_sum + lanes,
                     norm, eps);
        __m512 total = _mm512_setzero_ps();
        for (int c = 0; c < K / STEP; c++)
            total = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(lane_sum + lanes + c * 16))),
                _mm512_loadu_ps(lane_scale + lanes + c * 16), total);
        shift[m] = _mm512_reduce_add_ps(total);
    }
    for (int first = 0; first < M; first += MAX_ROWS) {
        int rows = M - first < MAX_ROWS ? M - first : MAX_ROWS;
        product(w, wscale, N, K, q + (size_t)first * K, lane_scale + (size_t)first * K / 4,
                shift + first, rows, out + (size_t)first * N, N);
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

/* Attention of one new token per row over a float16 key/value cache (a decode step's):
   out [B, H, G, D] float32 = softmax(scale * q k^T) v for each row b and key/value head h, the G
   query heads of h together, over its first T columns. q [B, H, G, D] float32, contiguous; keys
   and values float16, element (b, h, t, d) at b * row + h * head + t * D + d (a cache's rows and
   heads, its columns contiguous). D a multiple of 16, at most 256; G at most 16. The scores and
   sums in float32. Returns 0, or -1 when scratch memory cannot be had. */
int wr_attend_f16(const float *q, const uint16_t *keys, const uint16_t *values, int B, int H, int G,
                  int T, int D, long row, long head, float scale, float *out) {
    if (D % 16 || D > 256 || G > 16) return -1;
    int failed = 0;
#pragma omp parallel for schedule(static) reduction(| : failed)
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        const uint16_t *k = keys + b * row + h * head;
        const uint16_t *v = values + b * row + h * head;
        const float *qs = q + (size_t)bh * G * D;
        float *scores = aligned_alloc(64, ((size_t)G * T * 4 + 63) / 64 * 64 + 64);
        if (!scores) {
            failed = 1;
            continue;
        }
        const int chunks = D / 16;
        float peak[16];
        for (int g = 0; g < G; g++) peak[g] = -INFINITY;
        for (int t = 0; t < T; t++) {
            __m512 kv[16];
            for (int c = 0; c < chunks; c++)
                kv[c] = halves_at(k + (size_t)t * D + c * 16);
            for (int g = 0; g < G; g++) {
                __m512 acc = _mm512_mul_ps(kv[0], _mm512_loadu_ps(qs + g * D));
                for (int c = 1; c < chunks; c++)
                    acc = _mm512_fmadd_ps(kv[c], _mm512_loadu_ps(qs + g * D + c * 16), acc);
                float s = _mm512_reduce_add_ps(acc) * scale;
                scores[(size_t)g * T + t] = s;
                if (s > peak[g]) peak[g] = s;
            }
        }
        float total[16];
        for (int g = 0; g < G; g++) {
            float *sg = scores + (size_t)g * T;
            __m512 top = _mm512_set1_ps(peak[g]), sum = _mm512_setzero_ps();
            int t = 0;
            for (; t + 16 <= T; t += 16) {
                __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(sg + t), top));
                _mm512_storeu_ps(sg + t, e);
                sum = _mm512_add_ps(sum, e);
            }
            if (t < T) {
                __mmask16 tail = (__mmask16)((1u << (T - t)) - 1);
                __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, sg + t), top));
                _mm512_mask_storeu_ps(sg + t, tail, e);
                sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(tail, e));
            }
            total[g] = _mm512_reduce_add_ps(sum);
        }
        __m512 acc[16 * 16];
        for (int i = 0; i < G * chunks; i++) acc[i] = _mm512_setzero_ps();
        for (int t = 0; t < T; t++) {
            __m512 vv[16];
            for (int c = 0; c < chunks; c++)
                vv[c] = halves_at(v + (size_t)t * D + c * 16);
            for (int g = 0; g < G; g++) {
                __m512 p = _mm512_set1_ps(scores[(size_t)g * T + t]);
                for (int c = 0; c < chunks; c++)
                    acc[g * chunks + c] = _mm512_fmadd_ps(p, vv[c], acc[g * chunks + c]);
            }
        }
        for (int g = 0; g < G; g++) {
            __m512 inverse = _mm512_set1_ps(1.0f / total[g]);
            for (int c = 0; c < chunks; c++)
                _mm512_storeu_ps(out + (size_t)bh * G * D + g * D + c * 16,
                                 _mm512_mul_ps(acc[g * chunks + c], inverse));
        }
        free(scores);
    }
    return failed ? -1 : 0;
}
