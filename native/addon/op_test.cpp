// opTest(name, inputs): runs one backend op on JS typed arrays, synchronously, and returns its outputs, so the
// tests can compare a backend against the CPU op by op. A test-only export (not part of the public API).
//   inputs.backend: 'cpu' (default) or 'cuda'; inputs.device: CUDA ordinal (default 0);
//   inputs.precision: 'fp32' | 'bf16' (CUDA; default 'fp32'); inputs.threads: CPU threads (default 2).
//   inputs.simd: 'auto' (default) | 'avx512' | 'avx2' | 'generic' (the CPU kernels to use).
//   inputs.interleave: false keeps a matmul's weights in their file layout on the CPU (default: the layout the
//   model's weights get at load, cpu/repack.h).
//   Weights are { data, dtype, rows, cols }: data a Float32Array for 'F32', a Uint16Array of raw bits for 'F16' /
//   'BF16', a Uint8Array of ggml blocks (rows * cols / block * blockBytes bytes) for the quantized types
//   ('Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K').
// Ops and their inputs -> outputs:
//   add        x, y                                           -> out = x + y
//   embed      table (weight), ids                            -> out [T, cols]
//   rmsnorm    x, w (weight [1, D]), T, D, eps                -> out [T, D]
//   matmul     x, w (weight [O, Ik]), T                       -> out [T, O]
//   matmul_many x, ws (weights [O_i, Ik]), T                  -> outs[i] [T, O_i] (one pass, as q/k/v)
//   dequantize w (weight)                                     -> out [rows * cols] (the CPU's dequantize_row)
//   silu_mul   h, g                                           -> out = silu(h) * g (the experts' step, CPU)
//   rope       x, T, heads, headDim, pos, invFreq, pairs?     -> out (x rotated; pairs: adjacent-pair mode)
//   attention  q, k, v, T, pos, heads, kvHeads, headDim, window, scale -> out [T, heads * headDim]
//   attention_f16 the same with k, v as Uint16Array IEEE-half bits -> out
//   store_f16  x                                              -> bits (Uint16Array: half(x), nearest even)
//   gate_topk  logits, T, E, K                                -> expertIds, weights, offsets, slots
//   moe_experts x, logits, T, D, E, K, w1[], w3[], w2[]      -> out [T, D] (+ the plan's arrays)
//   simt_selftest kernel (SIMT emulation build only)         -> out (see cuda/emulate/simt_selftest.h)
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/cpu_backend.h"
#include "../cpu/dequant.h"
#include "../cpu/silu.h"
#if defined(SMOE_HAVE_CUDA)
#include "../cuda/cuda_backend.h"
#endif
#if defined(SMOE_CUDA_EMULATE)
#include "../cuda/emulate/simt_selftest.h"
#endif
#include "addon.h"
#include "js_error.h"

namespace smoe::addon {
namespace {

Napi::Value need(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) throw Error("INVALID_ARGUMENT", std::string("opTest: missing input '") + key + "'");
  return v;
}
int num(const Napi::Object& o, const char* key) {
  Napi::Value v = need(o, key);
  if (!v.IsNumber()) throw Error("INVALID_ARGUMENT", std::string("opTest: '") + key + "' must be a number");
  return v.As<Napi::Number>().Int32Value();
}
double real(const Napi::Object& o, const char* key) {
  Napi::Value v = need(o, key);
  if (!v.IsNumber()) throw Error("INVALID_ARGUMENT", std::string("opTest: '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
std::string str(const Napi::Object& o, const char* key, const std::string& dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsString()) throw Error("INVALID_ARGUMENT", std::string("opTest: '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}
std::vector<float> f32(const Napi::Object& o, const char* key) {
  Napi::Value v = need(o, key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Error("INVALID_ARGUMENT", std::string("opTest: '") + key + "' must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}
std::vector<int32_t> i32(const Napi::Object& o, const char* key) {
  Napi::Value v = need(o, key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Error("INVALID_ARGUMENT", std::string("opTest: '") + key + "' must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}
void expect(bool ok, const std::string& what) {
  if (!ok) throw Error("INVALID_ARGUMENT", "opTest: " + what);
}

// One backend plus the memory of one op call, freed when it goes.
class Runner {
 public:
  explicit Runner(const Napi::Object& in) {
    const std::string b = str(in, "backend", "cpu");
    Napi::Value il = in.Get("interleave");
    interleave_ = !il.IsBoolean() || il.As<Napi::Boolean>().Value();
    if (b == "cpu") {
      Napi::Value t = in.Get("threads");
      cpu_ = std::make_unique<cpu::CpuBackend>(t.IsNumber() ? t.As<Napi::Number>().Int32Value() : 2, str(in, "simd", "auto"));
      be_ = cpu_.get();
    } else if (b == "cuda") {
#if defined(SMOE_HAVE_CUDA)
      Napi::Value d = in.Get("device");
      cuda_ = std::make_unique<cuda::CudaBackend>(d.IsNumber() ? d.As<Napi::Number>().Int32Value() : 0,
                                                  cuda::parse_precision(str(in, "precision", "fp32")));
      be_ = cuda_.get();
#else
      throw Error("DEVICE_UNAVAILABLE", "opTest: this build of smoe has no CUDA backend");
#endif
    } else {
      throw Error("INVALID_ARGUMENT", "opTest: backend must be 'cpu' or 'cuda'");
    }
  }
  ~Runner() {
    for (float* p : allocs_) be_->release(p);
  }
  Backend& be() { return *be_; }

  float* put(const std::vector<float>& host) {
    float* d = be_->alloc(std::max<size_t>(host.size(), 1));
    allocs_.push_back(d);
    if (host.empty()) return d;
#if defined(SMOE_HAVE_CUDA)
    if (cuda_) { cuda_->upload(d, host.data(), host.size()); return d; }
#endif
    std::memcpy(d, host.data(), host.size() * sizeof(float));
    return d;
  }
  float* zeros(size_t n) { return put(std::vector<float>(n, 0.f)); }
  std::vector<float> get(const float* d, size_t n) {
    std::vector<float> h(n);
    if (n) be_->download(h.data(), d, n);
    return h;
  }

  // A weight a matmul reads: on the CPU, in the layout the model's weights get at load (rows interleaved for
  // the x86 kernels, CpuBackend::interleave) unless inputs.interleave is false.
  Tensor matmul_weight(const Napi::Value& v) {
    Tensor t = weight(v);
    if (cpu_ && interleave_) cpu_->interleave(t);
    return t;
  }

  Tensor weight(const Napi::Value& v) {
    expect(v.IsObject(), "a weight must be { data, dtype, rows, cols }");
    Napi::Object o = v.As<Napi::Object>();
    const std::string dt = str(o, "dtype", "F32");
    const int64_t rows = num(o, "rows"), cols = num(o, "cols");
    Napi::Value data = need(o, "data");
    expect(data.IsTypedArray(), "weight data must be a typed array");
    Napi::TypedArray ta = data.As<Napi::TypedArray>();
    DType t;
    if (!dtype_from_name(dt, t)) throw Error("UNSUPPORTED_QUANT", "opTest: weight type " + dt + " is not supported");
    if (t == DType::F32) expect(ta.TypedArrayType() == napi_float32_array, "F32 weights need a Float32Array");
    else if (t == DType::F16 || t == DType::BF16)
      expect(ta.TypedArrayType() == napi_uint16_array, dt + " weights need a Uint16Array of raw bits");
    else expect(ta.TypedArrayType() == napi_uint8_array, dt + " weights need a Uint8Array of ggml blocks");
    expect(rows > 0 && cols > 0 && cols % block_elems(t) == 0, "weight cols must be a multiple of the type's block");
    expect(size_t(ta.ByteLength()) == size_t(rows) * row_bytes(t, cols), "weight data must be rows * row bytes long");
    auto buf = std::make_unique<std::vector<char>>(ta.ByteLength());
    std::memcpy(buf->data(), static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ByteLength());
    Tensor host{buf->data(), t, rows, cols};
    host_.push_back(std::move(buf));
#if defined(SMOE_HAVE_CUDA)
    if (cuda_) return cuda_->upload_tensor(host);
#endif
    return host;
  }

 private:
  std::unique_ptr<cpu::CpuBackend> cpu_;
#if defined(SMOE_HAVE_CUDA)
  std::unique_ptr<cuda::CudaBackend> cuda_;
#endif
  Backend* be_ = nullptr;
  bool interleave_ = true;
  std::vector<float*> allocs_;
  std::vector<std::unique_ptr<std::vector<char>>> host_;
};

// A Uint16Array of IEEE-half bits packed into floats (backend memory is counted in floats), zero-padded.
std::vector<float> half_bits(const Napi::Object& o, const char* key) {
  Napi::Value v = need(o, key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array)
    throw Error("INVALID_ARGUMENT", std::string("opTest: '") + key + "' must be a Uint16Array of half bits");
  Napi::Uint16Array a = v.As<Napi::Uint16Array>();
  std::vector<float> out((a.ElementLength() + 1) / 2, 0.f);
  if (a.ElementLength()) std::memcpy(out.data(), a.Data(), a.ElementLength() * sizeof(uint16_t));
  return out;
}

Napi::Float32Array to_js(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}
Napi::Int32Array to_js(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
  return a;
}
void put_plan(Napi::Env env, Napi::Object& r, const RoutePlan& p) {
  r.Set("expertIds", to_js(env, p.expert_ids));
  r.Set("weights", to_js(env, p.weights));
  r.Set("offsets", to_js(env, p.offsets));
  r.Set("slots", to_js(env, p.slots));
}

Napi::Object run(Napi::Env env, const std::string& op, const Napi::Object& in) {
#if defined(SMOE_CUDA_EMULATE)
  if (op == "simt_selftest") {  // the SIMT emulator's own deliberately wrong kernels (emulation build only)
    Napi::Object r = Napi::Object::New(env);
    r.Set("out", to_js(env, cuda::simt_selftest(str(in, "kernel", ""))));
    return r;
  }
#endif
  Runner R(in);
  Backend& be = R.be();
  Napi::Object r = Napi::Object::New(env);
  if (op == "add") {
    auto x = f32(in, "x"), y = f32(in, "y");
    expect(x.size() == y.size(), "x and y differ in length");
    float* dx = R.put(x);
    be.add(dx, R.put(y), x.size());
    r.Set("out", to_js(env, R.get(dx, x.size())));
  } else if (op == "embed") {
    Tensor table = R.weight(need(in, "table"));
    auto ids = i32(in, "ids");
    for (int32_t id : ids) expect(id >= 0 && id < table.rows, "ids must lie in [0, table.rows)");
    const int T = int(ids.size());
    float* out = R.zeros(size_t(T) * table.cols);
    be.embed(out, table, ids.data(), T);
    r.Set("out", to_js(env, R.get(out, size_t(T) * table.cols)));
  } else if (op == "rmsnorm") {
    const int T = num(in, "T"), D = num(in, "D");
    auto x = f32(in, "x");
    Tensor w = R.weight(need(in, "w"));
    expect(T > 0 && D > 0 && x.size() == size_t(T) * D && w.rows * w.cols == D, "rmsnorm shapes");
    float* dx = R.put(x);
    float* out = R.zeros(x.size());
    be.rmsnorm(out, dx, w, T, D, float(real(in, "eps")));
    r.Set("out", to_js(env, R.get(out, x.size())));
  } else if (op == "matmul") {
    const int T = num(in, "T");
    auto x = f32(in, "x");
    Tensor w = R.matmul_weight(need(in, "w"));
    expect(T > 0 && x.size() == size_t(T) * w.cols, "matmul: x must be [T, w.cols]");
    float* dx = R.put(x);
    float* out = R.zeros(size_t(T) * w.rows);
    be.matmul(out, dx, w, T);
    r.Set("out", to_js(env, R.get(out, size_t(T) * w.rows)));
  } else if (op == "dequantize") {
    Tensor w = R.weight(need(in, "w"));
    expect(str(in, "backend", "cpu") == "cpu", "dequantize runs on the CPU");
    std::vector<float> out(size_t(w.rows * w.cols));
    for (int64_t i = 0; i < w.rows; ++i) cpu::dequantize_row(w.dtype, w.row(i).data, &out[size_t(i * w.cols)], w.cols);
    r.Set("out", to_js(env, out));
  } else if (op == "silu_mul") {  // h = silu(h) * g elementwise, the experts' SwiGLU step
    expect(str(in, "backend", "cpu") == "cpu", "silu_mul runs on the CPU");
    auto h = f32(in, "h"), g = f32(in, "g");
    expect(h.size() == g.size(), "h and g must have the same length");
    cpu::silu_mul(h.data(), g.data(), int64_t(h.size()));
    r.Set("out", to_js(env, h));
  } else if (op == "matmul_many") {
    const int T = num(in, "T");
    auto x = f32(in, "x");
    Napi::Value wv = need(in, "ws");
    expect(wv.IsArray() && wv.As<Napi::Array>().Length() > 0, "matmul_many: ws must be a non-empty array of weights");
    Napi::Array wa = wv.As<Napi::Array>();
    std::vector<Tensor> ws;
    for (uint32_t i = 0; i < wa.Length(); ++i) {
      ws.push_back(R.matmul_weight(wa.Get(i)));
      expect(ws.back().cols == ws[0].cols && T > 0 && x.size() == size_t(T) * ws[0].cols, "matmul_many: x must be [T, cols] of every w");
    }
    float* dx = R.put(x);
    std::vector<Backend::Projection> p;
    for (const Tensor& w : ws) p.push_back({R.zeros(size_t(T) * w.rows), &w});
    be.matmul_many(p.data(), int(p.size()), dx, T);
    Napi::Array outs = Napi::Array::New(env, p.size());
    for (size_t i = 0; i < p.size(); ++i) outs.Set(uint32_t(i), to_js(env, R.get(p[i].out, size_t(T) * ws[i].rows)));
    r.Set("outs", outs);
  } else if (op == "rope") {
    const int T = num(in, "T"), H = num(in, "heads"), Hd = num(in, "headDim");
    auto x = f32(in, "x");
    auto pos = i32(in, "pos");
    auto inv = f32(in, "invFreq");
    expect(T > 0 && H > 0 && Hd > 0 && Hd % 2 == 0 && x.size() == size_t(T) * H * Hd && pos.size() == size_t(T) &&
               inv.size() == size_t(Hd / 2), "rope shapes");
    const Napi::Value pv = in.Get("pairs");
    const bool pairs = pv.IsBoolean() && pv.As<Napi::Boolean>().Value();
    float* dx = R.put(x);
    be.rope(dx, T, H, Hd, pos.data(), inv.data(), pairs);
    r.Set("out", to_js(env, R.get(dx, x.size())));
  } else if (op == "store_f16") {
    auto x = f32(in, "x");
    float* d = R.zeros((x.size() + 1) / 2);
    be.store_f16(reinterpret_cast<uint16_t*>(d), R.put(x), x.size());
    std::vector<float> h = R.get(d, (x.size() + 1) / 2);
    Napi::Uint16Array bits = Napi::Uint16Array::New(env, x.size());
    if (!x.empty()) std::memcpy(bits.Data(), h.data(), x.size() * sizeof(uint16_t));
    r.Set("bits", bits);
  } else if (op == "attention" || op == "attention_f16") {
    const int T = num(in, "T");
    AttentionParams p;
    p.heads = num(in, "heads");
    p.kv_heads = num(in, "kvHeads");
    p.head_dim = num(in, "headDim");
    p.window = num(in, "window");
    p.scale = float(real(in, "scale"));
    const bool half = op == "attention_f16";
    auto q = f32(in, "q");
    // F16 caches travel as their bits, two per float of backend memory.
    auto k = half ? half_bits(in, "k") : f32(in, "k"), v = half ? half_bits(in, "v") : f32(in, "v");
    const size_t per = half ? 2 : 1;
    auto pos = i32(in, "pos");
    expect(T > 0 && p.heads > 0 && p.kv_heads > 0 && p.heads % p.kv_heads == 0 && p.head_dim > 0 &&
               pos.size() == size_t(T) && q.size() == size_t(T) * p.heads * p.head_dim, "attention shapes");
    int maxpos = 0;
    for (int32_t x : pos) { expect(x >= 0, "positions must be >= 0"); maxpos = std::max(maxpos, int(x)); }
    const size_t kv = size_t(maxpos + 1) * p.kv_heads * p.head_dim;
    expect(k.size() * per >= kv && v.size() * per >= kv, "attention: k and v must hold every position up to max(pos)");
    float* out = R.zeros(q.size());
    if (half)
      be.attention_f16(out, R.put(q), reinterpret_cast<const uint16_t*>(R.put(k)), reinterpret_cast<const uint16_t*>(R.put(v)), T,
                       pos.data(), p);
    else
      be.attention(out, R.put(q), R.put(k), R.put(v), T, pos.data(), p);
    r.Set("out", to_js(env, R.get(out, q.size())));
  } else if (op == "gate_topk" || op == "moe_experts") {
    const int T = num(in, "T"), E = num(in, "E"), K = num(in, "K");
    auto logits = f32(in, "logits");
    expect(T > 0 && E > 0 && K > 0 && K <= E && logits.size() == size_t(T) * E, "logits must be [T, E], 0 < K <= E");
    float* dl = R.put(logits);
    RoutePlan plan;
    be.gate_topk(dl, T, E, K, plan);
    if (op == "moe_experts") {
      const int D = num(in, "D");
      auto x = f32(in, "x");
      expect(x.size() == size_t(T) * D, "moe_experts: x must be [T, D]");
      std::vector<ExpertWeights> ex(static_cast<size_t>(E));
      for (const char* key : {"w1", "w3", "w2"}) {
        Napi::Value a = need(in, key);
        expect(a.IsArray() && a.As<Napi::Array>().Length() == uint32_t(E), std::string(key) + " must be an array of E weights");
      }
      for (int e = 0; e < E; ++e) {
        ex[size_t(e)].w1 = R.matmul_weight(in.Get("w1").As<Napi::Array>().Get(uint32_t(e)));
        ex[size_t(e)].w3 = R.matmul_weight(in.Get("w3").As<Napi::Array>().Get(uint32_t(e)));
        ex[size_t(e)].w2 = R.matmul_weight(in.Get("w2").As<Napi::Array>().Get(uint32_t(e)));
        const ExpertWeights& w = ex[size_t(e)];
        expect(w.w1.cols == D && w.w3.cols == D && w.w2.rows == D && w.w1.rows == w.w3.rows && w.w2.cols == w.w1.rows &&
                   w.w1.rows == ex[0].w1.rows, "expert shapes: w1, w3 [I, D], w2 [D, I]");
      }
      float* out = R.zeros(size_t(T) * D);
      be.moe_experts(out, R.put(x), T, D, plan, ex);
      r.Set("out", to_js(env, R.get(out, size_t(T) * D)));
    }
    be.plan_to_host(plan);
    put_plan(env, r, plan);
  } else {
    throw Error("INVALID_ARGUMENT", "opTest: unknown op '" + op + "'");
  }
  return r;
}

}  // namespace

Napi::Value OpTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsObject()) {
    throw_error(env, "INVALID_CALL", "opTest(name: string, inputs: object)");
    return env.Undefined();
  }
  Napi::Object result;
  Failure f = capture([&] { result = run(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Object>()); });
  if (f.failed()) {
    make_error(env, f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return result;
}

}  // namespace smoe::addon
