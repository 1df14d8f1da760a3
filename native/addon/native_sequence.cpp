// NativeSequence: a KV cache plus the asynchronous evaluation of tokens appended to it.
#include <algorithm>
#include <cstring>

#include "addon.h"
#include "js_error.h"

namespace smoe::addon {

class EvalWorker : public Napi::AsyncWorker {
 public:
  EvalWorker(Napi::Env env, NativeSequence* seq, std::vector<int32_t> ids, bool all, bool trace, int top_k)
      : Napi::AsyncWorker(env), seq_(seq), state_(seq->state_), ids_(std::move(ids)), all_(all), trace_(trace),
        top_k_(top_k), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    failure_ = capture([&] {
      with_model(*state_, [&](Model& m) {
        logits_.resize(all_ ? ids_.size() * size_t(m.config().vocab) : size_t(m.config().vocab));
        m.forward(*seq_->seq_, ids_.data(), int(ids_.size()), all_, logits_.data(), trace_ ? &trace_out_ : nullptr,
                  top_k_);
      });
    });
  }

  void OnOK() override {
    Napi::Env env = Env();
    seq_->finish_eval();
    if (failure_.failed()) { deferred_.Reject(make_error(env, failure_).Value()); return; }
    Napi::Object r = Napi::Object::New(env);
    Napi::Float32Array lg = Napi::Float32Array::New(env, logits_.size());
    std::memcpy(lg.Data(), logits_.data(), logits_.size() * sizeof(float));
    r.Set("logits", lg);
    if (trace_) {
      Napi::Int32Array ex = Napi::Int32Array::New(env, trace_out_.experts.size());
      std::memcpy(ex.Data(), trace_out_.experts.data(), trace_out_.experts.size() * sizeof(int32_t));
      Napi::Float32Array wt = Napi::Float32Array::New(env, trace_out_.weights.size());
      std::memcpy(wt.Data(), trace_out_.weights.data(), trace_out_.weights.size() * sizeof(float));
      r.Set("experts", ex);
      r.Set("weights", wt);
    }
    deferred_.Resolve(r);
  }

 private:
  NativeSequence* seq_;
  std::shared_ptr<ModelState> state_;
  std::vector<int32_t> ids_;
  bool all_, trace_;
  int top_k_;  // experts per token; 0 = the model's
  Napi::Promise::Deferred deferred_;
  Failure failure_;
  std::vector<float> logits_;
  RouterTrace trace_out_;
};

Napi::Function NativeSequence::Define(Napi::Env env) {
  return DefineClass(env, "NativeSequence",
                     {InstanceMethod<&NativeSequence::Eval>("eval"), InstanceMethod<&NativeSequence::Reset>("reset"),
                      InstanceMethod<&NativeSequence::Dispose>("dispose"),
                      InstanceAccessor<&NativeSequence::Length>("length"),
                      InstanceAccessor<&NativeSequence::KvBytes>("kvBytes")});
}

NativeSequence::NativeSequence(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSequence>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw_error(env, "INVALID_CALL", "NativeSequence is made by model.createSequence()");
    return;
  }
  NativeModel* m = NativeModel::Unwrap(info[0].As<Napi::Object>());
  state_ = m->state();
  DType dtype = DType::F32;
  int capacity = 0;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    Napi::Value kv = o.Get("kvCache"), cs = o.Get("contextSize");
    if (!kv.IsUndefined()) {
      const std::string name = kv.IsString() ? kv.As<Napi::String>().Utf8Value() : "";
      if (name != "f32" && name != "f16") { throw_error(env, "INVALID_OPTION", "kvCache must be 'f32' or 'f16'"); return; }
      dtype = name == "f16" ? DType::F16 : DType::F32;
    }
    if (!cs.IsUndefined()) {
      const double v = cs.IsNumber() ? cs.As<Napi::Number>().DoubleValue() : -1;
      if (!(v >= 1 && v <= state_->model->config().max_positions && v == double(int(v)))) {
        throw_error(env, "INVALID_OPTION", "contextSize must be an integer in [1, max_position_embeddings]");
        return;
      }
      capacity = int(v);
    }
  }
  Failure f = capture([&] { seq_ = std::make_unique<Sequence>(state_->model->backend(), state_->model->config(), dtype, capacity); });
  if (f.failed()) make_error(env, f).ThrowAsJavaScriptException();
}

NativeSequence::~NativeSequence() { free_now(); }

void NativeSequence::free_now() {
  if (!seq_) return;
  // The cache lives in backend memory; no forward can be using it (this sequence is not busy).
  seq_.reset();
}

Sequence* NativeSequence::start_eval(Napi::Env env) {
  if (!seq_) { throw_error(env, "SEQUENCE_DISPOSED", "the sequence was disposed"); return nullptr; }
  if (state_->closed) { throw_error(env, "MODEL_CLOSED", "the model is closed"); return nullptr; }
  if (busy_) { throw_error(env, "SEQUENCE_BUSY", "the sequence is already evaluating"); return nullptr; }
  busy_ = true;
  self_ = Napi::Persistent(Value());
  return seq_.get();
}

void NativeSequence::finish_eval() {
  busy_ = false;
  self_.Reset();
  if (dispose_pending_) free_now();
}

Napi::Value NativeSequence::Eval(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsTypedArray() || !info[3].IsNumber() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw_error(env, "INVALID_CALL", "eval(ids: Int32Array, allLogits: boolean, trace: boolean, topK: number)");
    return env.Undefined();
  }
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  std::vector<int32_t> ids(a.Data(), a.Data() + a.ElementLength());
  if (!start_eval(env)) return env.Undefined();
  auto* w = new EvalWorker(env, this, std::move(ids), info[1].ToBoolean(), info[2].ToBoolean(),
                            info[3].As<Napi::Number>().Int32Value());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeSequence::Length(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), seq_ ? seq_->length : 0);
}

Napi::Value NativeSequence::KvBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), seq_ ? double(seq_->kv.bytes()) : 0.0);
}

Napi::Value NativeSequence::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!seq_) { throw_error(env, "SEQUENCE_DISPOSED", "the sequence was disposed"); return env.Undefined(); }
  if (busy_) { throw_error(env, "SEQUENCE_BUSY", "the sequence is evaluating"); return env.Undefined(); }
  // reset(keep = 0): keeps the first `keep` positions (a rollback of a chunked evaluation that failed).
  const int keep = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  seq_->length = std::max(0, std::min(keep, seq_->length));
  return env.Undefined();
}

Napi::Value NativeSequence::Dispose(const Napi::CallbackInfo& info) {
  if (busy_) dispose_pending_ = true;
  else free_now();
  return info.Env().Undefined();
}

}  // namespace smoe::addon
