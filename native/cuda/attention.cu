// Causal grouped-query attention over the fp32 KV cache, flash-attention style (online softmax, the scores
// never leave registers), with sliding windows; the semantics of cpu/attention.cpp:
//   q:   [T, H * Hd]   queries (RoPE applied), token t at position pos[t]
//   k,v: [P, G * Hd]   the cache; query head h reads kv head h / (H / G) in place (GQA without copies)
//   out: [T, H * Hd]
//   keys seen by position p: max(0, p - window + 1) .. p (0 .. p when window is 0)
// One kernel serves prefill and decode. A block holds 16 query rows that share a kv head: rows are the
// flattened (token, head-in-group) pairs of kv head g = blockIdx.y, so the K/V tiles staged in shared memory
// serve all `group` heads of several tokens. Split-KV decode: with few query rows (decode) the key range is
// cut into `splits` chunks (blockIdx.z), each block writes an unnormalized partial (max, sum, o) and
// attn_combine_kernel merges them; with splits == 1 the block writes the normalized output itself.
#include <algorithm>
#include <string>

#include "common.cuh"
#include "cuda_check.h"
#include "kernels.h"

namespace smoe::cuda {
namespace {

constexpr int kAttnWarps = 4, kRowsPerWarp = 4, kAttnRows = kAttnWarps * kRowsPerWarp, kKeyTile = 32;
constexpr int kSplitMaxTokens = 16;  // split-KV only for decode-sized batches

struct AttnArgs {
  float* out;
  const float* q;
  const float* k;
  const float* v;
  const int32_t* pos;
  float* partial;  // splits > 1: [splits][T * H][Hd + 2] = (o[Hd], max, sum)
  int T, H, G, Hd, window, splits;
  float scale;
};

// attention_kernel<DC>: DC = ceil(Hd / 32) output dims per lane (Hd <= 32 * DC).
//   Grid (ceil(T * group / 16), G, splits), 128 threads. Warp w owns block rows w, w + 4, w + 8, w + 12.
//   Shared: Ks[32][Hd + 1] (the odd stride keeps the per-lane dot products free of bank conflicts),
//           Vs[32][Hd], Qs[16][Hd].
//   Per key tile: lane j computes the score of key j0 + j for the row (masked keys: -inf), the warp takes the
//   tile max and rescales its running (max m, sum l, o) by exp(m_old - m_new), then o[d] += p_j * V[j][d] with
//   p_j broadcast by shuffle; lane owns dims d = lane + 32c.
template <int DC>
__global__ void __launch_bounds__(kAttnWarps * 32) attention_kernel(const AttnArgs a) {
  SMOE_DYNAMIC_SHARED(float, smem);
  const int Hd = a.Hd, group = a.H / a.G, g = blockIdx.y;
  float* Ks = smem;                          // [32][Hd + 1]
  float* Vs = Ks + kKeyTile * (Hd + 1);      // [32][Hd]
  float* Qs = Vs + kKeyTile * Hd;            // [16][Hd]
  __shared__ int row_lo[kAttnRows], row_hi[kAttnRows];
  __shared__ int block_lo, block_hi;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int rows_total = a.T * group, row0 = blockIdx.x * kAttnRows;
  const size_t qrow = size_t(a.H) * Hd, kvrow = size_t(a.G) * Hd;

  if (tid == 0) { block_lo = INT32_MAX; block_hi = -1; }
  __syncthreads();
  if (tid < kAttnRows) {
    const int r = row0 + tid;
    int lo = 0, hi = -1;  // empty for rows past the end
    if (r < rows_total) {
      hi = a.pos[r / group];
      lo = a.window > 0 ? max(0, hi - a.window + 1) : 0;
      atomicMin(&block_lo, lo);
      atomicMax(&block_hi, hi);
    }
    row_lo[tid] = lo;
    row_hi[tid] = hi;
  }
  for (int i = tid; i < kAttnRows * Hd; i += blockDim.x) {
    const int rr = i / Hd, d = i % Hd, r = row0 + rr;
    float val = 0.f;
    if (r < rows_total) {
      const int t = r / group, h = g * group + r % group;
      val = a.q[size_t(t) * qrow + size_t(h) * Hd + d];
    }
    Qs[rr * Hd + d] = val;
  }
  __syncthreads();
  const int klo = block_lo, khi = block_hi;
  // This split's key tiles (all of them when splits == 1).
  const int tiles = khi >= klo ? (khi - klo + kKeyTile) / kKeyTile : 0;
  const int per = (tiles + a.splits - 1) / a.splits;
  const int t_begin = min(tiles, int(blockIdx.z) * per), t_end = min(tiles, t_begin + per);

  float m[kRowsPerWarp], l[kRowsPerWarp], o[kRowsPerWarp][DC];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    m[i] = -INFINITY; l[i] = 0.f;
#pragma unroll
    for (int c = 0; c < DC; ++c) o[i][c] = 0.f;
  }
  for (int tile = t_begin; tile < t_end; ++tile) {
    const int j0 = klo + tile * kKeyTile;
    for (int i = tid; i < kKeyTile * Hd; i += blockDim.x) {
      const int j = i / Hd, d = i % Hd, key = j0 + j;
      float kv = 0.f, vv = 0.f;
      if (key <= khi) {
        const size_t off = size_t(key) * kvrow + size_t(g) * Hd + d;
        kv = a.k[off];
        vv = a.v[off];
      }
      Ks[j * (Hd + 1) + d] = kv;
      Vs[j * Hd + d] = vv;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      const int rr = warp + kAttnWarps * i;
      const int lo = row_lo[rr], hi = row_hi[rr];
      if (hi < lo || j0 > hi || j0 + kKeyTile - 1 < lo) continue;  // warp-uniform: no key of this tile
      const int key = j0 + lane;
      float s = -INFINITY;
      if (key >= lo && key <= hi) {
        const float* qv = Qs + rr * Hd;
        const float* kr = Ks + lane * (Hd + 1);
        float dot = 0.f;
        for (int d = 0; d < Hd; ++d) dot = fmaf(qv[d], kr[d], dot);
        s = dot * a.scale;
      }
      const float m_new = fmaxf(m[i], warp_max(s));  // finite: the tile holds at least one visible key
      const float p = key >= lo && key <= hi ? expf(s - m_new) : 0.f;
      const float corr = expf(m[i] - m_new);         // 0 on the first visible tile (m = -inf)
      l[i] = l[i] * corr + warp_sum(p);
#pragma unroll
      for (int c = 0; c < DC; ++c) o[i][c] *= corr;
      for (int j = 0; j < kKeyTile; ++j) {
        const float pj = __shfl_sync(kFullMask, p, j);
        const float* vr = Vs + j * Hd;
#pragma unroll
        for (int c = 0; c < DC; ++c) {
          const int d = lane + 32 * c;
          if (d < Hd) o[i][c] = fmaf(pj, vr[d], o[i][c]);
        }
      }
      m[i] = m_new;
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int rr = warp + kAttnWarps * i, r = row0 + rr;
    if (r >= rows_total) continue;
    const int t = r / group, h = g * group + r % group;
    if (a.splits == 1) {
      const float inv = 1.0f / l[i];
      float* dst = a.out + size_t(t) * qrow + size_t(h) * Hd;
#pragma unroll
      for (int c = 0; c < DC; ++c) {
        const int d = lane + 32 * c;
        if (d < Hd) dst[d] = o[i][c] * inv;
      }
    } else {
      float* dst = a.partial + (size_t(blockIdx.z) * a.T * a.H + size_t(t) * a.H + h) * (Hd + 2);
#pragma unroll
      for (int c = 0; c < DC; ++c) {
        const int d = lane + 32 * c;
        if (d < Hd) dst[d] = o[i][c];
      }
      if (lane == 0) { dst[Hd] = m[i]; dst[Hd + 1] = l[i]; }
    }
  }
}

// attn_combine_kernel: merges the split partials of each (t, h): M = max_s m_s,
//   out[t, h, d] = sum_s o_s[d] exp(m_s - M) / sum_s l_s exp(m_s - M). Splits that saw no key (m = -inf)
//   weigh 0. Grid (T * H), Hd threads rounded up to 32.
__global__ void attn_combine_kernel(float* __restrict__ out, const float* __restrict__ partial, int T, int H, int Hd,
                                    int splits) {
  const int th = blockIdx.x;
  const size_t stride = size_t(T) * H * (Hd + 2);
  const float* base = partial + size_t(th) * (Hd + 2);
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, base[s * stride + Hd]);
  for (int d = threadIdx.x; d < Hd; d += blockDim.x) {
    float L = 0.f, O = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float* ps = base + s * stride;
      const float ms = ps[Hd];
      if (ms == -INFINITY) continue;
      const float w = expf(ms - M);
      L += ps[Hd + 1] * w;
      O += ps[d] * w;
    }
    out[size_t(th) * Hd + d] = O / L;
  }
}

size_t attention_smem(int Hd) { return sizeof(float) * (size_t(kKeyTile) * (Hd + 1) + size_t(kKeyTile) * Hd + size_t(kAttnRows) * Hd); }

template <int DC>
void launch_dc(const AttnArgs& args, dim3 grid, size_t smem, cudaStream_t s) {
  static thread_local int configured_device = -1;
  static thread_local size_t configured_smem = 0;
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  if (smem > 48 * 1024 && (dev != configured_device || smem > configured_smem)) {
    check(cudaFuncSetAttribute(attention_kernel<DC>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
          "cudaFuncSetAttribute(attention_kernel)");
    configured_device = dev;
    configured_smem = smem;
  }
  SMOE_LAUNCH(grid, kAttnWarps * 32, smem, s, attention_kernel<DC>)(args);
  check_launch("attention_kernel", s);
}

}  // namespace

int attention_splits(int T, int heads, int kv_heads, int keys, int sms) {
  const int group = heads / kv_heads;
  const int blocks = int(ceil_div(size_t(T) * group, kAttnRows)) * kv_heads;
  const int tiles = (keys + kKeyTile - 1) / kKeyTile;
  if (T > kSplitMaxTokens || blocks >= sms || tiles < 4) return 1;
  // Enough blocks for two waves over the SMs, each with at least 2 key tiles.
  const int want = (2 * sms + blocks - 1) / blocks;
  return std::max(1, std::min({want, tiles / 2, 64}));
}

size_t attention_partial_floats(int T, int heads, int head_dim, int splits) {
  return splits > 1 ? size_t(splits) * T * heads * (head_dim + 2) : 0;
}

void launch_attention(const AttentionLaunch& L, int splits, float* partial, cudaStream_t s) {
  const AttentionParams& p = L.p;
  if (L.T <= 0) return;
  if (p.kv_heads <= 0 || p.heads % p.kv_heads != 0) throw Error("INVALID_SPEC", "attention: heads must be a multiple of kv_heads");
  if (p.head_dim < 1 || p.head_dim > 256)
    throw Error("UNSUPPORTED", "the CUDA attention supports head_dim 1..256 (got " + std::to_string(p.head_dim) + ")");
  AttnArgs a{L.out, L.q, L.k, L.v, L.pos, partial, L.T, p.heads, p.kv_heads, p.head_dim, p.window, std::max(1, splits), p.scale};
  const int group = p.heads / p.kv_heads;
  const dim3 grid(ceil_div(size_t(L.T) * group, kAttnRows), unsigned(p.kv_heads), unsigned(a.splits));
  const size_t smem = attention_smem(p.head_dim);
  if (p.head_dim <= 32) launch_dc<1>(a, grid, smem, s);
  else if (p.head_dim <= 64) launch_dc<2>(a, grid, smem, s);
  else if (p.head_dim <= 128) launch_dc<4>(a, grid, smem, s);
  else launch_dc<8>(a, grid, smem, s);
  if (a.splits > 1) {
    SMOE_LAUNCH(unsigned(L.T * p.heads), unsigned(std::min(1024, (p.head_dim + 31) / 32 * 32)), 0, s, attn_combine_kernel)(
        L.out, partial, L.T, p.heads, p.head_dim, a.splits);
    check_launch("attn_combine_kernel", s);
  }
}

}  // namespace smoe::cuda
