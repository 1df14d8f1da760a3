// NativeModel.step(items, topK): one batched forward over several sequences (continuous batching), off the
// main thread. items: [{ sequence: NativeSequence, ids: Int32Array, logits: 0 | 1 | 2, trace: boolean }]
// (logits: 0 none, 1 the last position's, 2 every position's). Resolves to one result per item,
// { logits?: Float32Array, experts?: Int32Array, weights?: Float32Array }.
#include <cstring>

#include "addon.h"
#include "js_error.h"

namespace smoe::addon {
namespace {

struct StepEntry {
  NativeSequence* wrapper = nullptr;
  Sequence* seq = nullptr;
  std::vector<int32_t> ids;
  int logits = 0;
  bool trace = false;
  std::vector<float> out;
  RouterTrace trace_out;
};

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<ModelState> st, std::vector<StepEntry> entries, int top_k)
      : Napi::AsyncWorker(env), state_(std::move(st)), entries_(std::move(entries)), top_k_(top_k), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    failure_ = capture([&] {
      with_model(*state_, [&](Model& m) {
        const size_t V = size_t(m.config().vocab);
        std::vector<BatchItem> items(entries_.size());
        for (size_t i = 0; i < entries_.size(); ++i) {
          StepEntry& e = entries_[i];
          e.out.resize(e.logits == 2 ? e.ids.size() * V : e.logits == 1 ? V : 0);
          items[i] = {e.seq, e.ids.data(), int(e.ids.size()), e.logits == 2, e.logits ? e.out.data() : nullptr,
                      e.trace ? &e.trace_out : nullptr};
        }
        m.step(items.data(), int(items.size()), top_k_);
      });
    });
  }

  void OnOK() override {
    Napi::Env env = Env();
    for (StepEntry& e : entries_) e.wrapper->finish_eval();
    if (failure_.failed()) { deferred_.Reject(make_error(env, failure_).Value()); return; }
    Napi::Array results = Napi::Array::New(env, entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
      StepEntry& e = entries_[i];
      Napi::Object r = Napi::Object::New(env);
      if (e.logits) {
        Napi::Float32Array lg = Napi::Float32Array::New(env, e.out.size());
        std::memcpy(lg.Data(), e.out.data(), e.out.size() * sizeof(float));
        r.Set("logits", lg);
      }
      if (e.trace) {
        Napi::Int32Array ex = Napi::Int32Array::New(env, e.trace_out.experts.size());
        std::memcpy(ex.Data(), e.trace_out.experts.data(), e.trace_out.experts.size() * sizeof(int32_t));
        Napi::Float32Array wt = Napi::Float32Array::New(env, e.trace_out.weights.size());
        std::memcpy(wt.Data(), e.trace_out.weights.data(), e.trace_out.weights.size() * sizeof(float));
        r.Set("experts", ex);
        r.Set("weights", wt);
      }
      results.Set(uint32_t(i), r);
    }
    deferred_.Resolve(results);
  }

 private:
  std::shared_ptr<ModelState> state_;
  std::vector<StepEntry> entries_;
  int top_k_;  // experts per token; 0 = the model's
  Napi::Promise::Deferred deferred_;
  Failure failure_;
};

}  // namespace

Napi::Value NativeModel::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "step(items: Array<{ sequence, ids: Int32Array, logits: 0 | 1 | 2, trace: boolean }>, topK: number)";
  if (info.Length() != 2 || !info[0].IsArray() || !info[1].IsNumber()) { throw_error(env, "INVALID_CALL", usage); return env.Undefined(); }
  Napi::Array arr = info[0].As<Napi::Array>();
  Napi::Function seq_class = env.GetInstanceData<Constructors>()->sequence.Value();
  std::vector<StepEntry> entries(arr.Length());
  // Check every item before taking any sequence, so a bad call leaves all of them free.
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) { throw_error(env, "INVALID_CALL", usage); return env.Undefined(); }
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value s = o.Get("sequence"), ids = o.Get("ids"), lg = o.Get("logits");
    if (!s.IsObject() || !s.As<Napi::Object>().InstanceOf(seq_class) || !ids.IsTypedArray() ||
        ids.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !lg.IsNumber()) {
      throw_error(env, "INVALID_CALL", usage);
      return env.Undefined();
    }
    StepEntry& e = entries[i];
    e.wrapper = NativeSequence::Unwrap(s.As<Napi::Object>());
    if (e.wrapper->state() != state_) { throw_error(env, "INVALID_CALL", "a step item's sequence belongs to another model"); return env.Undefined(); }
    Napi::Int32Array a = ids.As<Napi::Int32Array>();
    e.ids.assign(a.Data(), a.Data() + a.ElementLength());
    e.logits = lg.As<Napi::Number>().Int32Value();
    if (e.logits < 0 || e.logits > 2) { throw_error(env, "INVALID_CALL", usage); return env.Undefined(); }
    e.trace = o.Get("trace").ToBoolean();
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].seq = entries[i].wrapper->start_eval(env);
    if (!entries[i].seq) {  // release the ones already taken; the JS error is pending
      for (size_t j = 0; j < i; ++j) entries[j].wrapper->finish_eval();
      return env.Undefined();
    }
  }
  auto* w = new StepWorker(env, state_, std::move(entries), info[1].As<Napi::Number>().Int32Value());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

}  // namespace smoe::addon
