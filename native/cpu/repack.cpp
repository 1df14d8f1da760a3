// In-place interleaving of eight Q8_0 / Q4_K rows (repack.h): each group is copied aside, then written back
// in the layout quant_blocks.h describes.
#include "repack.h"

#include <cstring>
#include <vector>

#include "quant_blocks.h"

namespace smoe::cpu {

DType interleaved(DType t) {
  switch (t) {
    case DType::Q8_0: return DType::Q8_0_R8;
    case DType::Q4_K: return DType::Q4_K_R8;
    default: return t;
  }
}

namespace {

void group_q8_0(const BlockQ8_0* const* rows, int64_t i, BlockQ8_0x8& out) {
  for (int r = 0; r < 8; ++r) {
    const BlockQ8_0& b = rows[r][i];
    out.d[r] = b.d;
    for (int j = 0; j < 8; ++j) std::memcpy(out.qs + 32 * j + 4 * r, b.qs + 4 * j, 4);
  }
}

void group_q4_k(const BlockQ4_K* const* rows, int64_t i, BlockQ4_Kx8& out) {
  std::memset(out.sm_hi, 0, sizeof(out.sm_hi));
  for (int r = 0; r < 8; ++r) {
    const BlockQ4_K& b = rows[r][i];
    out.d[r] = b.d;
    out.dmin[r] = b.dmin;
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      scale_min_k4(s, b.scales, sc, m);
      const int k = 8 * s + r, j = k % 32, h = k / 32;
      out.sm_lo[k] = uint8_t((sc & 15) | (m & 15) << 4);
      out.sm_hi[j] = uint8_t(out.sm_hi[j] | (sc >> 4) << (2 * h) | (m >> 4) << (4 + 2 * h));
    }
    // The 256 quants in element order: sub-blocks 2i and 2i + 1 are the low and high nibbles of qs[32i ..].
    uint8_t q[QK_K];
    for (int i = 0; i < 4; ++i)
      for (int l = 0; l < 32; ++l) {
        q[64 * i + l] = b.qs[32 * i + l] & 0xF;
        q[64 * i + 32 + l] = b.qs[32 * i + l] >> 4;
      }
    for (int u = 0; u < 32; ++u)
      for (int e = 0; e < 4; ++e) out.qs[32 * u + 4 * r + e] = uint8_t(q[4 * u + e] | q[128 + 4 * u + e] << 4);
  }
}

template <class B, class B8, class F>
void interleave(void* data, int64_t rows, int64_t nb, F group) {
  const size_t rb = size_t(nb) * sizeof(B);
  std::vector<B> copy(size_t(8 * nb));
  for (int64_t g = 0; g + 8 <= rows; g += 8) {
    char* base = static_cast<char*>(data) + size_t(g) * rb;
    std::memcpy(copy.data(), base, 8 * rb);
    const B* rp[8];
    for (int r = 0; r < 8; ++r) rp[r] = copy.data() + r * nb;
    B8* out = reinterpret_cast<B8*>(base);
    for (int64_t i = 0; i < nb; ++i) group(rp, i, out[i]);
  }
}

}  // namespace

void interleave_rows(void* data, DType t, int64_t rows, int64_t cols) {
  switch (t) {
    case DType::Q8_0: interleave<BlockQ8_0, BlockQ8_0x8>(data, rows, cols / QK, group_q8_0); break;
    case DType::Q4_K: interleave<BlockQ4_K, BlockQ4_Kx8>(data, rows, cols / QK_K, group_q4_k); break;
    default: break;
  }
}

}  // namespace smoe::cpu
