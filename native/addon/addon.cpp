// Module entry: openModel(spec), backends(), and the NativeModel / NativeSequence classes.
#include <napi.h>

#include <thread>

#include "../cpu/cpu_backend.h"
#if defined(SMOE_HAVE_CUDA)
#include "../cuda/device_info.h"
#endif
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
  Napi::Array devices = Napi::Array::New(env);
#if defined(SMOE_HAVE_CUDA)
  cuda.Set("compiled", true);
#if defined(SMOE_CUDA_EMULATE)
  // The SIMT emulation build (a test build): its one device is the emulator, never a GPU.
  cuda.Set("emulated", true);
#endif
  const cuda::DeviceList list = cuda::list_devices();
  for (size_t i = 0; i < list.devices.size(); ++i) {
    const cuda::DeviceInfo& d = list.devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("memory", Napi::Number::New(env, double(d.total_memory)));
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
#if defined(SMOE_CUDA_EMULATE)
    o.Set("emulated", true);
#endif
    devices.Set(uint32_t(i), o);
  }
  if (!list.reason.empty()) cuda.Set("reason", list.reason);
#else
  cuda.Set("compiled", false);
  cuda.Set("reason", "this build of smoe has no CUDA backend (built without nvcc, or with SMOE_CUDA=0)");
#endif
  cuda.Set("devices", devices);
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
  exports.Set("opTest", Napi::Function::New(env, OpTest));
  exports.Set("quantizeRows", Napi::Function::New(env, QuantizeRows));
  exports.Set("allocWeights", Napi::Function::New(env, AllocWeights));
  exports.Set("readWeights", Napi::Function::New(env, ReadWeights));
  return exports;
}

}  // namespace smoe::addon

static Napi::Object InitSmoe(Napi::Env env, Napi::Object exports) { return smoe::addon::Init(env, exports); }
NODE_API_MODULE(smoe, InitSmoe)
