// Run-time choice of the SIMD kernels (compiled for every level; picked by what this CPU supports).
#include <string>

#include "../core/error.h"
#include "cpu_backend.h"

namespace smoe::cpu {

#if defined(SMOE_HAVE_X86_KERNELS)
MatmulFn matmul_avx2();
MatmulFn matmul_avx512();
QuantMatmulFn quant_matmul_avx2();
QuantMatmulFn quant_matmul_avx512();
#endif
MatmulFn matmul_generic();
QuantMatmulFn quant_matmul_generic();

static bool cpu_has(const char* level) {
#if defined(SMOE_HAVE_X86_KERNELS)
  __builtin_cpu_init();
  if (std::string(level) == "avx512") return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  if (std::string(level) == "avx2")
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
  return std::string(level) == "generic";
}

std::string select_simd(const std::string& want) {
  if (!want.empty() && want != "auto") {
    if (want != "avx512" && want != "avx2" && want != "generic")
      throw Error("INVALID_OPTION", "unknown simd level '" + want + "' (expected auto, avx512, avx2 or generic)");
    if (!cpu_has(want.c_str()))
      throw Error("SIMD_UNSUPPORTED", "this CPU (or this build) does not support simd level '" + want + "'");
    return want;
  }
  for (const char* l : {"avx512", "avx2"})
    if (cpu_has(l)) return l;
  return "generic";
}

MatmulFn matmul_kernel(const std::string& simd) {
#if defined(SMOE_HAVE_X86_KERNELS)
  if (simd == "avx512") return matmul_avx512();
  if (simd == "avx2") return matmul_avx2();
#endif
  return matmul_generic();
}

// The quantized kernels of a level: "avx512" uses VNNI (vpdpbusd on 256-bit vectors) where the CPU has
// AVX512-VNNI and AVX512-VL, else the AVX2 ones (every AVX-512 CPU has AVX2).
QuantMatmulFn quant_matmul_kernel(const std::string& simd) {
#if defined(SMOE_HAVE_X86_KERNELS)
  if (simd == "avx512") {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")) return quant_matmul_avx512();
    return quant_matmul_avx2();
  }
  if (simd == "avx2") return quant_matmul_avx2();
#endif
  (void)simd;
  return quant_matmul_generic();
}

}  // namespace smoe::cpu
