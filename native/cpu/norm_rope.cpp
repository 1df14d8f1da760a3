// RMSNorm and rotary position embedding on F32 activations.
#include <cmath>

#include "cpu_backend.h"

namespace smoe::cpu {

// out[t, :] = x[t, :] * rsqrt(mean(x[t, :]^2) + eps) * w   (x, out: [T, D]; w: [D] any dtype)
void CpuBackend::rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps) {
  for (int t = 0; t < T; ++t) {
    const float* xr = x + size_t(t) * D;
    float ss = 0.f;
    for (int i = 0; i < D; ++i) ss += xr[i] * xr[i];
    const float r = 1.0f / std::sqrt(ss / float(D) + eps);
    float* o = out + size_t(t) * D;
    for (int i = 0; i < D; ++i) o[i] = load_as_f32(w.data, w.dtype, size_t(i)) * (xr[i] * r);
  }
}

// RoPE in place: for each head, with h = Hd / 2 and a = pos * inv_freq[i] (fp32, as transformers), the pair
// (j, k) = (i, i + h) (rotate-half) or (2i, 2i + 1) (`pairs`, llama.cpp's NORM mode) becomes
//   x[j] <- x[j] cos a - x[k] sin a;   x[k] <- x[k] cos a + x[j] sin a.   x: [T, heads * Hd]
void CpuBackend::rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq,
                      bool pairs) {
  const int h = head_dim / 2;
  std::vector<float> cs(size_t(2 * h));
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < h; ++i) {
      const float a = float(pos[t]) * inv_freq[i];
      cs[size_t(i)] = std::cos(a);
      cs[size_t(h + i)] = std::sin(a);
    }
    for (int hd = 0; hd < heads; ++hd) {
      float* v = x + (size_t(t) * heads + hd) * head_dim;
      for (int i = 0; i < h; ++i) {
        const int j = pairs ? 2 * i : i, k = pairs ? 2 * i + 1 : i + h;
        const float a = v[j], b = v[k], c = cs[size_t(i)], s = cs[size_t(h + i)];
        v[j] = a * c - b * s;
        v[k] = b * c + a * s;
      }
    }
  }
}

}  // namespace smoe::cpu
