// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 for the SIMT emulation: D (16x8, fp32) = A (16x16, bf16,
// row-major) x B (16x8, bf16, column-major) + C (16x8, fp32), assembled from the 32 lanes' fragments.
// Which lane holds which element is the PTX ISA's, section "Matrix Fragments for mma.m16n8k16 with floating
// point type" (Parallel Thread Execution ISA, "Warp Level Matrix Multiply-Accumulate Instructions"; figures
// "MMA .m16n8k16 fragment layout for matrix A", "... for matrix B", "... for accumulator matrix C/D").
// With groupID g = laneid >> 2 and threadID_in_group t = laneid % 4:
//   A: four .b32 registers a0..a3 per lane, each two bf16 (the lower-numbered element in the low 16 bits):
//      elements a_i, i = 0..7: row = g for i in {0,1,4,5}, g + 8 for i in {2,3,6,7};
//                              col = 2t + (i & 1) for i < 4, 2t + 8 + (i & 1) for i >= 4.
//   B: two .b32 registers b0, b1, elements b_i, i = 0..3: row (k) = 2t + (i & 1) for i < 2, 2t + 8 + (i & 1)
//      for i >= 2; col (n) = g.
//   C, D: four fp32 c_i, i = 0..3: row = g for i < 2, g + 8 for i >= 2; col = 2t + (i & 1).
// The products of bf16 values are exact in fp32; the emulation sums them with C in double and rounds once.
#include <cstdint>
#include <cstring>

namespace smoe::emu {
namespace {

float bf16(uint32_t bits16) {
  const uint32_t u = bits16 << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

void mma_m16n8k16_bf16_compute(const uint32_t* const a[32], const uint32_t b[32][2], const float* const c[32],
                               float* const d[32]) {
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 8; ++i) {
      const uint32_t reg = a[lane][i >> 1];
      const int row = g + ((i & 2) ? 8 : 0), col = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
      A[row][col] = bf16((i & 1) ? reg >> 16 : reg & 0xffffu);
    }
    for (int i = 0; i < 4; ++i) {
      const uint32_t reg = b[lane][i >> 1];
      const int k = 2 * t + (i & 1) + (i >= 2 ? 8 : 0);
      B[k][g] = bf16((i & 1) ? reg >> 16 : reg & 0xffffu);
    }
    for (int i = 0; i < 4; ++i) C[g + (i >= 2 ? 8 : 0)][2 * t + (i & 1)] = c[lane][i];
  }
  float D[16][8];
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double acc = C[m][n];
      for (int k = 0; k < 16; ++k) acc += double(A[m][k]) * double(B[k][n]);
      D[m][n] = float(acc);
    }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) d[lane][i] = D[g + (i >= 2 ? 8 : 0)][2 * t + (i & 1)];
  }
}

}  // namespace smoe::emu
