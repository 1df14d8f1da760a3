// JS classes of the addon. Their constructors are kept per environment (instance data).
#pragma once
#include <napi.h>

#include <memory>

#include "model_state.h"

namespace smoe::addon {

struct Constructors {
  Napi::FunctionReference model, sequence;
};

// NativeModel: made by openModel(spec) -> Promise<NativeModel>; createSequence({ kvCache?, contextSize? }),
// step(items, topK) -> Promise (continuous batching, native_step.cpp), expertCounts(), countExperts(on),
// close() -> Promise, info().
class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeModel(const Napi::CallbackInfo& info);
  const std::shared_ptr<ModelState>& state() const { return state_; }

 private:
  Napi::Value CreateSequence(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value ExpertCounts(const Napi::CallbackInfo& info);
  Napi::Value CountExperts(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  std::shared_ptr<ModelState> state_;
};

// NativeSequence: eval(Int32Array ids, allLogits, trace, topK) -> Promise<{ logits, experts?, weights? }>,
// length, kvBytes, reset(keep = 0), dispose(). One evaluation (or step) at a time (the JS layer queues calls).
// Made with (model) or (model, { kvCache: 'f32' | 'f16', contextSize: N }): contextSize > 0 allocates the
// cache for N positions at once and never grows it.
class NativeSequence : public Napi::ObjectWrap<NativeSequence> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeSequence(const Napi::CallbackInfo& info);
  ~NativeSequence() override;

  // Main thread. An evaluation (eval or a step) takes the sequence: start_eval() throws a JS error and
  // returns null when it cannot (disposed, busy, model closed), else the native sequence, kept alive and
  // marked busy until finish_eval().
  Sequence* start_eval(Napi::Env env);
  void finish_eval();
  const std::shared_ptr<ModelState>& state() const { return state_; }

 private:
  Napi::Value Eval(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value KvBytes(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  void free_now();

  std::shared_ptr<ModelState> state_;
  std::unique_ptr<Sequence> seq_;
  bool busy_ = false, dispose_pending_ = false;
  Napi::ObjectReference self_;  // keeps this object alive while an eval runs
  friend class EvalWorker;
};

Napi::Value OpenModel(const Napi::CallbackInfo& info);

// quantizeRows(type, data, dtype, rows, cols, threads[, dest, offset]) -> Promise<Uint8Array | undefined> of
// ggml blocks, into a new buffer or into an allocWeights buffer at `offset` (quantize_rows.cpp).
Napi::Value QuantizeRows(const Napi::CallbackInfo& info);
// allocWeights(bytes) -> an opaque handle to `bytes` of native memory for weights quantized while loading; it
// can stand in spec.files for a path. owned_weights unwraps one (throws INVALID_SPEC for anything else).
Napi::Value AllocWeights(const Napi::CallbackInfo& info);
Napi::Value ReadWeights(const Napi::CallbackInfo& info);  // readWeights(handle, offset, bytes) -> Uint8Array copy
std::shared_ptr<const OwnedWeights> owned_weights(const Napi::Value& v);

// opTest(name, inputs): one backend op on typed arrays, synchronously, for tests (op_test.cpp).
Napi::Value OpTest(const Napi::CallbackInfo& info);

}  // namespace smoe::addon
