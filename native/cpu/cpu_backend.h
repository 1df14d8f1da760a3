// The CPU backend: a thread pool plus SIMD kernels chosen at run time (AVX-512, AVX2/FMA/F16C, or portable).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../backend.h"
#include "../core/thread_pool.h"
#include "matmul_tile.h"
#include "quant_matmul.h"
#include "repack.h"

namespace smoe::cpu {

// "avx512", "avx2" or "generic": the best this CPU supports, or `want` when given and supported.
std::string select_simd(const std::string& want);
MatmulFn matmul_kernel(const std::string& simd);
QuantMatmulFn quant_matmul_kernel(const std::string& simd);

// An activation x[T, K] in every form the weights of one call read: the F32 rows (F32 / F16 / BF16
// weights) and, made once by CpuBackend::prepare_x, the 8-bit rows of each activation format a quantized
// weight among them needs (q[int(act_format(w.dtype))], quant_matmul.h). Row t of format f starts at
// q[f] + t * act_row_bytes(f, K).
struct PreparedX {
  const float* f32 = nullptr;
  int64_t T = 0, K = 0;
  const void* q[kActFormats] = {};
};
// The memory behind a PreparedX's quantized rows, reused from call to call.
struct ActScratch {
  std::vector<uint8_t> buf[kActFormats];
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(int threads, const std::string& simd);
  const char* name() const override { return "cpu"; }
  int threads() const override { return pool_.size(); }
  const std::string& simd() const { return simd_; }

  float* alloc(size_t floats) override;
  void release(float* p) override;
  void copy(float* dst, const float* src, size_t floats) override;
  void download(float* host, const float* src, size_t floats) override;

  void embed(float* out, const Tensor& table, const int32_t* ids, int T) override;
  void rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps) override;
  void matmul(float* out, const float* x, const Tensor& w, int T) override;
  void matmul_many(const Projection* p, int n, const float* x, int T) override;
  void rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq, bool pairs) override;
  void attention(float* out, const float* q, const float* k, const float* v, int T, const int32_t* pos,
                 const AttentionParams& p) override;
  void attention_f16(float* out, const float* q, const uint16_t* k, const uint16_t* v, int T, const int32_t* pos,
                     const AttentionParams& p) override;
  void store_f16(uint16_t* dst, const float* x, size_t n) override;
  void gate_topk(const float* logits, int T, int E, int K, RoutePlan& plan) override;
  void moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                   const std::vector<ExpertWeights>& experts) override;
  void add(float* x, const float* y, size_t n) override;

  // Whether this backend's kernels read weights of type t faster with their rows interleaved (repack.h):
  // Q8_0 and Q4_K on the x86 kernels.
  bool interleaves(DType t) const { return simd_ != "generic" && interleaved(t) != t; }
  // Rewrites w (its bytes writable, shared with no other tensor) in that layout and retypes it, when
  // interleaves(w.dtype); else leaves it. Any thread; the pool is not used.
  void interleave(Tensor& w) const {
    if (!interleaves(w.dtype) || w.rows < 8) return;
    interleave_rows(const_cast<void*>(w.data), w.dtype, w.rows, w.cols);
    w.dtype = interleaved(w.dtype);
  }

  // x[T, K] prepared for the weights ws[0 .. n) (their dtypes decide which 8-bit formats are made, each once,
  // the rows split across the pool); the result points into `scratch` and x.
  PreparedX prepare_x(const float* x, int64_t T, int64_t K, const Tensor* const* ws, int n, ActScratch& scratch);
  // out[t * ldo + o] = x[t, :] . w[o, :] for t in [0, x.T), o in [o0, o1), any weight dtype; x must have been
  // prepared for w (and x.K == w.cols). Runs on the calling thread: split [0, w.rows) across the pool yourself.
  void matmul_rows(float* out, int64_t ldo, const PreparedX& x, const Tensor& w, int64_t o0, int64_t o1) const {
    if (is_quantized(w.dtype))
      qmm_(out, ldo, x.q[int(act_format(w.dtype))], x.T, x.K, w.data, w.dtype, w.rows, o0, o1);
    else
      mm_(out, ldo, x.f32, x.T, x.K, w.data, w.dtype, o0, o1);
  }

 private:
  // out[T, ldo] columns [o0, o1) of x[T, K] @ w^T, split across the pool.
  void matmul_cols(float* out, int64_t ldo, const float* x, int64_t T, const Tensor& w);
  ThreadPool pool_;
  std::string simd_;
  MatmulFn mm_;
  QuantMatmulFn qmm_;
  ActScratch act_;  // quantized activations of matmul / matmul_many
  std::vector<const Tensor*> many_ws_;  // matmul_many's weights, reused across calls
  // moe_experts scratch, reused across calls: the active experts of a call and their rows.
  struct Group {
    int expert, begin, n;  // expert id; its slots are plan.slots[begin, begin + n)
    int64_t I;             // its intermediate size (rows of w1 / w3)
    size_t row, hidden;    // first row of its tokens in gathered_ / expert_out_, first float in hidden_ / 2
    size_t hq[kActFormats];  // first byte of its A rows in act_hidden_.buf[f]
    double cost;           // phase-1 cost of the groups before it
  };
  std::vector<Group> groups_;
  std::vector<float> gathered_, hidden_, expert_out_;
  ActScratch act_gathered_, act_hidden_;  // the gathered x and the SwiGLU output A, in the formats w1/w3, w2 read
};

}  // namespace smoe::cpu
