// What a loaded model owns on the native side, shared by the JS Model and every Sequence made from it.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../load/mapped_file.h"
#include "../model/mixtral.h"

namespace smoe::addon {

struct ModelState {
  std::mutex run;                    // one forward at a time: the pool and workspace are shared
  std::atomic<bool> closed{false};   // set on the main thread by close(); checked under `run`
  std::vector<std::unique_ptr<MappedFile>> files;
  std::unique_ptr<Model> model;      // outlives close() so sequences can free their caches
  std::string simd;
  size_t interleaved_bytes = 0;  // CPU: weight bytes rewritten in the kernels' layout at load (cpu/repack.h)
  std::string device = "cpu";        // "cpu" or "cuda:N"
  std::string device_name;           // the GPU's name (CUDA)
  std::string precision;             // "fp32" or "bf16" (CUDA); empty on the CPU
};

// Worker-thread side of every evaluation: one forward at a time (the pool and workspace are shared), and
// none on a model closed meanwhile.
template <class F>
void with_model(ModelState& st, F&& fn) {
  std::lock_guard<std::mutex> lk(st.run);
  if (st.closed) throw Error("MODEL_CLOSED", "the model was closed");
  fn(*st.model);
}

}  // namespace smoe::addon
