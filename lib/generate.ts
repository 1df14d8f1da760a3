/**
 * Text generation: encode the prompt, prefill a Sequence once, then sample one token per evaluation
 * through its KV cache, streaming the decoded text (stop strings held back and cut).
 */
import { InvalidArgumentError } from './errors.js';
import {
  checkVocabRanges, resolveMaxTokens, stopTokenSet, validateGenerateOptions, type GenerateOptions,
} from './generate-options.js';
import { Generation, type FinishReason, type GenerationPiece, type GenerationResult, type StopReason } from './generation.js';
import type { ChatMessage } from './chat.js';
import { logprobsOf, type TokenLogprob } from './logprobs.js';
import type { ModelLike, RouterStep, SequenceLike } from './model-types.js';
import { toIds } from './options.js';
import { Sampler } from './sampling.js';
import { StopStringMatcher } from './stop-strings.js';

/**
 * Generates a continuation of `prompt` (text, encoded with BOS per tokenizer_config.json; or token ids,
 * used as they are).
 *
 * @example
 * const gen = generate(model, 'Once upon a time', { maxTokens: 50, temperature: 0.7, seed: 1 });
 * for await (const { text } of gen) process.stdout.write(text);
 * @throws InvalidArgumentError INVALID_OPTION / INVALID_ARGUMENT at once for bad arguments;
 *         SmoeError TOKENIZER_MISSING when the model folder has no tokenizer.json
 */
export function generate(model: ModelLike, prompt: string | readonly number[], options?: GenerateOptions): Generation {
  const opts = validateGenerateOptions(options);
  const tokenizer = model.tokenizer;
  let ids: number[];
  if (typeof prompt === 'string') ids = tokenizer.encode(prompt);
  else if (Array.isArray(prompt)) ids = Array.from(toIds(prompt, model.config.vocabSize));
  else throw new InvalidArgumentError('INVALID_ARGUMENT', 'the prompt must be a string or an array of token ids');
  return generateIds(model, ids, opts);
}

/**
 * Chat: renders `messages` with the model's chat template (ending with the assistant's turn), encodes it
 * without adding BOS again (the template writes it) and generates the reply.
 *
 * @example
 * const reply = await chat(model, [{ role: 'user', content: 'Hi!' }], { maxTokens: 100 }).text();
 */
export function chat(model: ModelLike, messages: readonly ChatMessage[], options?: GenerateOptions): Generation {
  const opts = validateGenerateOptions(options);
  const text = model.applyChatTemplate(messages, { addGenerationPrompt: true });
  const ids = model.tokenizer.encode(text, { addSpecialTokens: false });
  return generateIds(model, ids, opts);
}

/** @internal a sequence to generate into, and what to do with it afterwards (a server reuses its slots). */
export interface SequenceLease {
  sequence: SequenceLike;
  release(): void;
}

/**
 * @internal generate() over prompt ids already encoded and options already validated. `lease` gives the
 * sequence (default: a fresh one, disposed at the end); it is called once, when the generation starts.
 */
export function generateIds(model: ModelLike, promptIds: number[], opts: GenerateOptions, lease?: (routerTrace: boolean) => SequenceLease): Generation {
  const { config, generationDefaults: defaults } = model;
  const tokenizer = model.tokenizer;
  checkVocabRanges(opts, config.vocabSize);
  if (opts.expertsPerToken !== undefined && opts.expertsPerToken > config.numExperts)
    throw new InvalidArgumentError('INVALID_OPTION', `option 'expertsPerToken' must be in [1, ${config.numExperts}] (got ${opts.expertsPerToken})`, {
      field: 'expertsPerToken',
    });
  if (promptIds.length === 0) throw new InvalidArgumentError('EMPTY_INPUT', 'the prompt encodes to no tokens');
  if (promptIds.length >= config.maxPositions)
    throw new InvalidArgumentError(
      'CONTEXT_OVERFLOW',
      `the prompt has ${promptIds.length} tokens; the context holds ${config.maxPositions} and one more is needed to generate`,
    );
  const eosIds: number[] = [];
  if (tokenizer.eosId !== undefined) eosIds.push(tokenizer.eosId);
  const ce = config.eosTokenId;
  if (ce !== null) eosIds.push(...(Array.isArray(ce) ? ce : [ce]));
  eosIds.push(...(defaults.eosTokenIds ?? []));
  const stops = stopTokenSet(opts, eosIds);
  const maxTokens = resolveMaxTokens(opts, defaults);
  const vocabLimit = Math.min(config.vocabSize, tokenizer.vocabSize);
  const sampler = new Sampler(opts, vocabLimit, defaults);
  const trace = opts.routerTrace ?? false;
  const signal = opts.signal;

  return new Generation(async (emit, cancelled) => {
    const stopped = (): boolean => cancelled() || signal?.aborted === true;
    const held = lease ? lease(trace) : freshSequence(model, trace);
    const seq = held.sequence;
    const decoder = tokenizer.createStreamDecoder();
    const matcher = new StopStringMatcher(typeof opts.stop === 'string' ? [opts.stop] : opts.stop ?? []);
    const tokens: number[] = [];
    let pending: number[] = [];
    let pendingTrace: RouterStep[] = [];
    let pendingLogprobs: TokenLogprob[] = [];
    let text = '';
    let finishReason: FinishReason = 'length';
    let stopReason: StopReason | undefined;
    let sampled = 0;
    let prefillTps = 0, tFirst = 0, tLast = 0;

    const release = (t: string, force: boolean): void => {
      text += t;
      if (t === '' && !force) return;
      if (t === '' && pending.length === 0) return;
      const piece: GenerationPiece = { text: t, tokens: pending };
      if (trace) piece.router = pendingTrace;
      if (opts.logprobs !== undefined) piece.logprobs = pendingLogprobs;
      pending = [];
      pendingTrace = [];
      pendingLogprobs = [];
      emit(piece);
    };

    try {
      if (stopped()) {
        finishReason = 'abort';
      } else {
        const t0 = performance.now();
        const evalOpts = opts.expertsPerToken === undefined ? undefined : { expertsPerToken: opts.expertsPerToken };
        let logits = await seq.eval(promptIds, evalOpts);
        prefillTps = promptIds.length / Math.max((performance.now() - t0) / 1000, 1e-9);
        sampler.observe(promptIds, false);
        for (let i = 0; ; i++) {
          if (stopped()) {
            finishReason = 'abort';
            break;
          }
          const lp = opts.logprobs === undefined ? undefined : logprobsOf(logits, vocabLimit, opts.logprobs);
          const tok = sampler.sample(logits);
          sampled++;
          tLast = performance.now();
          if (sampled === 1) tFirst = tLast;
          if (stops.eos.has(tok) || stops.other.has(tok)) {
            finishReason = 'stop';
            stopReason = { type: stops.eos.has(tok) ? 'eos' : 'token', value: tok };
            break;
          }
          tokens.push(tok);
          pending.push(tok);
          if (lp) pendingLogprobs.push(lp.pick(tok));
          sampler.observe([tok]);
          const scan = matcher.push(decoder.push(tok));
          const room = seq.length < seq.contextSize;
          const more = scan.stop === undefined && i + 1 < maxTokens && room;
          const next = more || (trace && room) ? seq.eval([tok], evalOpts) : undefined;
          if (trace) {
            if (next) await next;
            const step = seq.routerTrace[seq.length - 1];
            if (next && step) pendingTrace.push(step);
          }
          if (scan.stop !== undefined) {
            release(scan.text, true);
            finishReason = 'stop';
            stopReason = { type: 'string', value: scan.stop };
            break;
          }
          release(scan.text, false);
          if (!more) break; // maxTokens reached or the context is full: 'length'
          logits = await next!;
        }
      }
      if (stopReason?.type !== 'string') {
        // The decoder's held-back tail may still complete a stop string.
        const scan = matcher.push(decoder.flush());
        if (scan.stop !== undefined) {
          finishReason = 'stop';
          stopReason = { type: 'string', value: scan.stop };
          release(scan.text, true);
        } else {
          release(scan.text + matcher.flush(), true);
        }
      }
    } finally {
      await seq.idle();
      held.release();
    }
    const result: GenerationResult = {
      text,
      tokens,
      finishReason,
      promptTokens: promptIds.length,
      generatedTokens: sampled,
      prefillTokensPerSecond: prefillTps,
      decodeTokensPerSecond: sampled > 1 && tLast > tFirst ? (sampled - 1) / ((tLast - tFirst) / 1000) : 0,
    };
    if (stopReason) result.stopReason = stopReason;
    return result;
  });
}

function freshSequence(model: ModelLike, routerTrace: boolean): SequenceLease {
  const sequence = model.createSequence({ routerTrace });
  return { sequence, release: () => sequence.dispose() };
}
