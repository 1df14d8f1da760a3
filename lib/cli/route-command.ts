/** `smoe route`: which experts the router picks for each token, per layer, as a grid, JSON or an SVG heatmap. */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';

import type { Model } from '../model.js';
import type { RouteReport } from '../route.js';
import { intFlag, MODEL_FLAGS, MODEL_FLAGS_HELP, parse } from './args.js';
import { UsageError } from './errors.js';
import { loadFromFlags } from './load.js';
import { formatComparison, formatGrid, formatSummary, renderSvg, type NamedReport } from './route-render.js';

export const ROUTE_HELP = `Usage: smoe route [--model DIR] (--text TEXT | --file F [--file F2 ...] | --by-language DIR) [options]

Shows which experts the router sends each token to, in every layer: a token x layer grid (first choice
first, one colour per expert), then per layer the share of token slots each expert got and how often
consecutive tokens keep the same expert. See docs/router.md.

Inputs (one or more; each is routed as its own sequence, text encoded with BOS as smoe generate does):
      --text TEXT              route TEXT
      --file F                 route the contents of file F (repeatable)
      --by-language DIR        route every .txt file in DIR, named by its file name (en.txt -> en)
Output:
      --json                   print the report as JSON (an array when there are several inputs)
      --svg FILE               write a heatmap of expert usage per layer to FILE, one panel per input
      --png FILE               not supported: use --svg (and convert it, e.g. rsvg-convert -o out.png out.svg)
      --rows N                 tokens shown per input in the grid (default 64, 0 = all)
      --no-color               no colours (also off when NO_COLOR is set or stdout is not a terminal)
Routing:
  -k, --experts-per-token K    route each token to K experts (default: the model's)
      --max-tokens N           route only the first N tokens of each input (default: the context length)
  -m, --model DIR              model folder or .gguf file (default: the packaged demo model)
${MODEL_FLAGS_HELP}`;

const FLAGS = {
  ...MODEL_FLAGS,
  text: { type: 'string' },
  file: { type: 'string', multiple: true },
  'by-language': { type: 'string' },
  json: { type: 'boolean' },
  svg: { type: 'string' },
  png: { type: 'string' },
  rows: { type: 'string' },
  'no-color': { type: 'boolean' },
  'experts-per-token': { type: 'string', short: 'k' },
  'max-tokens': { type: 'string' },
} as const;

interface Input {
  name: string;
  text: string;
}

/** Runs `smoe route`; resolves to the exit code. */
export async function routeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS, 'route');
  if (v['help']) {
    process.stdout.write(ROUTE_HELP);
    return 0;
  }
  if (v['png'] !== undefined)
    throw new UsageError('--png is not supported (smoe writes no PNG without extra dependencies): use --svg FILE, and convert it if you need a PNG (e.g. rsvg-convert -o out.png out.svg)');
  const rows = intFlag(v, 'rows') ?? 64;
  if (rows < 0) throw new UsageError(`--rows must be an integer >= 0 (got ${rows})`);
  const k = intFlag(v, 'experts-per-token');
  if (k !== undefined && k < 1) throw new UsageError(`--experts-per-token must be an integer >= 1 (got ${k})`);
  const maxTokens = intFlag(v, 'max-tokens');
  if (maxTokens !== undefined && maxTokens < 1) throw new UsageError(`--max-tokens must be an integer >= 1 (got ${maxTokens})`);
  const svg = v['svg'];
  if (svg !== undefined && (typeof svg !== 'string' || svg === '')) throw new UsageError('--svg needs a file name');
  const inputs = await readInputs(v);
  const json = v['json'] === true;
  const color = !json && v['no-color'] !== true && process.stdout.isTTY === true && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';

  const model = await loadFromFlags(v, 'route', json);
  const reports: NamedReport[] = [];
  try {
    if (k !== undefined && k > model.config.numExperts)
      throw new UsageError(`--experts-per-token must be in [1, ${model.config.numExperts}] for this model (got ${k})`);
    const limit = Math.min(maxTokens ?? model.config.maxPositions, model.config.maxPositions);
    for (const input of inputs) reports.push({ name: input.name, report: await routeInput(model, input, limit, k) });
  } finally {
    await model.close();
  }

  if (svg !== undefined) {
    const dir = basename(String(v['model']).replace(/[/\\]+$/, '')) || String(v['model']);
    const first = reports[0]!.report;
    const title = `Expert usage per layer: ${dir} (top-${first.topK} of ${first.experts} experts)`;
    await writeFile(svg as string, renderSvg(reports, title));
  }
  if (json) {
    const out = reports.map((r) => ({ input: r.name, ...r.report }));
    process.stdout.write(JSON.stringify(out.length === 1 ? out[0] : out) + '\n');
  } else {
    const parts: string[] = [];
    for (const r of reports) parts.push(formatGrid(r, color, rows) + '\n' + formatSummary(r));
    if (reports.length > 1) parts.push(formatComparison(reports));
    if (svg !== undefined) parts.push(`wrote ${svg}\n`);
    process.stdout.write(parts.join('\n'));
  }
  return 0;
}

/** Encodes an input (with BOS), keeps its first `limit` tokens (saying so on stderr) and routes it. */
async function routeInput(model: Model, input: Input, limit: number, k: number | undefined): Promise<RouteReport> {
  let ids = model.tokenizer.encode(input.text);
  if (ids.length > limit) {
    process.stderr.write(`smoe: ${input.name}: routing the first ${limit} of ${ids.length} tokens\n`);
    ids = ids.slice(0, limit);
  }
  return model.route(ids, k === undefined ? undefined : { expertsPerToken: k });
}

/** The inputs named by --text, --file and --by-language, in that order. */
async function readInputs(v: Record<string, unknown>): Promise<Input[]> {
  const inputs: Input[] = [];
  if (typeof v['text'] === 'string') inputs.push({ name: 'text', text: v['text'] });
  for (const f of (v['file'] as string[] | undefined) ?? []) inputs.push({ name: basename(f), text: await readText(f, '--file') });
  const dir = v['by-language'];
  if (typeof dir === 'string') {
    const st = await stat(dir).catch(() => null);
    if (st === null || !st.isDirectory()) throw new UsageError(`--by-language needs a folder of .txt files ('${dir}' is not a folder)`);
    const files = (await readdir(dir)).filter((f) => extname(f).toLowerCase() === '.txt').sort();
    if (files.length === 0) throw new UsageError(`--by-language: '${dir}' holds no .txt files`);
    for (const f of files) inputs.push({ name: basename(f, extname(f)), text: await readText(join(dir, f), '--by-language') });
  }
  if (inputs.length === 0) throw new UsageError('--text TEXT, --file F or --by-language DIR is required (see smoe route --help)');
  // Inputs with the same name (two files called en.txt) get their position appended.
  const seen = new Map<string, number>();
  for (const i of inputs) seen.set(i.name, (seen.get(i.name) ?? 0) + 1);
  inputs.forEach((i, n) => {
    if (seen.get(i.name)! > 1) i.name = `${i.name}#${n + 1}`;
  });
  return inputs;
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`${flag}: cannot read '${file}'${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': it is a folder' : ''}`);
  }
}
