// Plain types shared by the CUDA backend's C++ side and its kernels (no CUDA headers needed).
#pragma once
#include <cstdint>
#include <string>

#include "../core/error.h"

namespace smoe::cuda {

// fp32: fp32 activations and fp32 FMA everywhere (matches the CPU backend to ~1e-5).
// bf16: prefill GEMMs with BF16 weights run on tensor cores (mma.sync m16n8k16, bf16 x bf16 -> fp32) with the
//       activations rounded to bf16 as they are staged; accumulation, the residual stream, norms, attention,
//       router and the decode GEMVs stay fp32. The default ("fast mode").
enum class Precision { FP32, BF16 };

inline Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::FP32;
  if (s == "bf16" || s.empty()) return Precision::BF16;
  throw Error("INVALID_SPEC", "precision must be 'fp32' or 'bf16' (got '" + s + "')");
}
inline const char* precision_name(Precision p) { return p == Precision::FP32 ? "fp32" : "bf16"; }

// The routing plan in device memory (the device twin of RoutePlan): ids/weights [T*K], offsets [E+1],
// slots [T*K].
struct DevicePlan {
  int32_t* ids = nullptr;
  float* weights = nullptr;
  int32_t* offsets = nullptr;
  int32_t* slots = nullptr;
  int tokens = 0, experts = 0, top_k = 0;
};

}  // namespace smoe::cuda
