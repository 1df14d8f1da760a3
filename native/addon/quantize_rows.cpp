// quantizeRows(type, data, dtype, rows, cols, threads[, dest, offset]) -> Promise: quantizes a row-major
// matrix of F32 / F16 / BF16 values (data: Float32Array, or Uint16Array of raw half / bfloat16 bits) into
// ggml blocks of `type` ('Q8_0', 'Q4_K', ...; or F32 / F16 / BF16) off the event loop, rows split over
// `threads` threads: rows * row_bytes(type, cols) bytes, row after row, as llama-quantize writes the tensor.
// Without dest it resolves to a new Uint8Array of them; with dest (an allocWeights handle) they are written
// at byte `offset` of it and it resolves to undefined.
// allocWeights(bytes) -> the handle: native memory that loadModel's spec.files can name in place of a file;
// readWeights(handle, offset, bytes) -> a copy of some of it (for tests and debugging).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "../quant/quantize.h"
#include "addon.h"
#include "js_error.h"

namespace smoe::addon {
namespace {

// The type tag of allocWeights handles, so that no other External passes for one.
const napi_type_tag kOwnedWeightsTag = {0x736d6f6571756e74ULL, 0x6f776e6564777473ULL};

class QuantizeWorker : public Napi::AsyncWorker {
 public:
  // Into a new buffer `out` (dest null), or into dest at dst.
  QuantizeWorker(Napi::Env env, DType type, DType src_dtype, const void* src, int64_t rows, int64_t cols, int threads,
                 Napi::Object input, Napi::Buffer<uint8_t> out, std::shared_ptr<const OwnedWeights> dest, void* dst)
      : Napi::AsyncWorker(env), deferred_(env), type_(type), src_dtype_(src_dtype), src_(src), rows_(rows),
        cols_(cols), threads_(threads), dst_(dst), dest_(std::move(dest)) {
    input_ = Napi::Persistent(input);  // input and output stay alive (and unmoved) while Execute runs
    if (!dest_) out_ = Napi::Persistent(out);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    failure_ = capture([&] {
      const size_t out_row = row_bytes(type_, cols_);
      const int64_t per = (rows_ + threads_ - 1) / threads_;
      std::vector<Failure> failures(static_cast<size_t>(threads_));
      auto run = [&](int t) {
        failures[size_t(t)] = capture([&] {
          const int64_t r0 = t * per, r1 = std::min(rows_, r0 + per);
          if (src_dtype_ == DType::F32) {
            const float* src = static_cast<const float*>(src_) + r0 * cols_;
            quant::quantize_rows(type_, src, static_cast<uint8_t*>(dst_) + size_t(r0) * out_row, r1 - r0, cols_);
            return;
          }
          // Half-precision input: widen a few rows at a time (exact), then quantize them.
          const int64_t step = std::max<int64_t>(1, 65536 / cols_);
          std::vector<float> buf(size_t(step * cols_));
          const uint16_t* src = static_cast<const uint16_t*>(src_);
          for (int64_t r = r0; r < r1; r += step) {
            const int64_t n = std::min(step, r1 - r);
            for (int64_t i = 0; i < n * cols_; ++i) buf[size_t(i)] = load_as_f32(src + r * cols_, src_dtype_, size_t(i));
            quant::quantize_rows(type_, buf.data(), static_cast<uint8_t*>(dst_) + size_t(r) * out_row, n, cols_);
          }
        });
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads_; ++t) pool.emplace_back(run, t);
      run(0);
      for (std::thread& th : pool) th.join();
      for (const Failure& f : failures)
        if (f.failed()) throw Error(f.code, f.message);
    });
  }
  void OnOK() override {
    if (failure_.failed()) { deferred_.Reject(make_error(Env(), failure_).Value()); return; }
    deferred_.Resolve(dest_ ? Env().Undefined() : out_.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  DType type_, src_dtype_;
  const void* src_;
  int64_t rows_, cols_;
  int threads_;
  void* dst_;
  Napi::ObjectReference input_;
  Napi::Reference<Napi::Buffer<uint8_t>> out_;
  std::shared_ptr<const OwnedWeights> dest_;
  Failure failure_;
};

// Runs fn (which returns the call's result), turning a C++ failure into a thrown JS error.
template <class F>
Napi::Value js_call(Napi::Env env, F&& fn) {
  Napi::Value result = env.Undefined();
  Failure f = capture([&] { result = fn(); });
  if (f.failed()) make_error(env, f).ThrowAsJavaScriptException();
  return result;
}

void check(bool ok, const std::string& message) {
  if (!ok) throw Error("INVALID_ARGUMENT", "quantizeRows: " + message);
}

}  // namespace

Napi::Value QuantizeRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return js_call(env, [&]() -> Napi::Value {
    check(info.Length() >= 6, "expected (type, data, dtype, rows, cols, threads)");
    check(info[0].IsString() && info[2].IsString(), "type and dtype must be strings");
    DType type = DType::F32, src_dtype = DType::F32;
    const std::string type_name = info[0].As<Napi::String>().Utf8Value();
    const std::string dtype_name_ = info[2].As<Napi::String>().Utf8Value();
    if (!dtype_from_name(type_name, type) || !quant::can_quantize(type))
      throw Error("UNSUPPORTED_QUANT", "quantizeRows: cannot quantize to '" + type_name + "'");
    check(dtype_from_name(dtype_name_, src_dtype) && !is_quantized(src_dtype), "dtype must be F32, F16 or BF16");
    check(info[3].IsNumber() && info[4].IsNumber() && info[5].IsNumber(), "rows, cols and threads must be numbers");
    const int64_t rows = info[3].As<Napi::Number>().Int64Value(), cols = info[4].As<Napi::Number>().Int64Value();
    const int threads = std::max(1, std::min(256, info[5].As<Napi::Number>().Int32Value()));
    check(rows >= 0 && cols > 0, "rows must be >= 0 and cols > 0");
    check(cols % block_elems(type) == 0,
          "cols (" + std::to_string(cols) + ") is not a multiple of " + type_name + "'s block of " +
              std::to_string(block_elems(type)));
    check(info[1].IsTypedArray(), "data must be a typed array");
    Napi::TypedArray data = info[1].As<Napi::TypedArray>();
    const napi_typedarray_type want = src_dtype == DType::F32 ? napi_float32_array : napi_uint16_array;
    check(data.TypedArrayType() == want, src_dtype == DType::F32 ? "F32 data must be a Float32Array"
                                                                 : "F16/BF16 data must be a Uint16Array of raw bits");
    check(double(data.ElementLength()) == double(rows) * double(cols), "data holds " + std::to_string(data.ElementLength()) +
                                                                           " values, rows * cols is " +
                                                                           std::to_string(rows * cols));
    const size_t out_bytes = size_t(rows) * row_bytes(type, cols);
    std::shared_ptr<const OwnedWeights> dest;
    Napi::Buffer<uint8_t> out;
    void* dst = nullptr;
    if (info.Length() >= 7 && !info[6].IsUndefined()) {
      dest = owned_weights(info[6]);
      check(info.Length() >= 8 && info[7].IsNumber(), "offset must be a number");
      const double off = info[7].As<Napi::Number>().DoubleValue();
      check(off >= 0 && off == std::floor(off) && off + double(out_bytes) <= double(dest->size()),
            "offset " + std::to_string(off) + " + " + std::to_string(out_bytes) + " bytes runs past the " +
                std::to_string(dest->size()) + "-byte weights buffer");
      dst = dest->data() + size_t(off);
    } else {
      out = Napi::Buffer<uint8_t>::New(env, out_bytes);
      dst = out.Data();
    }
    const void* src = static_cast<const uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
    auto* w = new QuantizeWorker(env, type, src_dtype, src, rows, cols,
                                 int(std::min<int64_t>(threads, std::max<int64_t>(1, rows))), data, out, dest, dst);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  });
}

Napi::Value AllocWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return js_call(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw Error("INVALID_ARGUMENT", "allocWeights: bytes must be a number");
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 0) || n != std::floor(n) || n > 9007199254740991.0)
      throw Error("INVALID_ARGUMENT", "allocWeights: bytes must be a non-negative integer");
    auto* holder = new std::shared_ptr<const OwnedWeights>(std::make_shared<OwnedWeights>(size_t(n)));
    auto ext = Napi::External<std::shared_ptr<const OwnedWeights>>::New(
        env, holder, [](Napi::Env, std::shared_ptr<const OwnedWeights>* p) { delete p; });
    ext.TypeTag(&kOwnedWeightsTag);
    return ext;
  });
}

Napi::Value ReadWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return js_call(env, [&]() -> Napi::Value {
    std::shared_ptr<const OwnedWeights> w = owned_weights(info[0]);
    if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
      throw Error("INVALID_ARGUMENT", "readWeights(handle, offset, bytes)");
    const double off = info[1].As<Napi::Number>().DoubleValue(), n = info[2].As<Napi::Number>().DoubleValue();
    if (!(off >= 0 && n >= 0) || off != std::floor(off) || n != std::floor(n) || off + n > double(w->size()))
      throw Error("INVALID_ARGUMENT", "readWeights: range runs past the weights buffer");
    return Napi::Buffer<uint8_t>::Copy(env, w->data() + size_t(off), size_t(n));
  });
}

std::shared_ptr<const OwnedWeights> owned_weights(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::Object>().CheckTypeTag(&kOwnedWeightsTag))
    throw Error("INVALID_SPEC", "expected a weights buffer from allocWeights");
  return *v.As<Napi::External<std::shared_ptr<const OwnedWeights>>>().Data();
}

}  // namespace smoe::addon
