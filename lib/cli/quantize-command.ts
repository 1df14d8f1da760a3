/** `smoe quantize IN OUT.gguf --type T`: an HF folder or GGUF -> a GGUF of a llama-quantize mix, with a progress bar. */
import { QUANT_MIX_NAMES } from '../quantize/mixes.js';
import { quantizeModel, type QuantizeProgress } from '../quantize/quantize-model.js';
import { intFlag, parseCommand } from './args.js';
import { UsageError } from './errors.js';

export const QUANTIZE_HELP = `Usage: smoe quantize IN OUT.gguf --type TYPE [--threads N]

Converts a model (a Hugging Face Mixtral folder, or a llama GGUF in F32 / F16 / BF16) into a GGUF file that
llama.cpp and smoe load, with the tokenizer and chat template. The tensors are quantized byte for byte as
llama.cpp's convert_hf_to_gguf.py + llama-quantize would, with the same per-tensor types.

Options:
      --type TYPE              ${QUANT_MIX_NAMES.join(', ')}
      --pure                   every quantized tensor in the type's base type (llama-quantize --pure)
  -t, --threads N              quantizer threads (default: all cores)
  -q, --quiet                  no progress bar
  -h, --help                   show this help
`;

const FLAGS = {
  type: { type: 'string' },
  threads: { type: 'string', short: 't' },
  quiet: { type: 'boolean', short: 'q' },
  pure: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/** A progress reporter on stderr: a redrawn bar on a terminal, a line per 10% otherwise. */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (p: QuantizeProgress) => void {
  let lastDecile = -1, lastDraw = 0;
  return (p) => {
    const frac = p.totalBytes > 0 ? p.doneBytes / p.totalBytes : 1;
    if (stream.isTTY) {
      const now = Date.now();
      if (now - lastDraw < 100 && p.doneBytes < p.totalBytes) return;
      lastDraw = now;
      const width = 30, fill = Math.round(frac * width);
      const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
        `${p.index + 1}/${p.count} ${p.tensor} ${p.type}`;
      stream.write(`\r${line.slice(0, (stream.columns || 100) - 1).padEnd((stream.columns || 100) - 1)}`);
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile > lastDecile) {
      lastDecile = decile;
      stream.write(`smoe: quantize ${decile * 10}% (${mib(p.doneBytes)} of ${mib(p.totalBytes)})\n`);
    }
  };
}

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, FLAGS, 'quantize', true);
  if (v['help']) {
    process.stdout.write(QUANTIZE_HELP);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('quantize needs IN and OUT.gguf (see smoe quantize --help)');
  const type = v['type'];
  if (typeof type !== 'string') throw new UsageError(`--type is required: one of ${QUANT_MIX_NAMES.join(', ')}`);
  const [input, output] = positionals as [string, string];
  const threads = intFlag(v, 'threads');
  if (threads !== undefined && threads < 1) throw new UsageError('--threads must be >= 1');
  const report = v['quiet'] ? undefined : progressReporter();
  const r = await quantizeModel(input, output, { type, pure: v['pure'] === true, ...(threads !== undefined ? { threads } : {}), ...(report ? { onProgress: report } : {}) });
  if (report && process.stderr.isTTY) process.stderr.write('\n');
  const counts = new Map<string, number>();
  for (const t of r.tensors) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  process.stderr.write(`smoe: wrote ${output} (${mib(r.bytes)}, ${r.tensors.length} tensors: ` +
    `${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')})\n`);
  return 0;
}
