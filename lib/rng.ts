/**
 * A small seeded PRNG (xoshiro128**, state filled by splitmix32) so that sampling is reproducible:
 * the same seed gives the same sequence on every platform.
 */
import { randomBytes } from 'node:crypto';

/**
 * Seeded random numbers.
 *
 * @example
 * const r = new Rng(42);
 * r.next();   // a float in [0, 1), the same for every Rng(42)
 */
export class Rng {
  #s = new Uint32Array(4);

  /** @param seed a safe integer >= 0; omitted: a random seed. */
  constructor(seed?: number) {
    const sd = seed ?? randomBytes(4).readUInt32LE(0);
    let x = (sd >>> 0) ^ Math.floor(sd / 0x100000000) * 0x9e3779b1;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    let s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
    return r;
  }

  /** A float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
