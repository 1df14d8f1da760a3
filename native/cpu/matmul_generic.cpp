// Portable instantiation of the matmul microkernel (baseline x86-64 / any CPU): 4-lane GCC/Clang vector
// extensions, which the compiler lowers to SSE2 (or NEON), with scalar 16-bit conversion.
#include "matmul_tile.h"

namespace smoe::cpu {
namespace {
struct Generic {
  typedef float V __attribute__((vector_size(16)));
  static constexpr int P = 2, W = 4, MT = 2, NT = 2, PMT = 4, PNT = 2;  // 2 chains x 2 tokens x 2 rows; packed 4 x 2
  template <DType T> using Elem = std::conditional_t<T == DType::F32, float, uint16_t>;
  static V zero() { return V{0, 0, 0, 0}; }
  static V load_f32(const float* p) { V v; __builtin_memcpy(&v, p, sizeof v); return v; }
  template <DType T> static V load_w(const Elem<T>* p) {
    if constexpr (T == DType::F32) return load_f32(p);
    else if constexpr (T == DType::F16) return V{f16_to_f32(p[0]), f16_to_f32(p[1]), f16_to_f32(p[2]), f16_to_f32(p[3])};
    else return V{bf16_to_f32(p[0]), bf16_to_f32(p[1]), bf16_to_f32(p[2]), bf16_to_f32(p[3])};
  }
  static void store(float* p, V v) { __builtin_memcpy(p, &v, sizeof v); }
  static V add(V a, V b) { return a + b; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static float hsum(V v) { return (v[0] + v[2]) + (v[1] + v[3]); }
};
}  // namespace

MatmulFn matmul_generic() { return &matmul_dispatch<Generic>; }

}  // namespace smoe::cpu
