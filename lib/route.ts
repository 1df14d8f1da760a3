/**
 * The router lens: which experts each token is sent to, per layer, with summary statistics — expert usage
 * and the Mixtral paper's "same expert for consecutive tokens" rate. Built on a Sequence with routerTrace.
 */
import { InvalidArgumentError } from './errors.js';
import type { ModelLike, RouterStep } from './model-types.js';
import { optionalInt, optionalObject, rejectUnknownKeys, toIds } from './options.js';
import type { Tokenizer } from './tokenizer/index.js';

/** Options of `model.route()`. */
export interface RouteOptions {
  /** Experts each token is routed to (default: the model's; see LoadOptions.expertsPerToken). */
  expertsPerToken?: number;
}

/** One layer's routing of one token: the chosen experts by descending router score, and their weights. */
export interface RouteChoice {
  experts: number[];
  weights: number[];
}

/** One routed token. */
export interface RoutedToken {
  /** Token id. */
  id: number;
  /** The token's own decoded piece (e.g. " the"; special tokens as written, e.g. "<s>"). */
  text: string;
  /** Position in the sequence (0 = the first token, BOS when the text was encoded with one). */
  position: number;
  /** Per layer (index = layer), the chosen experts and their weights. */
  layers: RouteChoice[];
}

/** What `model.route()` returns. */
export interface RouteReport {
  tokens: RoutedToken[];
  /** Number of layers. */
  layers: number;
  /** Experts per layer. */
  experts: number;
  /** Experts each token was routed to. */
  topK: number;
  /** usage[layer][expert]: the share of the layer's token slots (tokens x topK) routed to the expert; sums to 1 per layer. */
  usage: number[][];
  /**
   * sameExpertRate[layer]: the fraction of consecutive token pairs (t, t+1) whose top-1 expert is the same
   * (the Mixtral paper's "first choice" repetition rate; 0 with fewer than two tokens).
   */
  sameExpertRate: number[];
  /** sameAnyRate[layer]: the fraction of consecutive token pairs whose top-k expert sets share an expert ("first or second choice"). */
  sameAnyRate: number[];
  /** The rates a router choosing uniformly at random would give: 1/experts and 1 - C(E-k, k)/C(E, k). */
  randomRate: { sameExpert: number; sameAny: number };
}

const ROUTE_KEYS = ['expertsPerToken'];
/** Tokens evaluated per call, to bound the activations' memory on long inputs. */
const CHUNK = 512;

/**
 * Routes `input` (text, encoded with BOS per tokenizer_config.json as generate() does; or token ids, used as
 * they are) through a fresh sequence and reports every token's experts per layer.
 *
 * @example
 * const r = await route(model, 'The quick brown fox');
 * console.log(r.tokens[1].text, r.tokens[1].layers[0].experts, r.sameExpertRate);
 * @throws InvalidArgumentError INVALID_OPTION, EMPTY_INPUT, CONTEXT_OVERFLOW; SmoeError TOKENIZER_MISSING for text
 */
export async function route(model: ModelLike, input: string | readonly number[], options?: RouteOptions): Promise<RouteReport> {
  const o = optionalObject(options, 'options');
  rejectUnknownKeys(o, ROUTE_KEYS);
  const { config } = model;
  const topK = optionalInt(o, 'expertsPerToken', 1, config.numExperts) ?? model.info.expertsPerToken;
  let ids: number[];
  if (typeof input === 'string') ids = model.tokenizer.encode(input);
  else if (Array.isArray(input)) ids = Array.from(toIds(input, config.vocabSize));
  else throw new InvalidArgumentError('INVALID_ARGUMENT', 'route() takes a string or an array of token ids');
  if (ids.length === 0) throw new InvalidArgumentError('EMPTY_INPUT', 'the input encodes to no tokens');
  if (ids.length > config.maxPositions)
    throw new InvalidArgumentError('CONTEXT_OVERFLOW', `the input has ${ids.length} tokens; the context holds ${config.maxPositions}`);

  const seq = model.createSequence({ routerTrace: true });
  try {
    for (let i = 0; i < ids.length; i += CHUNK) await seq.eval(ids.slice(i, i + CHUNK), { expertsPerToken: topK });
  } finally {
    await seq.idle();
    seq.dispose();
  }
  const texts = model.hasTokenizer ? tokenTexts(model.tokenizer, ids) : ids.map(() => '');
  return routeReport(seq.routerTrace, texts, config.numLayers, config.numExperts, topK);
}

/** Builds a RouteReport from router steps (one per token, in order) and the tokens' texts. */
export function routeReport(steps: readonly RouterStep[], texts: readonly string[], layers: number, experts: number, topK: number): RouteReport {
  const tokens: RoutedToken[] = steps.map((s, i) => ({
    id: s.token,
    text: texts[i] ?? '',
    position: s.position,
    layers: s.layers.map((c) => ({ experts: [...c.experts], weights: [...c.weights] })),
  }));
  const usage: number[][] = [];
  const sameExpertRate: number[] = [];
  const sameAnyRate: number[] = [];
  for (let l = 0; l < layers; l++) {
    const counts = new Array<number>(experts).fill(0);
    let slots = 0;
    for (const t of tokens) for (const e of t.layers[l]!.experts) {
      counts[e]!++;
      slots++;
    }
    usage.push(counts.map((c) => (slots === 0 ? 0 : c / slots)));
    let same = 0, any = 0;
    for (let i = 1; i < tokens.length; i++) {
      const a = tokens[i - 1]!.layers[l]!.experts, b = tokens[i]!.layers[l]!.experts;
      if (a[0] === b[0]) same++;
      if (a.some((e) => b.includes(e))) any++;
    }
    const pairs = tokens.length - 1;
    sameExpertRate.push(pairs > 0 ? same / pairs : 0);
    sameAnyRate.push(pairs > 0 ? any / pairs : 0);
  }
  return { tokens, layers, experts, topK, usage, sameExpertRate, sameAnyRate, randomRate: randomRates(experts, topK) };
}

/** Repetition rates of a uniformly random top-k router over `experts` experts. */
export function randomRates(experts: number, topK: number): { sameExpert: number; sameAny: number } {
  // P(two random k-subsets are disjoint) = C(E-k, k) / C(E, k)
  let disjoint = 1;
  for (let i = 0; i < topK; i++) disjoint *= Math.max(experts - topK - i, 0) / (experts - i);
  return { sameExpert: 1 / experts, sameAny: 1 - disjoint };
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Each token's own decoded piece: special tokens as written; byte-fallback runs decoded as UTF-8, each
 * character given to the token holding its last byte; other tokens as the text they add after the token
 * before them (so " the" keeps its leading space).
 */
export function tokenTexts(tok: Tokenizer, ids: readonly number[]): string[] {
  const out: string[] = [];
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  const decode = (xs: number[]): string | undefined => {
    try {
      return tok.decode(xs, { skipSpecialTokens: false });
    } catch {
      return undefined;
    }
  };
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const piece = tok.idToToken(id);
    const byte = piece !== undefined && !tok.isSpecialId(id) ? BYTE_TOKEN.exec(piece) : null;
    if (byte) {
      const nextIsByte = i + 1 < ids.length && BYTE_TOKEN.test(tok.idToToken(ids[i + 1]!) ?? '') && !tok.isSpecialId(ids[i + 1]!);
      let s = utf8.decode(new Uint8Array([parseInt(byte[1]!, 16)]), { stream: true });
      if (!nextIsByte) {
        s += utf8.decode();
      }
      out.push(s);
      continue;
    }
    if (piece === undefined) {
      out.push(`<${id}>`);
      continue;
    }
    if (tok.isSpecialId(id)) {
      out.push(piece);
      continue;
    }
    const alone = decode([id]) ?? piece;
    if (i === 0) {
      out.push(alone);
      continue;
    }
    const prev = decode([ids[i - 1]!]);
    const both = decode([ids[i - 1]!, id]);
    out.push(prev !== undefined && both !== undefined && both.startsWith(prev) ? both.slice(prev.length) : alone);
  }
  return out;
}
