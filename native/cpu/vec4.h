// Four float / int32 lanes in GCC / Clang vector types (SSE2 on any x86-64, NEON on arm64) for the
// elementwise loops of the generic code: every lane runs the same IEEE operations as the scalar code would,
// so results do not depend on the target. Include it only from sources built without -mfma (the generic
// ones): there the compiler cannot fuse a * b + c into one rounding.
#pragma once
#include <cstdint>
#include <cstring>

namespace smoe::cpu {

typedef float F4 __attribute__((vector_size(16)));
typedef uint32_t U4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));

inline F4 load4(const float* p) { F4 v; std::memcpy(&v, p, 16); return v; }
inline void store4(float* p, F4 v) { std::memcpy(p, &v, 16); }
inline F4 splat4(float v) { return F4{} + v; }
inline F4 abs4(F4 v) { return (F4)((U4)v & 0x7fffffffu); }

// Adding 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer, ties to even (the default FP
// mode, as nearbyint and vroundps), held in the sum's low mantissa bits.
constexpr float kRoundMagic = 12582912.0f;
inline U4 round_magic_bits() { uint32_t b; std::memcpy(&b, &kRoundMagic, 4); return U4{} + b; }
// round(v) as int32 lanes for |v| < 2^22, no float-to-int conversion (a NaN lane gives some value, not UB).
inline I4 round_even4(F4 v) { return (I4)((U4)(v + kRoundMagic) - round_magic_bits()); }

}  // namespace smoe::cpu
