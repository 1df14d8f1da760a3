// CudaBackend: memory, transfers, weight upload and the op table (each op a launcher from kernels.h).
#include "cuda_backend.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "cuda_check.h"
#include "device_info.h"
#include "kernels.h"

namespace smoe::cuda {
namespace {

std::string mib(size_t bytes) {
  char b[64];
  std::snprintf(b, sizeof b, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return b;
}
std::string gib(size_t bytes) {
  char b[64];
  std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
  return b;
}

cudaStream_t S(CUstream_st* s) { return s; }

template <class F>
void for_each_tensor(const ModelWeights& w, F&& f) {
  f(w.embed);
  f(w.norm);
  f(w.lm_head);
  for (const LayerWeights& l : w.layers) {
    for (const Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.gate}) f(*t);
    for (const ExpertWeights& e : l.experts) { f(e.w1); f(e.w3); f(e.w2); }
  }
}
template <class F>
void for_each_tensor_mut(ModelWeights& w, F&& f) {
  f(w.embed);
  f(w.norm);
  f(w.lm_head);
  for (LayerWeights& l : w.layers) {
    for (Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.gate}) f(*t);
    for (ExpertWeights& e : l.experts) { f(e.w1); f(e.w3); f(e.w2); }
  }
}

}  // namespace

CudaBackend::CudaBackend(int device, Precision precision) : device_(device), prec_(precision) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error("DEVICE_UNAVAILABLE", "device 'cuda:" + std::to_string(device) + "' is not available: " +
                                          cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
  }
  if (device < 0 || device >= n)
    throw Error("DEVICE_UNAVAILABLE", "device 'cuda:" + std::to_string(device) + "' is not present (this machine has " +
                                          std::to_string(n) + " CUDA device" + (n == 1 ? "" : "s") + ")");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  device_name_ = p.name;
  sms_ = std::max(1, p.multiProcessorCount);
  if (p.major < kMinMajor)
    throw Error("DEVICE_UNSUPPORTED", "device 'cuda:" + std::to_string(device) + "' (" + device_name_ +
                                          ", compute capability " + std::to_string(p.major) + "." +
                                          std::to_string(p.minor) + ") is older than the 8.0 smoe's CUDA kernels need");
  use();
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  stream_ = s;
}

CudaBackend::~CudaBackend() {
  // Never throws: errors while tearing down are ignored (the context may already be in an error state).
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(S(stream_));
  for (Buf* b : {&ids_, &pos_, &inv_freq_, &plan_ids_, &plan_w_, &plan_off_, &plan_slots_, &hidden_, &partial_, &attn_partial_})
    if (b->p) cudaFree(b->p);
  for (void* p : owned_) cudaFree(p);
  if (stream_) cudaStreamDestroy(S(stream_));
  cudaGetLastError();
}

void CudaBackend::use() const { check(cudaSetDevice(device_), "cudaSetDevice"); }

void* CudaBackend::device_alloc(size_t bytes, const char* what) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 256));
  if (e == cudaSuccess) return p;
  cudaGetLastError();
  if (e == cudaErrorMemoryAllocation) {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    throw Error("OUT_OF_MEMORY", std::string("cannot allocate ") + mib(bytes) + " of GPU memory for " + what + " on cuda:" +
                                     std::to_string(device_) + " (" + device_name_ + "): " + mib(free_b) + " free of " +
                                     mib(total_b));
  }
  throw_cuda(e, std::string("cudaMalloc (") + what + ")");
}

void* CudaBackend::grow(Buf& b, size_t bytes, const char* what) {
  if (bytes <= b.bytes && b.p) return b.p;
  if (b.p) {
    synchronize(what);  // kernels queued earlier may still read the old buffer
    cudaFree(b.p);
    b = {};
  }
  const size_t want = std::max<size_t>(bytes + bytes / 4, 1024);  // some headroom against regrowth
  b.p = device_alloc(want, what);
  b.bytes = want;
  return b.p;
}

void CudaBackend::synchronize(const char* what) {
  cudaError_t e = cudaStreamSynchronize(S(stream_));
  if (e != cudaSuccess)
    throw_cuda(e, std::string(what) + ": waiting for queued kernels (a kernel launched earlier failed; run with "
                                      "SMOE_CUDA_SYNC=1 to name it)");
}

size_t CudaBackend::weight_bytes(const ModelWeights& w) {
  std::map<const void*, size_t> seen;
  for_each_tensor(w, [&](const Tensor& t) {
    size_t& b = seen[t.data];
    b = std::max(b, t.bytes());
  });
  size_t total = 0;
  for (auto& kv : seen) total += (kv.second + 255) / 256 * 256;
  return total;
}

size_t CudaBackend::workspace_bytes(const ModelConfig& c) {
  const size_t T = 256, D = size_t(c.hidden), Q = size_t(c.heads) * c.head_dim, E = size_t(c.experts);
  const size_t K = size_t(c.top_k), I = size_t(c.intermediate), V = size_t(c.vocab);
  const size_t model_ws = T * (4 * D + 2 * Q + E + V);
  const size_t expert_scratch = (T * K * (I + D)) * 5 / 4;   // hidden + partial, with grow() headroom
  const size_t kv_first = 64 * size_t(c.kv_heads) * c.head_dim * 2 * size_t(c.layers);  // the cache's first 64 rows
  return (model_ws + expert_scratch + kv_first) * sizeof(float) + (64u << 20);  // + 64 MiB for small buffers
}

void CudaBackend::check_fits(const ModelWeights& w, const ModelConfig& c) const {
  use();
  size_t free_b = 0, total_b = 0;
  check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  const size_t wb = weight_bytes(w), ws = workspace_bytes(c);
  if (wb + ws > free_b)
    throw Error("OUT_OF_MEMORY", "the model needs " + gib(wb + ws) + " of GPU memory (weights " + gib(wb) +
                                     " + workspace " + gib(ws) + ") but cuda:" + std::to_string(device_) + " (" +
                                     device_name_ + ") has " + gib(free_b) + " free of " + gib(total_b));
}

// The CUDA kernels read F32 / F16 / BF16 only: a quantized weight is refused, never computed wrongly.
static void refuse_quantized(const Tensor& t, const char* what) {
  if (is_quantized(t.dtype))
    throw Error("UNSUPPORTED_QUANT", std::string("the CUDA backend cannot compute ") + dtype_name(t.dtype) + " weights (" +
                                         what + "); use the CPU backend for quantized models");
}

void CudaBackend::upload_weights(ModelWeights& w) {
  use();
  for_each_tensor(w, [&](const Tensor& t) { refuse_quantized(t, "model weights"); });
  std::map<const void*, std::pair<size_t, void*>> copies;  // host bytes -> (size, device copy)
  for_each_tensor(w, [&](const Tensor& t) {
    auto& c = copies[t.data];
    c.first = std::max(c.first, t.bytes());
  });
  for (auto& kv : copies) {
    void* d = device_alloc(kv.second.first, "model weights");
    owned_.push_back(d);
    check(cudaMemcpy(d, kv.first, kv.second.first, cudaMemcpyHostToDevice), "cudaMemcpy (weights to the GPU)");
    kv.second.second = d;
  }
  for_each_tensor_mut(w, [&](Tensor& t) { t.data = copies[t.data].second; });
}

Tensor CudaBackend::upload_tensor(const Tensor& host) {
  use();
  refuse_quantized(host, "a tensor");
  void* d = device_alloc(host.bytes(), "a tensor");
  owned_.push_back(d);
  check(cudaMemcpy(d, host.data, host.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy (tensor to the GPU)");
  return Tensor{d, host.dtype, host.rows, host.cols};
}

void CudaBackend::upload(float* dst, const float* host, size_t floats) {
  use();
  check(cudaMemcpyAsync(dst, host, floats * sizeof(float), cudaMemcpyHostToDevice, S(stream_)), "cudaMemcpyAsync (upload)");
}

float* CudaBackend::alloc(size_t floats) {
  use();
  return static_cast<float*>(device_alloc(floats * sizeof(float), "activations"));
}

void CudaBackend::release(float* p) {
  if (!p) return;
  // Never throws (called from destructors); the stream is drained first since queued kernels may use p.
  cudaSetDevice(device_);
  cudaStreamSynchronize(S(stream_));
  cudaFree(p);
  cudaGetLastError();
}

void CudaBackend::copy(float* dst, const float* src, size_t floats) {
  use();
  check(cudaMemcpyAsync(dst, src, floats * sizeof(float), cudaMemcpyDeviceToDevice, S(stream_)), "cudaMemcpyAsync (device copy)");
}

void CudaBackend::download(float* host, const float* src, size_t floats) {
  use();
  check(cudaMemcpyAsync(host, src, floats * sizeof(float), cudaMemcpyDeviceToHost, S(stream_)), "cudaMemcpyAsync (download)");
  synchronize("download");
}

const int32_t* CudaBackend::upload_cached(Buf& b, std::vector<int32_t>& last, const int32_t* host, int n, const char* what) {
  const size_t bytes = size_t(n) * sizeof(int32_t);
  const void* before = b.p;
  grow(b, bytes, what);
  if (b.p != before || last.size() != size_t(n) || std::memcmp(last.data(), host, bytes) != 0) {
    check(cudaMemcpyAsync(b.p, host, bytes, cudaMemcpyHostToDevice, S(stream_)), what);
    last.assign(host, host + n);
  }
  return static_cast<const int32_t*>(b.p);
}

const float* CudaBackend::upload_cached(Buf& b, std::vector<float>& last, const float* host, int n, const char* what) {
  const size_t bytes = size_t(n) * sizeof(float);
  const void* before = b.p;
  grow(b, bytes, what);
  if (b.p != before || last.size() != size_t(n) || std::memcmp(last.data(), host, bytes) != 0) {
    check(cudaMemcpyAsync(b.p, host, bytes, cudaMemcpyHostToDevice, S(stream_)), what);
    last.assign(host, host + n);
  }
  return static_cast<const float*>(b.p);
}

void CudaBackend::embed(float* out, const Tensor& table, const int32_t* ids, int T) {
  use();
  void* d = grow(ids_, size_t(T) * sizeof(int32_t), "token ids");
  check(cudaMemcpyAsync(d, ids, size_t(T) * sizeof(int32_t), cudaMemcpyHostToDevice, S(stream_)), "cudaMemcpyAsync (token ids)");
  launch_embed(out, table, static_cast<const int32_t*>(d), T, S(stream_));
}

void CudaBackend::rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps) {
  use();
  launch_rmsnorm(out, x, w, T, D, eps, S(stream_));
}

void CudaBackend::matmul(float* out, const float* x, const Tensor& w, int T) {
  use();
  launch_matmul(out, size_t(w.rows), x, w, T, prec_, S(stream_));
}

void CudaBackend::rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq, bool pairs) {
  use();
  const int32_t* dpos = upload_cached(pos_, pos_last_, pos, T, "cudaMemcpyAsync (positions)");
  const float* dinv = upload_cached(inv_freq_, inv_freq_last_, inv_freq, head_dim / 2, "cudaMemcpyAsync (rope inv_freq)");
  launch_rope(x, T, heads, head_dim, dpos, dinv, pairs, S(stream_));
}

void CudaBackend::attention(float* out, const float* q, const float* k, const float* v, int T, const int32_t* pos,
                            const AttentionParams& p) {
  use();
  if (T <= 0) return;
  const int32_t* dpos = upload_cached(pos_, pos_last_, pos, T, "cudaMemcpyAsync (positions)");
  int lo = INT32_MAX, hi = -1;
  for (int t = 0; t < T; ++t) {
    hi = std::max(hi, pos[t]);
    lo = std::min(lo, p.window > 0 ? std::max(0, pos[t] - p.window + 1) : 0);
  }
  const int splits = attention_splits(T, p.heads, p.kv_heads, hi - lo + 1, sms_);
  const size_t pf = attention_partial_floats(T, p.heads, p.head_dim, splits);
  float* partial = pf ? static_cast<float*>(grow(attn_partial_, pf * sizeof(float), "attention split-KV scratch")) : nullptr;
  launch_attention(AttentionLaunch{out, q, k, v, dpos, T, p}, splits, partial, S(stream_));
}

void CudaBackend::gate_topk(const float* logits, int T, int E, int K, RoutePlan& plan) {
  use();
  const size_t n = size_t(T) * K;
  dplan_.ids = static_cast<int32_t*>(grow(plan_ids_, n * sizeof(int32_t), "routing plan"));
  dplan_.weights = static_cast<float*>(grow(plan_w_, n * sizeof(float), "routing plan"));
  dplan_.offsets = static_cast<int32_t*>(grow(plan_off_, (size_t(E) + 1) * sizeof(int32_t), "routing plan"));
  dplan_.slots = static_cast<int32_t*>(grow(plan_slots_, n * sizeof(int32_t), "routing plan"));
  dplan_.tokens = T;
  dplan_.experts = E;
  dplan_.top_k = K;
  launch_gate_topk(logits, T, E, K, dplan_, S(stream_));
  plan.tokens = T;
  plan.experts = E;
  plan.top_k = K;
  plan.expert_ids.clear();
  plan.weights.clear();
  plan.offsets.clear();
  plan.slots.clear();
  plan.device = &dplan_;
}

void CudaBackend::plan_to_host(RoutePlan& plan) {
  if (plan.device != &dplan_) return;  // a host plan already
  use();
  const size_t n = size_t(dplan_.tokens) * dplan_.top_k;
  plan.expert_ids.resize(n);
  plan.weights.resize(n);
  plan.offsets.resize(size_t(dplan_.experts) + 1);
  plan.slots.resize(n);
  cudaStream_t s = S(stream_);
  check(cudaMemcpyAsync(plan.expert_ids.data(), dplan_.ids, n * sizeof(int32_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (plan ids)");
  check(cudaMemcpyAsync(plan.weights.data(), dplan_.weights, n * sizeof(float), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (plan weights)");
  check(cudaMemcpyAsync(plan.offsets.data(), dplan_.offsets, plan.offsets.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, s),
        "cudaMemcpyAsync (plan offsets)");
  check(cudaMemcpyAsync(plan.slots.data(), dplan_.slots, n * sizeof(int32_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (plan slots)");
  synchronize("routing plan download");
}

void CudaBackend::ensure_plan(const RoutePlan& plan) {
  if (plan.device == &dplan_) return;
  // A plan built on the host (e.g. by the CPU backend): copy it in.
  const size_t n = size_t(plan.tokens) * plan.top_k;
  if (plan.expert_ids.size() != n || plan.weights.size() != n || plan.slots.size() != n ||
      plan.offsets.size() != size_t(plan.experts) + 1)
    throw Error("INTERNAL", "moe_experts: the routing plan is incomplete");
  dplan_.ids = static_cast<int32_t*>(grow(plan_ids_, n * sizeof(int32_t), "routing plan"));
  dplan_.weights = static_cast<float*>(grow(plan_w_, n * sizeof(float), "routing plan"));
  dplan_.offsets = static_cast<int32_t*>(grow(plan_off_, plan.offsets.size() * sizeof(int32_t), "routing plan"));
  dplan_.slots = static_cast<int32_t*>(grow(plan_slots_, n * sizeof(int32_t), "routing plan"));
  cudaStream_t s = S(stream_);
  check(cudaMemcpyAsync(dplan_.ids, plan.expert_ids.data(), n * sizeof(int32_t), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (plan ids)");
  check(cudaMemcpyAsync(dplan_.weights, plan.weights.data(), n * sizeof(float), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (plan weights)");
  check(cudaMemcpyAsync(dplan_.offsets, plan.offsets.data(), plan.offsets.size() * sizeof(int32_t), cudaMemcpyHostToDevice, s),
        "cudaMemcpyAsync (plan offsets)");
  check(cudaMemcpyAsync(dplan_.slots, plan.slots.data(), n * sizeof(int32_t), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (plan slots)");
  synchronize("routing plan upload");  // the host vectors may change once this returns
  dplan_.tokens = plan.tokens;
  dplan_.experts = plan.experts;
  dplan_.top_k = plan.top_k;
}

void CudaBackend::moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                              const std::vector<ExpertWeights>& experts) {
  use();
  if (T <= 0) return;
  if (experts.empty()) throw Error("INTERNAL", "moe_experts: no experts");
  ensure_plan(plan);
  if (dplan_.tokens != T) throw Error("INTERNAL", "moe_experts: the routing plan is for another batch");
  const int I = int(experts[0].w1.rows), K = dplan_.top_k;
  float* hidden = static_cast<float*>(grow(hidden_, size_t(T) * K * I * sizeof(float), "expert activations"));
  float* partial = static_cast<float*>(grow(partial_, size_t(T) * K * D * sizeof(float), "expert outputs"));
  launch_moe_experts(out, x, T, D, I, dplan_, experts, hidden, partial, prec_, S(stream_));
}

void CudaBackend::add(float* x, const float* y, size_t n) {
  use();
  launch_add(x, y, n, S(stream_));
}

}  // namespace smoe::cuda
