// The CUDA backend: smoe::Backend on one NVIDIA GPU (compute capability 8.0+). Activations, the KV cache and
// the routing plan live in device memory; weights are copied to the device once at load (upload_weights)
// and the model's Tensor views are rewritten to point at the copies. Every op is queued on one stream;
// download() synchronizes. Errors become smoe::Error (CUDA_ERROR naming the call or kernel, OUT_OF_MEMORY
// with figures), never an abort. This header needs no CUDA headers (it is included by the addon's C++).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../backend.h"
#include "../model/config.h"
#include "../model/weights.h"
#include "cuda_types.h"

struct CUstream_st;

namespace smoe::cuda {

class CudaBackend final : public Backend {
 public:
  // Throws DEVICE_UNAVAILABLE when `device` is not present, DEVICE_UNSUPPORTED when it is older than sm_80.
  CudaBackend(int device, Precision precision);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  const char* name() const override { return "cuda"; }
  int threads() const override { return 1; }
  int device() const { return device_; }
  Precision precision() const { return prec_; }
  const std::string& device_name() const { return device_name_; }

  // Device memory the weights of `w` take (tensors sharing host bytes, e.g. tied embeddings, counted once).
  static size_t weight_bytes(const ModelWeights& w);
  // Device memory for the model's workspace of one 256-token chunk and the expert scratch (the KV cache grows
  // later, with the sequence).
  static size_t workspace_bytes(const ModelConfig& c);
  // Throws OUT_OF_MEMORY, with the figures, when the weights and workspace do not fit in free device memory.
  // Allocates nothing.
  void check_fits(const ModelWeights& w, const ModelConfig& c) const;
  // Copies every weight to the device and points `w` at the copies (owned by this backend).
  void upload_weights(ModelWeights& w);
  // A device copy of one host tensor, owned by this backend (for op tests).
  Tensor upload_tensor(const Tensor& host);
  // host -> device copy of activations (for op tests).
  void upload(float* dst, const float* host, size_t floats);
  // Waits for every queued op; reports a failed kernel.
  void synchronize(const char* what);

  float* alloc(size_t floats) override;
  void release(float* p) override;
  void copy(float* dst, const float* src, size_t floats) override;
  void download(float* host, const float* src, size_t floats) override;

  void embed(float* out, const Tensor& table, const int32_t* ids, int T) override;
  void rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps) override;
  void matmul(float* out, const float* x, const Tensor& w, int T) override;
  void rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq, bool pairs) override;
  void attention(float* out, const float* q, const float* k, const float* v, int T, const int32_t* pos,
                 const AttentionParams& p) override;
  void gate_topk(const float* logits, int T, int E, int K, RoutePlan& plan) override;
  void plan_to_host(RoutePlan& plan) override;
  void moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                   const std::vector<ExpertWeights>& experts) override;
  void add(float* x, const float* y, size_t n) override;

 private:
  struct Buf {
    void* p = nullptr;
    size_t bytes = 0;
  };
  void use() const;                                  // makes device_ current on this thread
  void* grow(Buf& b, size_t bytes, const char* what);  // at least `bytes`, contents not kept
  void* device_alloc(size_t bytes, const char* what);
  // Uploads n ints/floats unless the last upload to `b` had the same contents (positions, inv_freq).
  const int32_t* upload_cached(Buf& b, std::vector<int32_t>& last, const int32_t* host, int n, const char* what);
  const float* upload_cached(Buf& b, std::vector<float>& last, const float* host, int n, const char* what);
  void ensure_plan(const RoutePlan& plan);           // a host-made plan -> device buffers

  int device_ = 0;
  Precision prec_;
  std::string device_name_;
  int sms_ = 1;
  CUstream_st* stream_ = nullptr;
  std::vector<void*> owned_;  // weight copies
  Buf ids_, pos_, inv_freq_, plan_ids_, plan_w_, plan_off_, plan_slots_, hidden_, partial_, attn_partial_;
  std::vector<int32_t> pos_last_;
  std::vector<float> inv_freq_last_;
  DevicePlan dplan_;
};

}  // namespace smoe::cuda
