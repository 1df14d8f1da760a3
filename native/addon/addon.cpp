// Module entry: openModel(spec), backends(), and the NativeModel / NativeSequence classes.
#include <napi.h>

#include <thread>

#include "../cpu/cpu_backend.h"
#include "addon.h"
#include "js_error.h"

namespace smoe::addon {
namespace {

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("compiled", true);
  cpu.Set("simd", cpu::select_simd("auto"));
  Napi::Array levels = Napi::Array::New(env);
  uint32_t n = 0;
  for (const char* l : {"avx512", "avx2", "generic"}) {
    Failure f = capture([&] { cpu::select_simd(l); });
    if (!f.failed()) levels.Set(n++, l);
  }
  cpu.Set("simdLevels", levels);
  cpu.Set("cores", Napi::Number::New(env, std::max(1u, std::thread::hardware_concurrency())));
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", false);
  cuda.Set("devices", Napi::Array::New(env));
  Napi::Object r = Napi::Object::New(env);
  r.Set("cpu", cpu);
  r.Set("cuda", cuda);
  return r;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* ctors = new Constructors();
  Napi::Function model = NativeModel::Define(env);
  Napi::Function sequence = NativeSequence::Define(env);
  ctors->model = Napi::Persistent(model);
  ctors->sequence = Napi::Persistent(sequence);
  env.SetInstanceData<Constructors>(ctors);
  exports.Set("NativeModel", model);
  exports.Set("NativeSequence", sequence);
  exports.Set("openModel", Napi::Function::New(env, OpenModel));
  exports.Set("backends", Napi::Function::New(env, Backends));
  return exports;
}

}  // namespace smoe::addon

static Napi::Object InitSmoe(Napi::Env env, Napi::Object exports) { return smoe::addon::Init(env, exports); }
NODE_API_MODULE(smoe, InitSmoe)
