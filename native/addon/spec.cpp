#include "spec.h"

#include "addon.h"

#include <cmath>
#include <cstdint>

#include "../core/error.h"

namespace smoe::addon {
namespace {

constexpr int64_t kMaxThreads = 1024;

Napi::Value field(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) throw Error("INVALID_SPEC", where + ": missing field '" + key + "'");
  return v;
}

int64_t integer(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = field(o, key, where);
  if (!v.IsNumber()) throw Error("INVALID_SPEC", where + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 9007199254740991.0)
    throw Error("INVALID_SPEC", where + "." + key + " must be a non-negative integer");
  return int64_t(d);
}

// An integer that fits an int (sizes, counts, indices): a larger value is refused, not truncated (2^32 + 8
// would otherwise become 8).
int small_int(const Napi::Object& o, const char* key, const std::string& where, int64_t max = INT32_MAX) {
  const int64_t v = integer(o, key, where);
  if (v > max) throw Error("INVALID_SPEC", where + "." + key + " must be at most " + std::to_string(max) + " (got " + std::to_string(v) + ")");
  return int(v);
}

double number(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = field(o, key, where);
  if (!v.IsNumber()) throw Error("INVALID_SPEC", where + "." + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::string string(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = field(o, key, where);
  if (!v.IsString()) throw Error("INVALID_SPEC", where + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object object(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = field(o, key, where);
  if (!v.IsObject()) throw Error("INVALID_SPEC", where + "." + key + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Array array(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = field(o, key, where);
  if (!v.IsArray()) throw Error("INVALID_SPEC", where + "." + key + " must be an array");
  return v.As<Napi::Array>();
}

TensorSpec tensor(const Napi::Object& parent, const char* key, const std::string& where) {
  Napi::Object o = object(parent, key, where);
  TensorSpec t;
  t.name = string(o, "name", where + "." + key);
  t.file = small_int(o, "file", t.name);
  t.offset = integer(o, "offset", t.name);
  t.rows = integer(o, "rows", t.name);
  t.cols = integer(o, "cols", t.name);
  const std::string dt = string(o, "dtype", t.name);
  if (!dtype_from_name(dt, t.dtype))
    throw Error("UNSUPPORTED_QUANT", "tensor " + t.name + " has weight type " + dt +
                                         ", which smoe cannot compute (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                                         "Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  return t;
}

std::vector<TensorSpec> tensors(const Napi::Object& parent, const char* key, const std::string& where) {
  Napi::Array a = array(parent, key, where);
  std::vector<TensorSpec> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Object holder = Napi::Object::New(parent.Env());
    holder.Set("t", a.Get(i));
    out.push_back(tensor(holder, "t", where + "." + key + "[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace

LoadSpec parse_spec(const Napi::Object& spec) {
  LoadSpec s;
  Napi::Object c = object(spec, "config", "spec");
  ModelConfig& m = s.config;
  m.vocab = small_int(c, "vocabSize", "config");
  m.hidden = small_int(c, "hiddenSize", "config");
  m.intermediate = small_int(c, "intermediateSize", "config");
  m.layers = small_int(c, "numLayers", "config");
  m.heads = small_int(c, "numHeads", "config");
  m.kv_heads = small_int(c, "numKvHeads", "config");
  m.head_dim = small_int(c, "headDim", "config");
  m.experts = small_int(c, "numExperts", "config");
  m.top_k = small_int(c, "topK", "config");
  m.max_positions = small_int(c, "maxPositions", "config");
  m.sliding_window = small_int(c, "slidingWindow", "config");
  m.rms_eps = float(number(c, "rmsNormEps", "config"));
  m.rope_theta = float(number(c, "ropeTheta", "config"));
  if (!c.Get("ropePairs").IsUndefined()) {
    if (!c.Get("ropePairs").IsBoolean()) throw Error("INVALID_SPEC", "config.ropePairs must be a boolean");
    m.rope_pairs = c.Get("ropePairs").As<Napi::Boolean>().Value();
  }
  if (m.heads == 0 || m.kv_heads == 0 || m.heads % m.kv_heads != 0 || m.head_dim % 2 != 0 || m.top_k == 0 ||
      m.top_k > m.experts || m.layers == 0 || m.vocab == 0 || m.hidden == 0)
    throw Error("INVALID_SPEC", "inconsistent model configuration");
  // As loadModel's option allows; more would spawn that many spinning workers.
  s.threads = small_int(spec, "threads", "spec", kMaxThreads);
  if (s.threads < 1) throw Error("INVALID_SPEC", "spec.threads must be at least 1");
  s.simd = string(spec, "simd", "spec");
  if (!spec.Get("device").IsUndefined()) {
    const std::string d = string(spec, "device", "spec");
    if (d == "cpu") s.cuda_device = -1;
    else if (d == "cuda") s.cuda_device = 0;
    else if (d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 9 &&
             d.find_first_not_of("0123456789", 5) == std::string::npos)
      s.cuda_device = std::stoi(d.substr(5));
    else throw Error("INVALID_SPEC", "spec.device must be 'cpu', 'cuda' or 'cuda:N' (got '" + d + "')");
  }
  if (!spec.Get("precision").IsUndefined()) {
    s.precision = string(spec, "precision", "spec");
    if (s.precision != "fp32" && s.precision != "bf16")
      throw Error("INVALID_SPEC", "spec.precision must be 'fp32' or 'bf16' (got '" + s.precision + "')");
  }
  if (!spec.Get("interleave").IsUndefined()) {
    if (!spec.Get("interleave").IsBoolean()) throw Error("INVALID_SPEC", "spec.interleave must be a boolean");
    s.interleave = spec.Get("interleave").As<Napi::Boolean>().Value();
  }
  if (!spec.Get("resident").IsUndefined()) {
    if (!spec.Get("resident").IsBoolean()) throw Error("INVALID_SPEC", "spec.resident must be a boolean");
    s.resident = spec.Get("resident").As<Napi::Boolean>().Value();
  }
  Napi::Array files = array(spec, "files", "spec");
  for (uint32_t i = 0; i < files.Length(); ++i) {
    Napi::Value f = files.Get(i);
    if (f.IsExternal()) {  // an allocWeights buffer (owned memory)
      s.owned.push_back(owned_weights(f));
      s.files.push_back("<weights quantized while loading #" + std::to_string(i) + ">");
      continue;
    }
    if (!f.IsString()) throw Error("INVALID_SPEC", "spec.files must hold paths or allocWeights buffers");
    s.files.push_back(f.As<Napi::String>().Utf8Value());
    s.owned.push_back(nullptr);
  }
  Napi::Object w = object(spec, "weights", "spec");
  s.embed = tensor(w, "embed", "weights");
  s.norm = tensor(w, "norm", "weights");
  s.lm_head = tensor(w, "lmHead", "weights");
  Napi::Array layers = array(w, "layers", "weights");
  if (layers.Length() != uint32_t(m.layers)) throw Error("INVALID_SPEC", "weights.layers does not match numLayers");
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string where = "weights.layers[" + std::to_string(i) + "]";
    Napi::Value lv = layers.Get(i);
    if (!lv.IsObject()) throw Error("INVALID_SPEC", where + " must be an object");
    Napi::Object l = lv.As<Napi::Object>();
    LayerSpec ls;
    ls.attn_norm = tensor(l, "attnNorm", where);
    ls.wq = tensor(l, "wq", where);
    ls.wk = tensor(l, "wk", where);
    ls.wv = tensor(l, "wv", where);
    ls.wo = tensor(l, "wo", where);
    ls.ffn_norm = tensor(l, "ffnNorm", where);
    ls.gate = tensor(l, "gate", where);
    ls.w1 = tensors(l, "w1", where);
    ls.w2 = tensors(l, "w2", where);
    ls.w3 = tensors(l, "w3", where);
    if (ls.w1.size() != size_t(m.experts) || ls.w2.size() != size_t(m.experts) || ls.w3.size() != size_t(m.experts))
      throw Error("INVALID_SPEC", where + ": expert count does not match numExperts");
    s.layers.push_back(std::move(ls));
  }
  return s;
}

void refuse_quantized_on_cuda(const LoadSpec& spec) {
  if (spec.cuda_device < 0) return;
  auto check = [&](const TensorSpec& t) {
    if (is_quantized(t.dtype))
      throw Error("UNSUPPORTED_QUANT", "tensor " + t.name + " is " + dtype_name(t.dtype) + ": the CUDA backend computes "
                                       "F32, F16 and BF16 weights only; load this model with device 'cpu'");
  };
  for (const TensorSpec* t : {&spec.embed, &spec.norm, &spec.lm_head}) check(*t);
  for (const LayerSpec& l : spec.layers) {
    for (const TensorSpec* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.gate}) check(*t);
    for (const auto* v : {&l.w1, &l.w2, &l.w3})
      for (const TensorSpec& t : *v) check(t);
  }
}

ModelWeights bind_weights(const LoadSpec& spec, const std::vector<std::unique_ptr<MappedFile>>& files) {
  auto bind = [&](const TensorSpec& t, int64_t rows, int64_t cols) -> Tensor {
    if (t.file < 0 || size_t(t.file) >= files.size())
      throw Error("INVALID_SPEC", "tensor " + t.name + " names file #" + std::to_string(t.file));
    const MappedFile& f = *files[size_t(t.file)];
    if (t.rows != rows || t.cols != cols)
      throw Error("TENSOR_SHAPE", "tensor " + t.name + " in " + f.path() + " has shape [" + std::to_string(t.rows) +
                                      ", " + std::to_string(t.cols) + "], expected [" + std::to_string(rows) + ", " +
                                      std::to_string(cols) + "]");
    const int64_t blk = block_elems(t.dtype);
    if (t.cols % blk != 0)
      throw Error("TENSOR_SHAPE", "tensor " + t.name + " in " + f.path() + " is " + dtype_name(t.dtype) + " with rows of " +
                                      std::to_string(t.cols) + " elements, not a multiple of its block of " +
                                      std::to_string(blk));
    const Tensor view{nullptr, t.dtype, t.rows, t.cols};
    // rows, cols < 2^53 (checked when parsed); the product is checked against the file before use.
    const size_t rb = view.row_bytes();
    if (rb != 0 && size_t(t.rows) > f.size() / rb)
      throw Error("TENSOR_BOUNDS", "tensor " + t.name + " (" + std::to_string(t.rows) + " rows of " + std::to_string(rb) +
                                       " bytes) is larger than " + f.path() + " (" + std::to_string(f.size()) + " bytes)");
    const size_t bytes = view.bytes();
    if (size_t(t.offset) > f.size() || bytes > f.size() - size_t(t.offset))
      throw Error("TENSOR_BOUNDS", "tensor " + t.name + " (bytes " + std::to_string(t.offset) + ".." +
                                       std::to_string(size_t(t.offset) + bytes) + ") lies outside " + f.path() +
                                       " (" + std::to_string(f.size()) + " bytes)");
    // Plain floats are read as aligned elements; quantized blocks (all of an even size) as structs of bytes
    // and fp16 fields, which need 2-byte alignment.
    const size_t align = is_quantized(t.dtype) ? 2 : size_t(dtype_info(t.dtype).block_bytes);
    if (size_t(t.offset) % align != 0)
      throw Error("TENSOR_ALIGNMENT", "tensor " + t.name + " in " + f.path() + " is not aligned to its element size");
    return Tensor{f.data() + t.offset, t.dtype, t.rows, t.cols};
  };
  const ModelConfig& c = spec.config;
  const int64_t D = c.hidden, Q = int64_t(c.heads) * c.head_dim, KV = int64_t(c.kv_heads) * c.head_dim;
  ModelWeights w;
  w.embed = bind(spec.embed, c.vocab, D);
  // Norm weights are read element by element (rmsnorm), as plain floats only: a quantized norm is refused.
  auto bind_norm = [&](const TensorSpec& t) {
    if (is_quantized(t.dtype))
      throw Error("UNSUPPORTED_QUANT", "tensor " + t.name + " is a norm weight stored as " + dtype_name(t.dtype) +
                                           "; smoe reads norm weights as F32, F16 or BF16");
    return bind(t, 1, D);
  };
  w.norm = bind_norm(spec.norm);
  w.lm_head = bind(spec.lm_head, c.vocab, D);
  for (const LayerSpec& ls : spec.layers) {
    LayerWeights lw;
    lw.attn_norm = bind_norm(ls.attn_norm);
    lw.wq = bind(ls.wq, Q, D);
    lw.wk = bind(ls.wk, KV, D);
    lw.wv = bind(ls.wv, KV, D);
    lw.wo = bind(ls.wo, D, Q);
    lw.ffn_norm = bind_norm(ls.ffn_norm);
    lw.gate = bind(ls.gate, c.experts, D);
    for (int e = 0; e < c.experts; ++e)
      lw.experts.push_back({bind(ls.w1[size_t(e)], c.intermediate, D), bind(ls.w3[size_t(e)], c.intermediate, D),
                            bind(ls.w2[size_t(e)], D, c.intermediate)});
    w.layers.push_back(std::move(lw));
  }
  return w;
}

}  // namespace smoe::addon
