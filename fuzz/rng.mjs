// A small seeded PRNG for the fuzzer (splitmix32): every case is reproducible from (seed, format, index).

export class FuzzRng {
  #s;
  constructor(seed) {
    this.#s = seed >>> 0;
  }

  /** A uint32. */
  u32() {
    let z = (this.#s = (this.#s + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A float in [0, 1). */
  float() {
    return this.u32() / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n) {
    return Math.floor(this.float() * n);
  }

  chance(p) {
    return this.float() < p;
  }

  pick(list) {
    return list[this.int(list.length)];
  }
}

/** The seed of case `index` of `format` in a run seeded with `seed` (FNV-1a over the three). */
export function caseSeed(seed, format, index) {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${format}/${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}
