/**
 * llama.cpp's SentencePiece-style tokenizer (`tokenizer.ggml.model = "llama"`, llama-vocab.cpp
 * `llm_tokenizer_spm_session` and `tokenizer_st_partition`), reproduced exactly:
 *  1. the text is cut around special tokens (CONTROL / UNKNOWN ones only when `parseSpecial`; USER_DEFINED
 *     always), longest token text first;
 *  2. each remaining fragment gets a leading space when `add_space_prefix` is set and it starts the text
 *     or follows a special token, and its spaces become U+2581 (▁);
 *  3. its characters are merged pairwise, always the adjacent pair whose concatenation is a token with the
 *     highest score (ties: the leftmost), until no pair forms a token;
 *  4. every symbol is its token, or its UTF-8 bytes as `<0xXX>` tokens.
 * BOS is prepended when `addBos` (and EOS appended when `addEos`) with `addSpecial`.
 */

import { TokenizerError } from './errors.js';

/** ggml token types (gguf-py `TokenType`). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SpmVocab {
  tokens: readonly string[];
  scores: ArrayLike<number>;
  types: ArrayLike<number>;
  bosId: number | null;
  eosId: number | null;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
}

interface Bigram { left: number; right: number; score: number; size: number }

/** Max-heap on score, then min on left position: llama.cpp's `llm_bigram_spm::comparator`. */
class BigramQueue {
  #a: Bigram[] = [];
  get size(): number { return this.#a.length; }
  static #before(x: Bigram, y: Bigram): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(b: Bigram): void {
    const a = this.#a;
    let i = a.length;
    a.push(b);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!BigramQueue.#before(b, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = b;
  }
  pop(): Bigram {
    const a = this.#a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && BigramQueue.#before(a[r]!, a[l]!) ? r : l;
        if (!BigramQueue.#before(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

type Fragment = { text: string } | { id: number };

const utf8 = new TextEncoder();

export class LlamaSpmEncoder {
  readonly #v: SpmVocab;
  readonly #toId = new Map<string, number>();
  /** Special token ids by descending UTF-8 length of their text (then id), as llama.cpp sorts them. */
  readonly #specials: number[];

  constructor(v: SpmVocab) {
    this.#v = v;
    v.tokens.forEach((t, id) => this.#toId.set(t, id)); // a repeated text maps to its last id, as in llama.cpp
    const special = new Set<number>([TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.USER_DEFINED]);
    const ids: number[] = [];
    for (let id = 0; id < v.tokens.length; id++) if (special.has(v.types[id]!) && v.tokens[id]!.length > 0) ids.push(id);
    const len = ids.map((id) => utf8.encode(v.tokens[id]!).length);
    const order = ids.map((_, i) => i).sort((x, y) => len[y]! - len[x]! || ids[x]! - ids[y]!);
    this.#specials = order.map((i) => ids[i]!);
  }

  /** Token ids of `text`, as llama.cpp's `llama_tokenize(vocab, text, addSpecial, parseSpecial)`. */
  encode(text: string, addSpecial: boolean, parseSpecial: boolean): number[] {
    const v = this.#v;
    const out: number[] = [];
    if (addSpecial && v.addBos && v.bosId !== null) out.push(v.bosId);
    let prevSpecial = true;
    for (const f of text.length > 0 ? this.#partition(text, parseSpecial) : []) {
      if ('id' in f) {
        out.push(f.id);
        prevSpecial = true;
        continue;
      }
      const t = (v.addSpacePrefix && prevSpecial ? ' ' : '') + f.text;
      this.#session(t.replaceAll(' ', '\u2581'), out);
      prevSpecial = false;
    }
    if (addSpecial && v.addEos && v.eosId !== null) out.push(v.eosId);
    return out;
  }

  #partition(text: string, parseSpecial: boolean): Fragment[] {
    let frags: Fragment[] = [{ text }];
    for (const id of this.#specials) {
      const type = this.#v.types[id];
      if (!parseSpecial && (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN)) continue;
      const tok = this.#v.tokens[id]!;
      const next: Fragment[] = [];
      for (const f of frags) {
        if ('id' in f) {
          next.push(f);
          continue;
        }
        let pos = 0;
        for (let m = f.text.indexOf(tok); m !== -1; m = f.text.indexOf(tok, pos)) {
          if (m > pos) next.push({ text: f.text.slice(pos, m) });
          next.push({ id });
          pos = m + tok.length;
        }
        if (pos < f.text.length) next.push({ text: f.text.slice(pos) });
      }
      frags = next;
    }
    return frags;
  }

  /** Steps 3 and 4 on one escaped fragment. */
  #session(text: string, out: number[]): void {
    const sym = Array.from(text); // one symbol per code point (llama.cpp: per UTF-8 character)
    const n = sym.length;
    if (n === 0) return;
    const prev = new Int32Array(n).map((_, i) => i - 1);
    const next = new Int32Array(n).map((_, i) => (i + 1 < n ? i + 1 : -1));
    const queue = new BigramQueue();
    const scores = this.#v.scores;
    const tryAdd = (left: number, right: number): void => {
      if (left === -1 || right === -1) return;
      const s = sym[left]! + sym[right]!;
      const id = this.#toId.get(s);
      if (id === undefined) return;
      queue.push({ left, right, score: scores[id]!, size: s.length });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const b = queue.pop();
      const l = sym[b.left]!, r = sym[b.right]!;
      // Skip a pair one of whose symbols has merged since it was queued.
      if (l.length === 0 || r.length === 0 || l.length + r.length !== b.size) continue;
      sym[b.left] = l + r;
      sym[b.right] = '';
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      tryAdd(prev[b.left]!, b.left);
      tryAdd(b.left, next[b.left]!);
    }
    for (let i = 0; i !== -1; i = next[i]!) {
      const id = this.#toId.get(sym[i]!);
      if (id !== undefined) out.push(id);
      else for (const byte of utf8.encode(sym[i]!)) out.push(this.#byteToken(byte));
    }
  }

  #byteToken(byte: number): number {
    const hex = `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
    // As llama.cpp's byte_to_token: the byte token, else the byte as a one-char token, else an error.
    const id = this.#toId.get(hex) ?? this.#toId.get(String.fromCharCode(byte));
    if (id === undefined)
      throw new TokenizerError('TOKENIZER_INPUT', `cannot encode byte ${hex}: the vocabulary has no token for it`);
    return id;
  }
}
