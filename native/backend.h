// The op table every backend implements (cpu/ now, cuda/ next). The Mixtral graph in model/ is written
// once against it. Activations are F32 buffers that live where the backend computes (host memory for the
// CPU); weights are Tensors in their stored dtype. Legend: T tokens, D hidden, I expert intermediate,
// E experts, K experts per token, H query heads, G kv heads, Hd head dim, V vocab.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include <string>

#include "core/error.h"
#include "core/tensor.h"

namespace smoe {

// Which tokens go to which expert, as data both backends consume (the grouped-GEMM plan).
struct RoutePlan {
  int tokens = 0, experts = 0, top_k = 0;
  std::vector<int32_t> expert_ids;  // [T, K] chosen experts, by descending router score
  std::vector<float> weights;       // [T, K] softmax probabilities of the chosen, renormalized to sum to 1
  std::vector<int32_t> offsets;     // [E + 1] start of each expert's group in `slots`
  std::vector<int32_t> slots;       // [T * K] grouped by expert: entry = token * K + j
  // Set by a backend that keeps the plan in its own memory (CUDA): the host vectors above are then left
  // empty until Backend::plan_to_host fills them. Null for a plan built on the host (CPU).
  const void* device = nullptr;
};

struct ExpertWeights {
  Tensor w1, w3;  // [I, D] gate and up projections
  Tensor w2;      // [D, I] down projection
};

struct AttentionParams {
  int heads = 0, kv_heads = 0, head_dim = 0;
  int window = 0;  // sliding window in tokens (a query at p sees keys p-window+1..p); 0 = unlimited
  float scale = 1.f;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int threads() const = 0;

  // Memory where this backend's activations live.
  virtual float* alloc(size_t floats) = 0;
  virtual void release(float* p) = 0;
  virtual void copy(float* dst, const float* src, size_t floats) = 0;     // within backend memory
  virtual void download(float* host, const float* src, size_t floats) = 0;  // backend -> host

  // out[T, D] = table[ids[t], :] as F32.
  virtual void embed(float* out, const Tensor& table, const int32_t* ids, int T) = 0;
  // out[T, D] = x * rsqrt(mean(x^2) + eps) * w.
  virtual void rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps) = 0;
  // out[T, O] = x[T, Ik] @ w[O, Ik]^T, fp32 accumulation, w converted to fp32 in registers.
  virtual void matmul(float* out, const float* x, const Tensor& w, int T) = 0;
  // Several projections of the same input, outs[i][T, w_i.rows] = x[T, Ik] @ w_i^T (e.g. q, k, v). A backend
  // may run them as one pass; the default runs them one by one.
  struct Projection { float* out; const Tensor* w; };
  virtual void matmul_many(const Projection* p, int n, const float* x, int T) {
    for (int i = 0; i < n; ++i) matmul(p[i].out, x, *p[i].w, T);
  }
  // RoPE in place on x[T, heads * Hd] at positions pos[T]; inv_freq[Hd / 2]. Frequency i rotates the pair
  // (i, i + Hd/2) (rotate-half, HF layout) or, with `pairs`, the adjacent pair (2i, 2i + 1) (llama.cpp's
  // NORM mode, for q/k rows permuted as GGUF files store them).
  virtual void rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq,
                    bool pairs) = 0;
  // Causal GQA attention of q[T, H * Hd] at positions pos[T] over the cache k, v[positions, G * Hd]
  // (which already holds these tokens); out[T, H * Hd].
  virtual void attention(float* out, const float* q, const float* k, const float* v, int T, const int32_t* pos,
                         const AttentionParams& p) = 0;
  // The same over a cache stored as IEEE half, k, v[positions, G * Hd] F16 (widened to fp32 as read).
  virtual void attention_f16(float* out, const float* q, const uint16_t* k, const uint16_t* v, int T,
                             const int32_t* pos, const AttentionParams& p) {
    (void)out; (void)q; (void)k; (void)v; (void)T; (void)pos; (void)p;
    throw Error("UNSUPPORTED", std::string("an F16 KV cache is not implemented on the ") + name() + " backend yet");
  }
  // dst[n] F16 = x[n] F32 rounded to nearest even (writing K/V rows into an F16 cache).
  virtual void store_f16(uint16_t* dst, const float* x, size_t n) {
    (void)dst; (void)x; (void)n;
    throw Error("UNSUPPORTED", std::string("an F16 KV cache is not implemented on the ") + name() + " backend yet");
  }
  // Router: logits[T, E] -> softmax over E -> top-K (ties: lowest id) -> renormalize -> plan.
  virtual void gate_topk(const float* logits, int T, int E, int K, RoutePlan& plan) = 0;
  // Makes every host vector of a plan made by gate_topk readable (a no-op where it was built on the host).
  virtual void plan_to_host(RoutePlan& plan) { (void)plan; }
  // out[T, D] = sum_j weight[t, j] * w2_e(silu(w1_e x_t) * (w3_e x_t)), e = expert_ids[t, j], grouped by expert.
  virtual void moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                           const std::vector<ExpertWeights>& experts) = 0;
  // x[n] += y[n].
  virtual void add(float* x, const float* y, size_t n) = 0;
};

}  // namespace smoe
