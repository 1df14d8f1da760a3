/**
 * The BPE model (`model` section of tokenizer.json with `"type": "BPE"`),
 * reproducing tokenizers' `BPE::merge_word` + `Word::merge_all` exactly:
 * merges are applied lowest rank first, ties broken by leftmost position,
 * with byte fallback (`<0xNN>` tokens), `unk_token` / `fuse_unk`,
 * `continuing_subword_prefix`, `end_of_word_suffix` and `ignore_merges`.
 */
import { JsonContext, asArray, asBool, asObject, asString, type JsonObject } from './errors.js';

const CACHE_MAX_ENTRIES = 100_000;
const CACHE_MAX_WORD_LENGTH = 256;

/** Min-heap of packed (rank, position) keys: `rank * 2^32 + pos`. */
class MergeHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  clear(): void {
    this.a.length = 0;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pv = a[p]!;
      if (pv <= v) break;
      a[i] = pv;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let cv = a[l]!;
        if (r < n && a[r]! < cv) {
          c = r;
          cv = a[r]!;
        }
        if (cv >= last) break;
        a[i] = cv;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

const POS_MUL = 4294967296; // 2^32

/** Byte-fallback token name for a byte, as tokenizers formats it: `<0x0A>`. */
export function byteTokenName(b: number): string {
  return '<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>';
}

/** Options of the BPE model read from tokenizer.json. */
export interface BpeOptions {
  unkToken: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  continuingSubwordPrefix: string | null;
  endOfWordSuffix: string | null;
  ignoreMerges: boolean;
}

/** BPE tokenization model. */
export class BpeModel {
  /** token string -> id */
  readonly vocab: Map<string, number>;
  /** id -> token string (holes are `undefined`) */
  readonly idToToken: Array<string | undefined>;
  readonly options: BpeOptions;

  /** (left id, right id) pair key -> merge rank */
  private readonly mergeRank = new Map<number, number>();
  /** merge rank -> id of the merged token */
  private readonly mergeNew: Int32Array;
  private readonly pairMul: number;
  /** single UTF-16 unit -> id (or -1), fast path for the common no-prefix/suffix case */
  private readonly charIds: Int32Array | null;
  private readonly byteIds: Int32Array; // byte -> id or -1
  private readonly cache = new Map<string, number[]>();
  private readonly heap = new MergeHeap();

  constructor(json: JsonObject, ctx: JsonContext) {
    const vocabObj = asObject(json['vocab'], ctx.at('vocab'));
    this.vocab = new Map();
    this.idToToken = [];
    for (const [tok, id] of Object.entries(vocabObj)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw ctx.at('vocab').at(tok).invalid('token id must be a non-negative integer');
      this.vocab.set(tok, id);
      this.idToToken[id] = tok;
    }
    const str = (k: string): string | null => {
      const v = json[k];
      return v === undefined || v === null ? null : asString(v, ctx.at(k));
    };
    this.options = {
      unkToken: str('unk_token'),
      fuseUnk: asBool(json['fuse_unk'], ctx.at('fuse_unk'), false),
      byteFallback: asBool(json['byte_fallback'], ctx.at('byte_fallback'), false),
      continuingSubwordPrefix: str('continuing_subword_prefix'),
      endOfWordSuffix: str('end_of_word_suffix'),
      ignoreMerges: asBool(json['ignore_merges'], ctx.at('ignore_merges'), false),
    };
    const dropout = json['dropout'];
    if (dropout !== undefined && dropout !== null && dropout !== 0) {
      if (typeof dropout !== 'number') throw ctx.at('dropout').invalid('expected a number or null');
      throw ctx.at('dropout').unsupported('BPE dropout is a training-time option and is not supported');
    }

    // Merges: "a b" strings (older files) or ["a", "b"] pairs (newer files).
    this.pairMul = Math.max(this.idToToken.length, 1);
    const merges = asArray(json['merges'] ?? [], ctx.at('merges'));
    this.mergeNew = new Int32Array(merges.length);
    const prefixLen = this.options.continuingSubwordPrefix?.length ?? 0;
    merges.forEach((m, rank) => {
      const mctx = ctx.at('merges').at(rank);
      let a: string, b: string;
      if (typeof m === 'string') {
        const parts = m.split(' ');
        if (parts.length !== 2) throw mctx.invalid('merge must be "left right"');
        [a, b] = parts as [string, string];
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
        [a, b] = m as [string, string];
      } else {
        throw mctx.invalid('merge must be a "left right" string or a [left, right] pair');
      }
      const aId = this.vocab.get(a);
      const bId = this.vocab.get(b);
      const merged = a + (prefixLen > 0 && b.startsWith(this.options.continuingSubwordPrefix!) ? b.slice(prefixLen) : b);
      const newId = this.vocab.get(merged);
      if (aId === undefined || bId === undefined || newId === undefined) throw mctx.invalid(`merge "${a}" + "${b}" uses a token missing from the vocab`);
      this.mergeRank.set(aId * this.pairMul + bId, rank); // later duplicates win, as in tokenizers
      this.mergeNew[rank] = newId;
    });

    if (this.options.continuingSubwordPrefix === null && this.options.endOfWordSuffix === null) {
      this.charIds = new Int32Array(65536).fill(-1);
      for (const [tok, id] of this.vocab) if (tok.length === 1) this.charIds[tok.charCodeAt(0)] = id;
    } else {
      this.charIds = null;
    }
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(byteTokenName(b));
      if (id !== undefined) this.byteIds[b] = id;
    }
    if (this.options.unkToken !== null && !this.vocab.has(this.options.unkToken)) {
      throw ctx.at('unk_token').invalid(`unk_token "${this.options.unkToken}" is not in the vocab`);
    }
  }

  /** Number of ids covered by the model vocab (max id + 1). */
  get size(): number {
    return this.idToToken.length;
  }

  /**
   * True when no merge can join a symbol ending in a character other than
   * `ch` with a symbol starting with `ch`. Then BPE over a whole string equals
   * BPE over its pieces cut before each run of `ch`, which lets a null
   * pre-tokenizer be sped up (and cached) without changing the result.
   */
  canCutBefore(ch: string): boolean {
    if (this.options.ignoreMerges || !this.vocab.has(ch)) return false;
    for (const [key, rank] of this.mergeRank) {
      void rank;
      const a = this.idToToken[Math.floor(key / this.pairMul)]!;
      const b = this.idToToken[key % this.pairMul]!;
      if (!a.endsWith(ch) && b.startsWith(ch)) return false;
    }
    return true;
  }

  /** Tokenize one pre-tokenized word and append its ids to `out`. */
  tokenizeInto(word: string, out: number[]): void {
    if (word.length === 0) return;
    if (this.options.ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    const cacheable = word.length <= CACHE_MAX_WORD_LENGTH;
    if (cacheable) {
      const hit = this.cache.get(word);
      if (hit !== undefined) {
        for (let i = 0; i < hit.length; i++) out.push(hit[i]!);
        return;
      }
    }
    const ids = this.mergeWord(word);
    if (cacheable) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  /** Initial symbols of a word (one per character, byte fallback, unk) as tokenizers' `merge_word`. */
  private initialSymbols(w: string): number[] {
    const syms: number[] = [];
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, byteFallback, unkToken, fuseUnk } = this.options;
    let unkPending = false; // an unk symbol waiting to be pushed (fused runs collapse into one)
    const unkId = unkToken === null ? -1 : this.vocab.get(unkToken)!;
    const charIds = this.charIds;
    const n = w.length;
    for (let i = 0; i < n; ) {
      const c = w.charCodeAt(i);
      const clen = c >= 0xd800 && c <= 0xdbff && i + 1 < n && (w.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let id = -1;
      let s: string | null = null;
      if (charIds !== null && clen === 1) {
        id = charIds[c]!;
      } else {
        s = w.slice(i, i + clen);
        if (prefix !== null && i > 0) s = prefix + s;
        if (suffix !== null && i + clen >= n) s = s + suffix;
        id = this.vocab.get(s) ?? -1;
      }
      i += clen;
      if (id >= 0) {
        if (unkPending) {
          syms.push(unkId);
          unkPending = false;
        }
        syms.push(id);
        continue;
      }
      if (byteFallback) {
        if (s === null) s = w.slice(i - clen, i);
        const bytes = Buffer.from(s, 'utf8');
        let ok = true;
        for (const b of bytes) if (this.byteIds[b]! < 0) ok = false;
        if (ok) {
          // As in tokenizers, a pending unk is *not* flushed before byte tokens.
          for (const b of bytes) syms.push(this.byteIds[b]!);
          continue;
        }
      }
      if (unkId >= 0) {
        if (unkPending && !fuseUnk) syms.push(unkId);
        unkPending = true;
      }
      // no unk token: the character is dropped, as tokenizers does
    }
    if (unkPending) syms.push(unkId);
    return syms;
  }

  /** Run the merge loop on one word. */
  private mergeWord(w: string): number[] {
    const syms = this.initialSymbols(w);
    const n = syms.length;
    if (n < 2) return syms;
    const ids = Int32Array.from(syms);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = this.heap;
    heap.clear();
    const mul = this.pairMul;
    const ranks = this.mergeRank;
    const mergeNew = this.mergeNew;
    for (let i = 0; i + 1 < n; i++) {
      const r = ranks.get(ids[i]! * mul + ids[i + 1]!);
      if (r !== undefined) heap.push(r * POS_MUL + i);
    }
    while (heap.size > 0) {
      const top = heap.pop();
      const rank = Math.floor(top / POS_MUL);
      const pos = top - rank * POS_MUL;
      if (!alive[pos]) continue;
      const nx = next[pos]!;
      if (nx < 0) continue;
      // Skip stale entries: the pair at `pos` must still produce the same token.
      const cur = ranks.get(ids[pos]! * mul + ids[nx]!);
      const newId = mergeNew[rank]!;
      if (cur === undefined || mergeNew[cur] !== newId) continue;
      ids[pos] = newId;
      alive[nx] = 0;
      const nn = next[nx]!;
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      const pv = prev[pos]!;
      if (pv >= 0) {
        const r = ranks.get(ids[pv]! * mul + newId);
        if (r !== undefined) heap.push(r * POS_MUL + pv);
      }
      if (nn >= 0) {
        const r = ranks.get(newId * mul + ids[nn]!);
        if (r !== undefined) heap.push(r * POS_MUL + pos);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
    return out;
  }
}
