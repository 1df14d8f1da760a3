/**
 * Model and Sequence: the typed surface over the native engine. Every native call runs off the event loop
 * and comes back as a promise; errors are SmoeErrors with a stable `code`.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
import { defaultModelDir } from './demo-model.js';
import { fromNative, InvalidArgumentError, SmoeError } from './errors.js';
import { chat, generate } from './generate.js';
import type { GenerateOptions } from './generate-options.js';
import type { Generation } from './generation.js';
import { readGenerationDefaults, type GenerationDefaults } from './generation-config.js';
import { readConfig, type MixtralConfig } from './load/config.js';
import { ggufModel } from './load/gguf-model.js';
import { readGguf } from './load/gguf.js';
import { mixtralWeights, type WeightLayout } from './load/mixtral-weights.js';
import { resolveModelSource } from './load/model-source.js';
import { residentWeights, type MmapOption } from './load/residency.js';
import { ggufTokenizer } from './gguf-tokenizer.js';
import { readTensorIndex } from './load/safetensors.js';
import { native, type NativeBackends, type NativeModel, type NativeSequence } from './native.js';
import { loadModelTokenizer } from './model-tokenizer.js';
import { quantizeOnLoad } from './quantize/quantize-on-load.js';
import { optionalBool, optionalEnum, optionalInt, optionalObject, rejectUnknownKeys, toIds } from './options.js';
import { route, type RouteOptions, type RouteReport } from './route.js';
import type { EvalOptions, KvCacheType, RouterStep, SequenceOptions } from './model-types.js';
import { BatchScheduler } from './batch/scheduler.js';
import { resolveTemplateLimits, type ResolvedTemplateLimits, type TemplateLimits } from './template-limits.js';
import type { Tokenizer } from './tokenizer/index.js';

export type { EvalOptions, KvCacheType, RouterStep, SequenceOptions } from './model-types.js';

export type Device = 'cpu' | 'cuda' | 'auto' | `cuda:${number}`;
export type SimdLevel = 'auto' | 'avx512' | 'avx2' | 'generic';

export interface LoadOptions {
  /** Where to run: 'cpu' (default), 'auto' (a GPU when one is present, else the CPU), 'cuda' or 'cuda:N'. */
  device?: Device;
  /** CPU worker threads (default: the machine's available parallelism). */
  threads?: number;
  /**
   * GPU activations: 'bf16' (default: bf16 activations, fp32 accumulation) or 'fp32' (matches the reference as
   * tightly as the CPU). The CPU backend always computes in fp32.
   */
  precision?: 'fp32' | 'bf16';
  /** CPU kernels to use (default 'auto': the best this CPU supports; also settable with SMOE_SIMD). */
  simd?: SimdLevel;
  /**
   * Experts each token is routed to (default: the model's `num_experts_per_tok`). Fewer is faster and less
   * exact (e.g. 1 runs a top-2 Mixtral as top-1); the chosen experts' weights are renormalized to sum to 1.
   * A per-call `expertsPerToken` overrides it.
   */
  expertsPerToken?: number;
  /**
   * Quantize a Hugging Face folder's weights while loading, into memory (no second file): a llama-quantize
   * mix ('q4_k_m', 'q5_k_m', 'q8_0', 'q6_k', 'q3_k_m', 'q2_k', ...) with its per-tensor types, or a base
   * type for every matrix ('q4_k', 'q5_k', 'q3_k', 'q4_0', ...). The blocks are the bytes llama-quantize
   * writes. Norms and the router keep their stored dtype. Not for GGUF files (they are quantized already).
   */
  quantize?: string;
  /**
   * Bounds on rendering the model's chat template, which comes with the model folder (default
   * `{ timeMs: 1000, outputChars: 10_000_000, depth: 1000 }`): past one, applyChatTemplate() and chat()
   * throw SmoeError CHAT_TEMPLATE_LIMIT with `field` naming it (e.g. 'templateLimits.timeMs').
   */
  templateLimits?: TemplateLimits;
  /**
   * How the weight files are held (default 'auto'): true maps them in place (instant load, page cache shared
   * between processes, models larger than the free memory), false reads them into process memory on huge
   * pages (faster decode: a token streams every active weight once), 'auto' reads them in on the CPU when they
   * take at most half the available memory and the kernel grants huge pages, else maps them.
   * `model.info.mmap` says which was done.
   */
  mmap?: MmapOption;
  /**
   * CPU: rewrite the Q8_0 and Q4_K matmul weights at load into the layout the x86 kernels read fastest (eight
   * rows interleaved block by block; same bytes, nothing converted; 1.3-2x the prefill speed). Default 'auto':
   * when the weights are read into memory (`mmap` false or 'auto' reading them in). true also with mapped
   * files, whose rewritten pages then become process memory (copy-on-write: the file is never written, but
   * those pages are no longer shared or evictable page cache); false keeps the bytes as stored.
   * `model.info.interleavedBytes` says how much was rewritten.
   */
  interleave?: boolean | 'auto';
}

export interface ModelInfo {
  backend: string;
  /** Where the model runs: 'cpu' or 'cuda:N'. */
  device: string;
  /** Experts each token is routed to by default (the load option, else the config's). */
  expertsPerToken: number;
  threads: number;
  simd: string;
  files: string[];
  dtypes: string[];
  totalParams: number;
  activeParams: number;
  /** The checkpoint format: a Hugging Face folder ('safetensors') or a GGUF file ('gguf'). */
  format: 'safetensors' | 'gguf';
  /** Whether weights are used in place from mapped files (false: read into memory, or on a GPU). */
  mmap: boolean;
  /** CPU: bytes of weights rewritten at load in the kernels' interleaved layout (the `interleave` option). */
  interleavedBytes: number;
}

const SIMD_LEVELS: readonly SimdLevel[] = ['auto', 'avx512', 'avx2', 'generic'];
const LOAD_KEYS: readonly string[] = ['device', 'precision', 'threads', 'simd', 'expertsPerToken', 'quantize', 'templateLimits', 'mmap', 'interleave'];

/**
 * 'auto' -> the first CUDA GPU, else 'cpu' (never the SIMT emulator of a test build); 'cuda' -> the first CUDA
 * device; 'cuda:N' -> that one, if present.
 */
function resolveDevice(device: Device, cuda: NativeBackends['cuda']): string {
  if (device === 'cpu') return 'cpu';
  const first = cuda.devices[0];
  if (device === 'auto') {
    const gpu = cuda.devices.find((d) => !d.emulated);
    return gpu ? `cuda:${gpu.index}` : 'cpu';
  }
  const why = cuda.compiled
    ? `no CUDA device is usable here${cuda.reason ? `: ${cuda.reason}` : ''}`
    : 'this build of smoe has no CUDA backend (built without nvcc)';
  if (device === 'cuda') {
    if (!first) throw new SmoeError('DEVICE_UNAVAILABLE', `device 'cuda' was requested but ${why}`, { field: 'device' });
    return `cuda:${first.index}`;
  }
  const n = Number(device.slice(5));
  if (!cuda.devices.some((d) => d.index === n)) {
    const have = cuda.devices.map((d) => `cuda:${d.index} (${d.name})`).join(', ');
    throw new SmoeError('DEVICE_UNAVAILABLE', `device '${device}' was requested but ${have ? `this machine has ${have}` : why}`, { field: 'device' });
  }
  return device;
}

/**
 * Loads a Hugging Face Mixtral folder (config.json + model.safetensors or sharded safetensors), and with
 * it the tokenizer (tokenizer.json, tokenizer_config.json) and generation_config.json when present; or a
 * GGUF file (llama.cpp's `llama` architecture: Mixtral in the stacked or the 2023 per-expert layout, or a
 * dense Llama/Mistral), weights mapped in place, tokenizer and chat template from its metadata. A folder
 * without config.json that holds exactly one .gguf file loads that file.
 * Without `dir`, the demo model packaged with smoe (SmoeError MODEL_REQUIRED when this build has none).
 *
 * @example
 * const model = await loadModel('./Mixtral-8x7B-v0.1', { threads: 8 });
 * const q4 = await loadModel('./mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf');
 * const logits = await model.logits([1, 22557, 1526]);
 * console.log(await model.generate('The capital of France is', { maxTokens: 8 }).text());
 * await model.close();
 */
export async function loadModel(dir?: string, options?: LoadOptions): Promise<Model> {
  if (dir === undefined) dir = defaultModelDir();
  if (typeof dir !== 'string' || dir.length === 0)
    throw new InvalidArgumentError('INVALID_ARGUMENT', 'loadModel(dir): dir must be a non-empty string');
  const o = optionalObject(options, 'options');
  rejectUnknownKeys(o, LOAD_KEYS);
  const device = o['device'] ?? 'cpu';
  if (typeof device !== 'string' || !/^(cpu|auto|cuda(:\d+)?)$/.test(device))
    throw new InvalidArgumentError('INVALID_OPTION', `option 'device' must be 'cpu', 'auto', 'cuda' or 'cuda:N' (got ${JSON.stringify(device)})`, {
      field: 'device',
    });
  const addon = native();
  const target = resolveDevice(device as Device, addon.backends().cuda);
  const precision = optionalEnum(o, 'precision', ['fp32', 'bf16'] as const) ?? 'bf16';
  const threads = optionalInt(o, 'threads', 1, 1024) ?? availableParallelism();
  const simd = optionalEnum(o, 'simd', SIMD_LEVELS) ?? (process.env['SMOE_SIMD'] as SimdLevel | undefined) ?? 'auto';
  if (!SIMD_LEVELS.includes(simd))
    throw new InvalidArgumentError('INVALID_OPTION', `SMOE_SIMD must be one of ${SIMD_LEVELS.join(', ')}`, { field: 'SMOE_SIMD' });
  const templateLimits = resolveTemplateLimits(o['templateLimits']);

  const source = await resolveModelSource(resolve(dir));
  const { config, files, layout: stored, tokenizer, generationDefaults, ropePairs, format } = source.kind === 'gguf'
    ? await readGgufSource(source.file)
    : await readHfSource(source.dir);
  let weightFiles: Array<string | object> = files, layout = stored;
  if (o['quantize'] !== undefined) {
    if (typeof o['quantize'] !== 'string')
      throw new InvalidArgumentError('INVALID_OPTION', `option 'quantize' must be a string such as 'q4_k_m' (got ${JSON.stringify(o['quantize'])})`,
        { field: 'quantize' });
    if (source.kind === 'gguf')
      throw new InvalidArgumentError('INVALID_OPTION', `option 'quantize' applies to Hugging Face folders; ${source.file} is a GGUF file (quantize it with smoe quantize)`,
        { field: 'quantize' });
    ({ files: weightFiles, layout } = await quantizeOnLoad(config, files, stored, o['quantize'], threads));
  }
  const expertsPerToken = optionalInt(o, 'expertsPerToken', 1, config.numExperts) ?? config.topK;
  const resident = residentWeights(o['mmap'], target, weightFiles);
  const il = o['interleave'] ?? 'auto';
  if (il !== 'auto' && typeof il !== 'boolean')
    throw new InvalidArgumentError('INVALID_OPTION', `option 'interleave' must be true, false or 'auto' (got ${JSON.stringify(il)})`, { field: 'interleave' });
  const interleave = il === 'auto' ? resident : il;
  let handle: NativeModel;
  try {
    handle = await addon.openModel({
      config: { ...config, slidingWindow: config.slidingWindow ?? 0, ropePairs },
      threads,
      simd,
      device: target,
      precision,
      files: weightFiles,
      resident,
      interleave,
      weights: layout.weights,
    });
  } catch (e) {
    throw fromNative(e);
  }
  const ni = handle.info();
  return new Model(handle, config, {
    backend: ni.backend, device: ni.device ?? target, threads: ni.threads, simd: ni.simd, files, dtypes: layout.dtypes,
    totalParams: layout.totalParams, activeParams: layout.activeParams, expertsPerToken, format, mmap: ni.mmap, interleavedBytes: ni.interleavedBytes,
  }, { tokenizer, generationDefaults, templateLimits });
}

/** What loadModel reads from a checkpoint before the weights are mapped. */
interface SourceParts {
  config: MixtralConfig;
  files: string[];
  layout: WeightLayout;
  tokenizer: Tokenizer | null;
  generationDefaults: GenerationDefaults;
  ropePairs: boolean;
  format: ModelInfo['format'];
}

async function readHfSource(root: string): Promise<SourceParts> {
  const config = await readConfig(root);
  const { files, tensors } = await readTensorIndex(root);
  const layout = mixtralWeights(config, files, tensors);
  const [tokenizer, generationDefaults] = await Promise.all([loadModelTokenizer(root), readGenerationDefaults(root)]);
  return { config, files, layout, tokenizer, generationDefaults, ropePairs: false, format: 'safetensors' };
}

async function readGgufSource(file: string): Promise<SourceParts> {
  const g = await readGguf(file);
  const { config, layout } = ggufModel(g);
  const tokenizer = ggufTokenizer(g);
  // GGUF q/k rows are permuted for RoPE on adjacent pairs (see lib/load/gguf-model.ts).
  return { config, files: [file], layout, tokenizer, generationDefaults: {}, ropePairs: true, format: 'gguf' };
}

/** @internal what loadModel() reads besides the weights. */
export interface ModelExtras {
  tokenizer?: Tokenizer | null;
  generationDefaults?: GenerationDefaults;
  templateLimits?: ResolvedTemplateLimits;
}

export class Model {
  /** The normalized config (both config.json styles give the same fields). */
  readonly config: Readonly<MixtralConfig>;
  /** Where and how the model runs, what it was loaded from, and its parameter counts. */
  readonly info: Readonly<ModelInfo>;
  /** Defaults from generation_config.json (empty when the folder has none); generate() options override them. */
  readonly generationDefaults: Readonly<GenerationDefaults>;
  #handle: NativeModel;
  #closed = false;
  #sequences = new Set<Sequence>();
  #tokenizer: Tokenizer | null;
  #chatTemplate: ChatTemplate | undefined;
  #scheduler: BatchScheduler;
  #templateLimits: ResolvedTemplateLimits | undefined;

  /** @internal use loadModel() */
  constructor(handle: NativeModel, config: MixtralConfig, info: ModelInfo, extras: ModelExtras = {}) {
    this.#handle = handle;
    this.#scheduler = new BatchScheduler(handle);
    this.config = Object.freeze({ ...config });
    this.info = Object.freeze({ ...info });
    this.#tokenizer = extras.tokenizer ?? null;
    this.generationDefaults = Object.freeze({ ...(extras.generationDefaults ?? {}) });
    this.#templateLimits = extras.templateLimits;
  }

  /** Whether the model folder had a tokenizer.json. */
  get hasTokenizer(): boolean {
    return this.#tokenizer !== null;
  }

  /**
   * The model's tokenizer.
   * @throws SmoeError TOKENIZER_MISSING when the model folder has no tokenizer.json
   */
  get tokenizer(): Tokenizer {
    if (this.#tokenizer === null)
      throw new SmoeError('TOKENIZER_MISSING', 'this model has no tokenizer: its folder holds no tokenizer.json', { file: 'tokenizer.json' });
    return this.#tokenizer;
  }

  /**
   * Renders `messages` with tokenizer_config.json's chat template, as transformers' `apply_chat_template`
   * with `tokenize=False`.
   *
   * @example
   * model.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }); // '<s> [INST] Hi [/INST]'
   * The template renders in a worker thread under the `templateLimits` given to loadModel(); this call blocks
   * for at most `templateLimits.timeMs`.
   * @throws SmoeError CHAT_TEMPLATE_MISSING (no template), CHAT_TEMPLATE (syntax error or raise_exception),
   *         CHAT_TEMPLATE_LIMIT (a limit passed: `field` names it), InvalidArgumentError INVALID_ARGUMENT
   *         (malformed messages)
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string {
    const tok = this.tokenizer;
    if (this.#chatTemplate === undefined) {
      if (tok.chatTemplate === undefined)
        throw new SmoeError('CHAT_TEMPLATE_MISSING', 'this model has no chat template (tokenizer_config.json sets no chat_template)', {
          file: 'tokenizer_config.json',
          field: 'chat_template',
        });
      this.#chatTemplate = new ChatTemplate(tok.chatTemplate, this.#templateLimits);
    }
    return this.#chatTemplate.render(messages, options, { bosToken: tok.bosToken, eosToken: tok.eosToken });
  }

  /**
   * Generates text from a prompt (a string, encoded with BOS per tokenizer_config.json, or token ids).
   * The returned Generation streams `{ text, tokens }` pieces and has a `result` promise.
   *
   * @example
   * const ac = new AbortController();
   * const gen = model.generate('Once upon a time', { maxTokens: 64, temperature: 0.8, seed: 7, signal: ac.signal });
   * for await (const piece of gen) process.stdout.write(piece.text);
   * console.log((await gen.result).finishReason);
   * @throws InvalidArgumentError INVALID_OPTION for a bad option; SmoeError TOKENIZER_MISSING
   */
  generate(prompt: string | readonly number[], options?: GenerateOptions): Generation {
    this.#assertOpen();
    return generate(this, prompt, options);
  }

  /**
   * Replies to a conversation: applyChatTemplate(messages, { addGenerationPrompt: true }), encoded without
   * adding BOS again, then generate().
   *
   * @example
   * const reply = await model.chat([{ role: 'user', content: 'Name two experts.' }], { maxTokens: 64 }).text();
   */
  chat(messages: readonly ChatMessage[], options?: GenerateOptions): Generation {
    this.#assertOpen();
    return chat(this, messages, options);
  }

  /**
   * Routes a text (encoded with BOS per tokenizer_config.json, as generate() does) or token ids through a
   * fresh sequence and reports, for every token and layer, the experts chosen and their weights, with each
   * layer's expert usage and same-expert rate for consecutive tokens. See docs/router.md.
   *
   * @example
   * const r = await model.route('The quick brown fox', { expertsPerToken: 1 });
   * for (const t of r.tokens) console.log(JSON.stringify(t.text), t.layers.map((l) => l.experts[0]).join(' '));
   * @throws InvalidArgumentError INVALID_OPTION, EMPTY_INPUT, CONTEXT_OVERFLOW; SmoeError TOKENIZER_MISSING for text
   */
  route(input: string | readonly number[], options?: RouteOptions): Promise<RouteReport> {
    try {
      this.#assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    return route(this, input, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A new sequence with its own KV cache. */
  createSequence(options?: SequenceOptions): Sequence {
    this.#assertOpen();
    const o = optionalObject(options, 'options');
    rejectUnknownKeys(o, ['routerTrace', 'kvCache', 'contextSize']);
    const trace = optionalBool(o, 'routerTrace') ?? false;
    const kvCache = optionalEnum(o, 'kvCache', ['f32', 'f16'] as const) ?? 'f32';
    const contextSize = optionalInt(o, 'contextSize', 1, this.config.maxPositions);
    if (kvCache === 'f16' && this.info.device !== 'cpu')
      throw new SmoeError('UNSUPPORTED', `an f16 KV cache is implemented on the CPU backend only so far (this model runs on ${this.info.device})`, {
        field: 'kvCache',
      });
    let h: NativeSequence;
    try {
      h = this.#handle.createSequence(contextSize === undefined ? { kvCache } : { kvCache, contextSize });
    } catch (e) {
      throw fromNative(e);
    }
    const s = new Sequence(h, this.#scheduler, this.config, {
      trace, experts: this.info.expertsPerToken, contextSize: contextSize ?? this.config.maxPositions,
      onDispose: () => this.#sequences.delete(s), modelClosed: () => this.#closed,
    });
    this.#sequences.add(s);
    return s;
  }

  /**
   * The last position's logits of `ids` evaluated as a fresh sequence (nothing is kept between calls).
   * With `{ allLogits: true }`, every position's logits, [ids.length * vocab].
   */
  async logits(ids: ArrayLike<number>, options?: EvalOptions): Promise<Float32Array> {
    const s = this.createSequence();
    try {
      return await s.eval(ids, options);
    } finally {
      s.dispose();
    }
  }

  /** Bytes of KV cache one position takes in a sequence (every layer's K and V). */
  kvBytesPerToken(kvCache: KvCacheType = 'f32'): number {
    const c = this.config;
    return c.numLayers * 2 * c.numKvHeads * c.headDim * (kvCache === 'f16' ? 2 : 4);
  }

  /**
   * Starts (or stops) counting how many tokens each layer routes to each expert, across every sequence.
   * Free on the CPU; on CUDA it copies each layer's routing plan to the host.
   */
  countExpertUsage(on = true): void {
    this.#assertOpen();
    this.#handle.countExperts(on);
  }

  /** Tokens routed to each expert while counting was on: [layer][expert]. */
  expertUsage(): number[][] {
    const flat = this.#handle.expertCounts();
    const E = this.config.numExperts;
    return Array.from({ length: this.config.numLayers }, (_, l) => Array.from(flat.subarray(l * E, (l + 1) * E)));
  }

  /** @internal what the batch scheduler has run: steps, tokens, items (sequences summed over steps), maxBatch. */
  get batchStats(): Readonly<BatchScheduler['stats']> {
    return this.#scheduler.stats;
  }

  /** Frees the weights. Calls made after close() throw MODEL_CLOSED; a running evaluation finishes first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#sequences].map((s) => s.idle());
    await Promise.allSettled(pending);
    await this.#handle.close();
    for (const s of this.#sequences) s.dispose();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SmoeError('MODEL_CLOSED', 'the model is closed');
  }
}

/** @internal how a Sequence is made (by Model.createSequence). */
export interface SequenceSetup {
  trace: boolean;
  experts: number;
  contextSize: number;
  onDispose: () => void;
  modelClosed: () => boolean;
}

/**
 * A sequence with its own KV cache. Evaluations of different sequences of one model that are pending at
 * the same time run together, as one batched step (continuous batching; see lib/batch/scheduler.ts).
 */
export class Sequence {
  /** Router choices of every token evaluated so far (only when created with `routerTrace: true`). */
  readonly routerTrace: RouterStep[] = [];
  /** Positions this sequence can hold (the contextSize it was made with, else max_position_embeddings). */
  readonly contextSize: number;
  #h: NativeSequence;
  #scheduler: BatchScheduler;
  #config: Readonly<MixtralConfig>;
  #trace: boolean;
  #experts: number;
  #onDispose: () => void;
  #modelClosed: () => boolean;
  #disposed = false;
  #queue: Promise<unknown> = Promise.resolve();
  #length = 0;

  /** @internal use model.createSequence() */
  constructor(h: NativeSequence, scheduler: BatchScheduler, config: Readonly<MixtralConfig>, setup: SequenceSetup) {
    this.#h = h;
    this.#scheduler = scheduler;
    this.#config = config;
    this.#trace = setup.trace;
    this.#experts = setup.experts;
    this.contextSize = setup.contextSize;
    this.#onDispose = setup.onDispose;
    this.#modelClosed = setup.modelClosed;
  }

  /** Tokens held in the KV cache. */
  get length(): number {
    return this.#length;
  }

  /** Bytes of KV cache allocated now (all of contextSize at once when it was given, else grown by doubling). */
  get kvBytes(): number {
    return this.#disposed ? 0 : this.#h.kvBytes;
  }

  /** @internal turn the router trace on or off for the following evaluations (server slots are reused). */
  setRouterTrace(on: boolean): void {
    this.#trace = on;
  }

  /**
   * Appends `ids` and evaluates them through the KV cache; resolves to the last position's logits
   * (or every new position's with `{ allLogits: true }`). Calls on one sequence run in order.
   */
  eval(ids: ArrayLike<number>, options?: EvalOptions): Promise<Float32Array> {
    let packed: Int32Array, all: boolean, experts: number;
    try {
      this.#assertUsable();
      const o = optionalObject(options, 'options');
      all = optionalBool(o, 'allLogits') ?? false;
      experts = optionalInt(o, 'expertsPerToken', 1, this.#config.numExperts) ?? this.#experts;
      packed = toIds(ids, this.#config.vocabSize);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = async (): Promise<Float32Array> => {
      // Work queued before dispose() or model.close() still runs; only disposal stops it here.
      if (this.#disposed) throw new SmoeError('SEQUENCE_DISPOSED', 'the sequence was disposed');
      const start = this.#length;
      if (start + packed.length > this.contextSize)
        throw new InvalidArgumentError(
          'CONTEXT_OVERFLOW',
          this.contextSize === this.#config.maxPositions
            ? `a context of ${start + packed.length} tokens exceeds max_position_embeddings (${this.#config.maxPositions})`
            : `a context of ${start + packed.length} tokens exceeds the sequence's context size (${this.contextSize})`,
        );
      let r;
      try {
        r = await this.#scheduler.eval(this.#h, packed, all, this.#trace, experts);
      } catch (e) {
        throw fromNative(e);
      }
      this.#length = start + packed.length;
      if (this.#trace && r.experts && r.weights) this.#record(packed, start, experts, r.experts, r.weights);
      return r.logits;
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** Empties the KV cache (the sequence can be reused). */
  async reset(): Promise<void> {
    this.#assertUsable();
    await this.idle();
    this.#h.reset();
    this.#length = 0;
    this.routerTrace.length = 0;
  }

  /** Frees the KV cache. Further calls throw SEQUENCE_DISPOSED. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#scheduler.cancel(this.#h, new SmoeError('SEQUENCE_DISPOSED', 'the sequence was disposed'));
    this.#h.dispose();
    this.#onDispose();
  }

  /** @internal resolves once queued evaluations have finished. */
  idle(): Promise<void> {
    return this.#queue.then(() => undefined);
  }

  #record(ids: Int32Array, start: number, K: number, experts: Int32Array, weights: Float32Array): void {
    const L = this.#config.numLayers;
    for (let t = 0; t < ids.length; t++) {
      const layers = [];
      for (let l = 0; l < L; l++) {
        const b = (t * L + l) * K;
        layers.push({ experts: Array.from(experts.subarray(b, b + K)), weights: Array.from(weights.subarray(b, b + K)) });
      }
      this.routerTrace.push({ position: start + t, token: ids[t]!, layers });
    }
  }

  #assertUsable(): void {
    if (this.#modelClosed()) throw new SmoeError('MODEL_CLOSED', 'the model is closed');
    if (this.#disposed) throw new SmoeError('SEQUENCE_DISPOSED', 'the sequence was disposed');
  }
}
