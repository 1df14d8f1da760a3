// NativeModel and the asynchronous open/close of a model (mapping files, binding weights, making the backend).
#include <thread>

#include "../cpu/cpu_backend.h"
#if defined(SMOE_HAVE_CUDA)
#include "../cuda/cuda_backend.h"
#endif
#include "addon.h"
#include "interleave_weights.h"
#include "js_error.h"
#include "spec.h"

namespace smoe::addon {
namespace {

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, LoadSpec spec) : Napi::AsyncWorker(env), spec_(std::move(spec)), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    failure_ = capture([&] {
      refuse_quantized_on_cuda(spec_);
      auto st = std::make_shared<ModelState>();
      for (size_t i = 0; i < spec_.files.size(); ++i)
        st->files.push_back(spec_.owned[i] ? std::make_unique<MappedFile>(spec_.files[i], spec_.owned[i])
                                           : std::make_unique<MappedFile>(spec_.files[i], spec_.resident));
      ModelWeights w = bind_weights(spec_, st->files);
      std::unique_ptr<Backend> backend;
      if (spec_.cuda_device >= 0) {
        const std::string dev = "cuda:" + std::to_string(spec_.cuda_device);
#if defined(SMOE_HAVE_CUDA)
        auto be = std::make_unique<cuda::CudaBackend>(spec_.cuda_device, cuda::parse_precision(spec_.precision));
        be->check_fits(w, spec_.config);  // refuses, with the figures, before anything is allocated
        be->upload_weights(w);            // w now points at device copies
        st->files.clear();                // so the mapped checkpoint is no longer needed
        st->device = dev;
        st->device_name = be->device_name();
        st->precision = cuda::precision_name(be->precision());
        backend = std::move(be);
#else
        throw Error("DEVICE_UNAVAILABLE", "device '" + dev + "' was requested but this build of smoe has no CUDA backend "
                                          "(it was built without nvcc, or with SMOE_CUDA=0)");
#endif
      } else {
        auto be = std::make_unique<cpu::CpuBackend>(spec_.threads, spec_.simd);
        if (spec_.interleave) st->interleaved_bytes = interleave_weights(w, st->files, *be, spec_.threads);
        st->simd = be->simd();
        backend = std::move(be);
      }
      st->model = std::make_unique<Model>(spec_.config, std::move(w), std::move(backend));
      state_ = std::move(st);
    });
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.failed()) { deferred_.Reject(make_error(env, failure_).Value()); return; }
    auto* holder = new std::shared_ptr<ModelState>(std::move(state_));
    Napi::External<std::shared_ptr<ModelState>> ext = Napi::External<std::shared_ptr<ModelState>>::New(
        env, holder, [](Napi::Env, std::shared_ptr<ModelState>* p) { delete p; });
    deferred_.Resolve(env.GetInstanceData<Constructors>()->model.New({ext}));
  }

 private:
  LoadSpec spec_;
  Napi::Promise::Deferred deferred_;
  Failure failure_;
  std::shared_ptr<ModelState> state_;
};

// Waits for a running forward to finish, then unmaps the weights. Sequences keep the backend alive.
class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, std::shared_ptr<ModelState> st)
      : Napi::AsyncWorker(env), st_(std::move(st)), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    std::lock_guard<std::mutex> lk(st_->run);
    st_->files.clear();
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

 private:
  std::shared_ptr<ModelState> st_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Function NativeModel::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod<&NativeModel::CreateSequence>("createSequence"),
                      InstanceMethod<&NativeModel::Step>("step"),
                      InstanceMethod<&NativeModel::ExpertCounts>("expertCounts"),
                      InstanceMethod<&NativeModel::CountExperts>("countExperts"),
                      InstanceMethod<&NativeModel::Close>("close"), InstanceMethod<&NativeModel::Info>("info")});
}

NativeModel::NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw_error(info.Env(), "INVALID_CALL", "NativeModel is made by openModel(), not constructed directly");
    return;
  }
  state_ = *info[0].As<Napi::External<std::shared_ptr<ModelState>>>().Data();
}

Napi::Value NativeModel::CreateSequence(const Napi::CallbackInfo& info) {
  if (state_->closed) {
    throw_error(info.Env(), "MODEL_CLOSED", "the model is closed");
    return info.Env().Undefined();
  }
  Napi::Value opts = info.Length() > 0 ? info[0] : info.Env().Undefined();
  return info.Env().GetInstanceData<Constructors>()->sequence.New({Value(), opts});
}

Napi::Value NativeModel::ExpertCounts(const Napi::CallbackInfo& info) {
  const std::vector<uint64_t> c = state_->model->expert_counts();
  Napi::Float64Array a = Napi::Float64Array::New(info.Env(), c.size());
  for (size_t i = 0; i < c.size(); ++i) a[i] = double(c[i]);
  return a;
}

Napi::Value NativeModel::CountExperts(const Napi::CallbackInfo& info) {
  state_->model->count_experts(info.Length() > 0 && info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value NativeModel::Close(const Napi::CallbackInfo& info) {
  state_->closed = true;
  auto* w = new CloseWorker(info.Env(), state_);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeModel::Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("backend", state_->model->backend().name());
  o.Set("threads", state_->model->backend().threads());
  o.Set("simd", state_->simd);
  o.Set("device", state_->device);
  bool mapped = false;  // some weight file is used in place from the page cache
  for (const auto& f : state_->files) mapped = mapped || !f->resident();
  o.Set("mmap", mapped);
  o.Set("interleavedBytes", double(state_->interleaved_bytes));
  if (!state_->device_name.empty()) o.Set("deviceName", state_->device_name);
  if (!state_->precision.empty()) o.Set("precision", state_->precision);
  return o;
}

Napi::Value OpenModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) {
    throw_error(env, "INVALID_SPEC", "openModel(spec) takes one object");
    return env.Undefined();
  }
  LoadSpec spec;
  Failure f = capture([&] { spec = parse_spec(info[0].As<Napi::Object>()); });
  if (f.failed()) {
    make_error(env, f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new OpenWorker(env, std::move(spec));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

}  // namespace smoe::addon
