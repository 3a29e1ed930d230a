/* An int8 matrix-vector product for a decode step on an x86 CPU with AVX-512 VNNI (`model.q8`).

   out[m, n] = wscale[n] * sum_k w[n, k] * x[m, k], for float32 activations x [M, K] and int8
   weights w [N, K] (one scale per output row, as `model.quant.Int8Weight` rounds them).

   The activations are rounded to int8 in blocks of 32 with one float32 scale a block (llama.cpp's
   Q8_0), so each 64-byte step is one VNNI instruction (64 multiply-adds into 16 int32 lanes).
   VNNI multiplies unsigned bytes by signed ones: each weight byte gets its top bit flipped as it is
   loaded (the int8 w read as the unsigned w + 128), and 128 * (the activations' sum) is taken off
   again, once a row (`shift`). Lanes 0-7 of a step hold block 2c, lanes 8-15 block 2c+1: each lane's int32 sum
   is exact, converted to float, scaled by its block's activation scale and summed in float32.

   Threads: the output rows are shared by OpenMP's threads. Built against the libgomp torch has
   loaded (same soname), it runs in torch's own thread pool, with torch's thread count. */

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

/* Rows [first, first + rows) of the activations (rows <= MAX_ROWS) against every weight row.
   Each row's offset term (its `lane_sum`s, scaled) is the same for every weight row: `shift`. */
static void product(const int8_t *w, const float *wscale, int N, int K, const int8_t *q,
                    const float *lane_scale, const float *shift, int rows, float *out,
                    int out_stride) {
    const int steps = K / STEP;
    const __m512i top = _mm512_set1_epi8((char)0x80);
    if (rows == 1) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            const int8_t *wn = w + (size_t)n * K;
            __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
            int c = 0;
            for (; c + 1 < steps; c += 2) {
                __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                                _mm512_xor_si512(_mm512_loadu_si512((const void *)(wn + c * STEP)), top),
                                                _mm512_loadu_si512((const void *)(q + c * STEP)));
                __m512i b = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(), _mm512_xor_si512(_mm512_loadu_si512((const void *)(wn + c * STEP + STEP)), top),
                    _mm512_loadu_si512((const void *)(q + c * STEP + STEP)));
                even = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(lane_scale + c * 16), even);
                odd = _mm512_fmadd_ps(_mm512_cvtepi32_ps(b), _mm512_loadu_ps(lane_scale + c * 16 + 16), odd);
            }
            if (c < steps) {
                __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                                _mm512_xor_si512(_mm512_loadu_si512((const void *)(wn + c * STEP)), top),
                                                _mm512_loadu_si512((const void *)(q + c * STEP)));
                even = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(lane_scale + c * 16), even);
            }
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
            __m512i wv = _mm512_xor_si512(_mm512_loadu_si512((const void *)(wn + c * STEP)), top);
            for (int m = 0; m < rows; m++) {
                const size_t at = (size_t)m * K;
                __m512i sum = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(), wv, _mm512_loadu_si512((const void *)(q + at + c * STEP)));
                acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum),
                                         _mm512_loadu_ps(lane_scale + at / 4 + c * 16), acc[m]);
            }
        }
        for (int m = 0; m < rows; m++)
            out[(size_t)m * out_stride + n] = (_mm512_reduce_add_ps(acc[m]) - shift[m]) * wscale[n];
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
            total = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(lane_sum + lanes + c * 16))),
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
