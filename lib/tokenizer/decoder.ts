/**
 * Decoders: the `decoder` section of tokenizer.json.
 *
 * Each decoder has two forms:
 *  - `decodeChain(tokens)`: the batch transform, a line-by-line port of
 *    tokenizers' `Decoder::decode_chain` (list of token strings in, list out);
 *  - `createStage(fusedIn)`: an incremental version used by the streaming
 *    detokenizer. A stage receives pieces one at a time and appends output
 *    pieces; concatenating all output (after `flush`) equals joining the batch
 *    result. When `fusedIn` is true the incoming pieces are fragments of one
 *    single token (everything after a `Fuse`), which matters for decoders that
 *    act per token (Strip, Metaspace, ...).
 */
import { tokenBytes } from './byte-level.js';
import { JsonContext, asArray, asChar, asObject, asPattern, asString, asUint, typeOf } from './errors.js';
import { replacePattern } from './normalizer.js';
import { metaspaceScheme } from './pre-tokenizer.js';

/** Incremental form of a decoder. */
export interface DecoderStage {
  /** True when the pieces this stage emits are fragments of one token. */
  readonly fusedOut: boolean;
  push(piece: string, out: string[]): void;
  flush(out: string[]): void;
}

/** A decoder from tokenizer.json. */
export interface Decoder {
  decodeChain(tokens: string[]): string[];
  createStage(fusedIn: boolean): DecoderStage;
}

const BYTE_TOKEN = /^<0x([0-9a-fA-F]{2}|\+[0-9a-fA-F])>$/;

/**
 * The byte a `<0xNN>` token stands for, or -1. Mirrors tokenizers' check:
 * 6 UTF-8 bytes, `<0x` prefix, `>` suffix, and `u8::from_str_radix(_, 16)`
 * (which also accepts a leading `+`).
 */
export function byteTokenValue(token: string): number {
  if (token.length !== 6) return -1;
  const m = BYTE_TOKEN.exec(token);
  return m ? parseInt(m[1]!, 16) : -1;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** tokenizers' ByteFallback flush: valid UTF-8 becomes one string, otherwise one U+FFFD per byte. */
function flushBytes(bytes: number[], out: string[]): void {
  if (bytes.length === 0) return;
  try {
    out.push(utf8Strict.decode(Uint8Array.from(bytes)));
  } catch {
    for (let i = 0; i < bytes.length; i++) out.push('\uFFFD');
  }
  bytes.length = 0;
}

/** A stage that applies a stateless per-token function when tokens are separate, or buffers a fused token until flush. */
function perTokenStage(fusedIn: boolean, fn: (t: string, index: number) => string): DecoderStage {
  if (!fusedIn) {
    let i = 0;
    return { fusedOut: false, push: (p, out) => void out.push(fn(p, i++)), flush: () => {} };
  }
  let buf = '';
  let seen = false;
  return {
    fusedOut: true,
    push: (p) => {
      buf += p;
      seen = true;
    },
    flush: (out) => {
      if (seen) out.push(fn(buf, 0));
      buf = '';
    },
  };
}

function buildReplace(o: Record<string, unknown>, ctx: JsonContext): Decoder {
  const pattern = asPattern(o['pattern'], ctx.at('pattern'));
  const content = asString(o['content'], ctx.at('content'));
  const fn = (t: string): string => replacePattern(t, pattern, content);
  return {
    decodeChain: (tokens) => tokens.map(fn),
    createStage(fusedIn) {
      if (!fusedIn || pattern.kind === 'regex') return perTokenStage(fusedIn, fn);
      // Fused input: a literal pattern may straddle two pieces, so hold back a
      // tail that could still be the start of a match.
      const pat = pattern.value;
      const L = pat.length;
      let buf = '';
      return {
        fusedOut: true,
        push(p, out) {
          buf += p;
          if (L === 0) {
            out.push(buf);
            buf = '';
            return;
          }
          let emitted = '';
          let pos = 0;
          for (let i = buf.indexOf(pat); i >= 0; i = buf.indexOf(pat, pos)) {
            emitted += buf.slice(pos, i) + content;
            pos = i + L;
          }
          let b = Math.max(pos, buf.length - L + 1);
          if (b > pos && b < buf.length && (buf.charCodeAt(b - 1) & 0xfc00) === 0xd800) b--;
          emitted += buf.slice(pos, b);
          buf = buf.slice(b);
          if (emitted) out.push(emitted);
        },
        flush(out) {
          if (buf) out.push(buf);
          buf = '';
        },
      };
    },
  };
}

const byteFallback: Decoder = {
  decodeChain(tokens) {
    const out: string[] = [];
    const bytes: number[] = [];
    for (const t of tokens) {
      const b = byteTokenValue(t);
      if (b >= 0) bytes.push(b);
      else {
        flushBytes(bytes, out);
        out.push(t);
      }
    }
    flushBytes(bytes, out);
    return out;
  },
  createStage(fusedIn) {
    if (fusedIn) {
      // One fused token: it can only be a byte token if it is exactly 6 characters long.
      let buf = '';
      let passing = false;
      return {
        fusedOut: true,
        push(p, out) {
          if (passing) return void out.push(p);
          buf += p;
          if (buf.length > 6) {
            passing = true;
            out.push(buf);
            buf = '';
          }
        },
        flush(out) {
          if (!passing && buf) out.push(...byteFallback.decodeChain([buf]));
          buf = '';
        },
      };
    }
    // Byte tokens are held until the run ends: tokenizers decodes the whole run
    // at once and, if it is not valid UTF-8, emits one U+FFFD per byte.
    const bytes: number[] = [];
    return {
      fusedOut: false,
      push(p, out) {
        const b = byteTokenValue(p);
        if (b >= 0) bytes.push(b);
        else {
          flushBytes(bytes, out);
          out.push(p);
        }
      },
      flush: (out) => flushBytes(bytes, out),
    };
  },
};

/** ByteLevel: all tokens' bytes (tokenBytes) joined and decoded as UTF-8 with U+FFFD for invalid runs. */
const byteLevel: Decoder = {
  decodeChain: (tokens) => [new TextDecoder().decode(Uint8Array.from(tokens.flatMap(tokenBytes)))],
  createStage() {
    // A streaming TextDecoder holds an incomplete trailing sequence back until its bytes arrive.
    const dec = new TextDecoder();
    return {
      fusedOut: true,
      push(p, out) {
        const s = dec.decode(Uint8Array.from(tokenBytes(p)), { stream: true });
        if (s) out.push(s);
      },
      flush(out) {
        const s = dec.decode();
        if (s) out.push(s);
      },
    };
  },
};

const fuse: Decoder = {
  decodeChain: (tokens) => [tokens.join('')],
  createStage: () => ({ fusedOut: true, push: (p, out) => void out.push(p), flush: () => {} }),
};

function buildStrip(o: Record<string, unknown>, ctx: JsonContext): Decoder {
  const content = asChar(o['content'], ctx.at('content'));
  const start = asUint(o['start'], ctx.at('start'), 0);
  const stop = asUint(o['stop'], ctx.at('stop'), 0);
  const stripOne = (token: string): string => {
    const chars = [...token];
    let startCut = 0;
    for (let i = 0; i < Math.min(start, chars.length); i++) {
      if (chars[i] === content) startCut = i + 1;
      else break;
    }
    let stopCut = chars.length;
    for (let i = 0; i < Math.min(stop, chars.length - startCut); i++) {
      const index = chars.length - i - 1;
      if (chars[index] === content) stopCut = index;
      else break;
    }
    return chars.slice(startCut, stopCut).join('');
  };
  return {
    decodeChain: (tokens) => tokens.map(stripOne),
    createStage(fusedIn) {
      if (!fusedIn) return perTokenStage(false, stripOne);
      let seenStart = 0; // leading chars examined by the start rule
      let startDone = start === 0;
      let held = 0; // trailing run of `content` chars not yet emitted
      return {
        fusedOut: true,
        push(p, out) {
          if (startDone && stop === 0) {
            if (p) out.push(p);
            return;
          }
          let emitted = '';
          for (const c of p) {
            if (!startDone) {
              if (seenStart < start && c === content) {
                seenStart++;
                if (seenStart >= start) startDone = true;
                continue;
              }
              startDone = true;
            }
            if (stop > 0) {
              if (c === content) held++;
              else {
                emitted += content.repeat(held) + c;
                held = 0;
              }
            } else emitted += c;
          }
          if (emitted) out.push(emitted);
        },
        flush(out) {
          const keep = held - Math.min(stop, held);
          if (keep > 0) out.push(content.repeat(keep));
          held = 0;
        },
      };
    },
  };
}

function buildMetaspace(o: Record<string, unknown>, ctx: JsonContext): Decoder {
  const rep = asChar(o['replacement'], ctx.at('replacement'));
  const dropFirst = metaspaceScheme(o, ctx) !== 'never';
  const fn = (t: string, i: number): string => t.split(rep).join(i === 0 && dropFirst ? '' : ' ');
  return {
    decodeChain: (tokens) => tokens.map(fn),
    createStage(fusedIn) {
      if (!fusedIn) return perTokenStage(false, fn);
      // Everything is token 0.
      return { fusedOut: true, push: (p, out) => void out.push(fn(p, 0)), flush: () => {} };
    },
  };
}

function buildSequence(o: Record<string, unknown>, ctx: JsonContext): Decoder {
  const list = asArray(o['decoders'], ctx.at('decoders')).map((d, i) => buildDecoder(d, ctx.at('decoders').at(i)));
  const parts = list.filter((d): d is Decoder => d !== null);
  return {
    decodeChain: (tokens) => parts.reduce((acc, d) => d.decodeChain(acc), tokens),
    createStage(fusedIn) {
      const stages: DecoderStage[] = [];
      let fused = fusedIn;
      for (const d of parts) {
        const s = d.createStage(fused);
        stages.push(s);
        fused = s.fusedOut;
      }
      // Feed pieces through the stages; `fromStage` is where they enter.
      const run = (pieces: string[], fromStage: number, out: string[]): void => {
        let cur = pieces;
        for (let k = fromStage; k < stages.length; k++) {
          const next: string[] = [];
          for (const p of cur) stages[k]!.push(p, next);
          cur = next;
        }
        for (const p of cur) out.push(p);
      };
      return {
        fusedOut: fused,
        push: (p, out) => run([p], 0, out),
        flush(out) {
          for (let k = 0; k < stages.length; k++) {
            const flushed: string[] = [];
            stages[k]!.flush(flushed);
            run(flushed, k + 1, out);
          }
        },
      };
    },
  };
}

/**
 * Build a decoder from tokenizer.json; `null` stays `null` (tokens are then
 * joined with spaces, as tokenizers does).
 * Supported: Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace, ByteLevel.
 */
export function buildDecoder(json: unknown, ctx: JsonContext): Decoder | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, ctx);
  const type = typeOf(o, ctx);
  switch (type) {
    case 'Sequence':
      return buildSequence(o, ctx);
    case 'Replace':
      return buildReplace(o, ctx);
    case 'ByteFallback':
      return byteFallback;
    case 'Fuse':
      return fuse;
    case 'Strip':
      return buildStrip(o, ctx);
    case 'Metaspace':
      return buildMetaspace(o, ctx);
    case 'ByteLevel':
      return byteLevel;
    default:
      throw ctx.at('type').unsupported(`unsupported decoder type "${type}"`);
  }
}
