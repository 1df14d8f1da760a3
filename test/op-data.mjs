// Deterministic test data for the op-by-op tests (opTest): random activations and weights in every stored
// dtype, with their exact values for references.
const f32b = new Float32Array(1), u32b = new Uint32Array(f32b.buffer);

/** A xorshift32 generator of floats in [0, 1). */
export function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}
/** n floats ~ U(-scale, scale). */
export function randn(n, r, scale = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}
/** The bf16 bits of x, rounded to nearest even. */
export function bf16Bits(x) {
  f32b[0] = x;
  const b = u32b[0];
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}
// Valid half-precision bits of magnitude in [2^-6, 2^-2) with a random sign.
function f16Random(r) {
  const e = 9 + Math.floor(r() * 4), m = Math.floor(r() * 1024), s = r() < 0.5 ? 0x8000 : 0;
  return s | (e << 10) | m;
}
/** A weight { data, dtype, rows, cols } with entries ~ U(-scale, scale) (F16: random magnitudes up to ~scale). */
export function weight(rows, cols, dtype, r, scale = 0.1) {
  const n = rows * cols;
  if (dtype === 'F32') return { data: randn(n, r, scale), dtype, rows, cols };
  const data = new Uint16Array(n);
  for (let i = 0; i < n; i++) data[i] = dtype === 'BF16' ? bf16Bits((r() * 2 - 1) * scale) : f16Random(r);
  return { data, dtype, rows, cols };
}
/** The exact values of a weight made by weight() (normal f16 numbers only, as weight() makes). */
export function weightValues(w) {
  if (w.dtype === 'F32') return Float64Array.from(w.data);
  const out = new Float64Array(w.data.length);
  for (let i = 0; i < w.data.length; i++) {
    const b = w.data[i];
    if (w.dtype === 'BF16') { u32b[0] = b << 16; out[i] = f32b[0]; continue; }
    const s = b & 0x8000 ? -1 : 1, e = (b >> 10) & 0x1f, m = b & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}
export const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
