/** `smoe generate`: streams a continuation of --prompt to stdout, stats to stderr. */
import type { GenerationResult } from '../generation.js';
import { generateOptions, MODEL_FLAGS, parse, SAMPLING_FLAGS } from './args.js';
import { UsageError } from './errors.js';
import { loadFromFlags } from './load.js';

export const GENERATE_HELP = `Usage: smoe generate [--model DIR] --prompt TEXT [options]

Generates a continuation of TEXT and streams it to stdout; a stats line goes to stderr.

Options:
  -m, --model DIR              model folder or .gguf file (default: the packaged demo model)
  -p, --prompt TEXT            the prompt (encoded with BOS as tokenizer_config.json says)
  -n, --max-tokens N           most tokens to generate (default: generation_config.json, else 256)
      --temperature T          0 = greedy (default: generation_config.json, else 1)
      --top-k K                keep the K most likely tokens, 0 = off (default 50)
      --top-p P                nucleus sampling, in (0, 1] (default 1 = off)
      --min-p P                drop tokens below P x the top probability (default 0 = off)
      --repeat-penalty R       penalise tokens already in the context, 1 = off (default 1)
      --frequency-penalty F    OpenAI frequency penalty, in [-2, 2] (default 0)
      --presence-penalty F     OpenAI presence penalty, in [-2, 2] (default 0)
      --seed N                 seed for reproducible sampling
  -k, --experts-per-token K    route each token to K experts (default: the model's; 1 = faster, less exact)
      --stop S                 stop at the text S (repeatable; S is not printed)
      --ignore-eos             keep generating past the end-of-sequence token
  -t, --threads N              CPU threads (default: all cores)
      --device D               cpu (default), auto, cuda or cuda:N
  -q, --quiet                  no stats line or loading progress
  -h, --help                   show this help
`;

const FLAGS = { ...MODEL_FLAGS, ...SAMPLING_FLAGS, prompt: { type: 'string', short: 'p' }, quiet: { type: 'boolean', short: 'q' } } as const;

/** Runs `smoe generate`; resolves to the exit code. */
export async function generateCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS, 'generate');
  if (v['help']) {
    process.stdout.write(GENERATE_HELP);
    return 0;
  }
  const prompt = v['prompt'];
  if (typeof prompt !== 'string') throw new UsageError('--prompt TEXT is required (see smoe generate --help)');
  const options = generateOptions(v); // bad values fail before the model loads
  const quiet = v['quiet'] === true;
  const model = await loadFromFlags(v, 'generate', quiet);
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const gen = model.generate(prompt, { ...options, signal: ac.signal });
    let last = '';
    for await (const piece of gen) {
      if (piece.text) {
        process.stdout.write(piece.text);
        last = piece.text;
      }
    }
    const r = await gen.result;
    if (!last.endsWith('\n')) process.stdout.write('\n');
    if (!quiet) process.stderr.write(statsLine(r) + '\n');
  } finally {
    process.removeListener('SIGINT', onSigint);
    await model.close();
  }
  return 0;
}

/** e.g. "smoe: 16 tokens (length) | prompt 18 tokens, 6825.1 tok/s | generation 914.2 tok/s" */
export function statsLine(r: GenerationResult): string {
  const why = r.stopReason ? `${r.finishReason}: ${r.stopReason.type}` : r.finishReason;
  return `smoe: ${r.generatedTokens} tokens (${why}) | prompt ${r.promptTokens} tokens, ${r.prefillTokensPerSecond.toFixed(1)} tok/s | generation ${r.decodeTokensPerSecond.toFixed(1)} tok/s`;
}
