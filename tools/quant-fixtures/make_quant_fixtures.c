// Writes test/fixtures/quant/ggml-reference.json: for each ggml weight type smoe computes, llama.cpp's own
// (ggml) results on the same bytes, so test/quant.test.mjs can check smoe against them:
//   dequant: rows of random blocks (random quants and scales, with extreme fp16 scales and mins mixed in:
//            +-65504, the smallest normal, subnormals, +-0) and ggml's dequantize_row_* of them (to_float);
//   matmul:  a weight quantized by ggml (ggml_quantize_chunk, no imatrix) from random floats, activations
//            x [T, K] for T = 1 and 7, and ggml's CPU mul_mat result (8-bit activations, integer dots).
// Built and run by tools/quant-fixtures/make-quant-fixtures.sh (links the llama.cpp build in /tmp/llama).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-cpu.h"
#include "ggml.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}
static float uniform(void) { return (next_u32() & 0xFFFFFF) / 16777216.0f; }
static float normal(void) {
  float u = uniform() + 1e-7f, v = uniform();
  return sqrtf(-2.f * logf(u)) * cosf(6.2831853f * v);
}

static void b64(FILE* f, const void* data, size_t n) {
  static const char* T = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const uint8_t* p = data;
  fputc('"', f);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    fputc(T[v >> 18 & 63], f); fputc(T[v >> 12 & 63], f);
    fputc(i + 1 < n ? T[v >> 6 & 63] : '=', f); fputc(i + 2 < n ? T[v & 63] : '=', f);
  }
  fputc('"', f);
}

// A random fp16 scale: mostly ordinary magnitudes, often an extreme one.
static uint16_t scale_bits(void) {
  static const uint16_t extreme[] = {0x7BFF, 0xFBFF, 0x0400, 0x8400, 0x0001, 0x8001, 0x03FF, 0x0200, 0x0000, 0x8000};
  if (next_u32() % 4 == 0) return extreme[next_u32() % (sizeof extreme / sizeof extreme[0])];
  return ggml_fp32_to_fp16(normal() * 0.05f);
}

struct type_desc {
  enum ggml_type type;
  const char* name;
  int half_offsets[2];  // byte offsets of the block's fp16 fields (-1: none)
  int k_matmul;         // inner size of the matmul case (several blocks, not a power of two)
};

static const struct type_desc TYPES[] = {
    {GGML_TYPE_Q8_0, "Q8_0", {0, -1}, 288}, {GGML_TYPE_Q4_0, "Q4_0", {0, -1}, 288},
    {GGML_TYPE_Q4_1, "Q4_1", {0, 2}, 288},  {GGML_TYPE_Q5_0, "Q5_0", {0, -1}, 288},
    {GGML_TYPE_Q5_1, "Q5_1", {0, 2}, 288},  {GGML_TYPE_Q2_K, "Q2_K", {80, 82}, 768},
    {GGML_TYPE_Q3_K, "Q3_K", {108, -1}, 768}, {GGML_TYPE_Q4_K, "Q4_K", {0, 2}, 768},
    {GGML_TYPE_Q5_K, "Q5_K", {0, 2}, 768},  {GGML_TYPE_Q6_K, "Q6_K", {208, -1}, 768},
};

int main(int argc, char** argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s OUT.json\n", argv[0]); return 2; }
  FILE* f = fopen(argv[1], "w");
  if (!f) { perror(argv[1]); return 1; }
  ggml_cpu_init();
  fprintf(f, "{\n  \"source\": \"tools/quant-fixtures/make_quant_fixtures.c against llama.cpp's ggml\",\n  \"types\": {\n");
  const int ntypes = sizeof TYPES / sizeof TYPES[0];
  for (int ti = 0; ti < ntypes; ++ti) {
    const struct type_desc* d = &TYPES[ti];
    const struct ggml_type_traits* tr = ggml_get_type_traits(d->type);
    const int64_t blk = tr->blck_size;
    const size_t bsz = tr->type_size;

    // Dequantization: 6 rows of 512 elements of random bytes with chosen fp16 fields.
    const int64_t drows = 6, dcols = 512, nblocks = drows * dcols / blk;
    uint8_t* raw = malloc(nblocks * bsz);
    for (size_t i = 0; i < nblocks * bsz; ++i) raw[i] = (uint8_t)next_u32();
    for (int64_t b = 0; b < nblocks; ++b)
      for (int h = 0; h < 2; ++h)
        if (d->half_offsets[h] >= 0) {
          uint16_t s = scale_bits();
          memcpy(raw + b * bsz + d->half_offsets[h], &s, 2);
        }
    float* deq = malloc(sizeof(float) * drows * dcols);
    tr->to_float(raw, deq, drows * dcols);

    // Matmul: W [O, K] quantized by ggml from normal floats; x [T, K]; out [T, O] by ggml's CPU mul_mat.
    const int64_t O = 37, K = d->k_matmul;
    float* wf = malloc(sizeof(float) * O * K);
    for (int64_t i = 0; i < O * K; ++i) wf[i] = normal() * 0.1f;
    const size_t wbytes = ggml_row_size(d->type, K) * O;
    uint8_t* wq = malloc(wbytes);
    ggml_quantize_chunk(d->type, wf, wq, 0, O, K, NULL);

    fprintf(f, "    \"%s\": {\n      \"dequant\": { \"rows\": %lld, \"cols\": %lld, \"blocks\": ", d->name,
            (long long)drows, (long long)dcols);
    b64(f, raw, nblocks * bsz);
    fprintf(f, ", \"out\": ");
    b64(f, deq, sizeof(float) * drows * dcols);
    fprintf(f, " },\n      \"matmul\": { \"rows\": %lld, \"cols\": %lld, \"w\": ", (long long)O, (long long)K);
    b64(f, wq, wbytes);
    fprintf(f, ", \"cases\": [");
    const int Ts[2] = {1, 7};
    for (int c = 0; c < 2; ++c) {
      const int T = Ts[c];
      struct ggml_init_params ip = {64 * 1024 * 1024, NULL, false};
      struct ggml_context* ctx = ggml_init(ip);
      struct ggml_tensor* a = ggml_new_tensor_2d(ctx, d->type, K, O);
      memcpy(a->data, wq, wbytes);
      struct ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, T);
      float* xd = x->data;
      for (int64_t i = 0; i < K * T; ++i) xd[i] = normal();
      struct ggml_tensor* y = ggml_mul_mat(ctx, a, x);
      struct ggml_cgraph* gf = ggml_new_graph(ctx);
      ggml_build_forward_expand(gf, y);
      ggml_graph_compute_with_ctx(ctx, gf, 1);
      fprintf(f, "%s{ \"T\": %d, \"x\": ", c ? ", " : "", T);
      b64(f, xd, sizeof(float) * K * T);
      fprintf(f, ", \"out\": ");
      b64(f, y->data, sizeof(float) * O * T);
      fprintf(f, " }");
      ggml_free(ctx);
    }
    fprintf(f, "] }\n    }%s\n", ti + 1 < ntypes ? "," : "");
    free(raw); free(deq); free(wf); free(wq);
  }
  fprintf(f, "  }\n}\n");
  fclose(f);
  return 0;
}
