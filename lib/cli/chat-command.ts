/** `smoe chat`: an interactive conversation with history, over a terminal or a pipe. */
import { createInterface } from 'node:readline';

import type { ChatMessage } from '../chat.js';
import { SmoeError } from '../errors.js';
import { generateOptions, MODEL_FLAGS, parse, SAMPLING_FLAGS } from './args.js';
import { errorLine } from './errors.js';
import { statsLine } from './generate-command.js';
import { loadFromFlags } from './load.js';

export const CHAT_HELP = `Usage: smoe chat [--model DIR] [--system TEXT] [options]

Chats with an instruction-tuned model, using its chat template. Each line read from stdin is a user
message; the reply streams to stdout. Works on a terminal and with a pipe (one reply per input line).
On a terminal, Ctrl-C stops a reply that is being written; Ctrl-C at the prompt or Ctrl-D exits.

Options:
  -m, --model DIR              model folder or .gguf file (needs a chat template; default: the demo model)
  -s, --system TEXT            a system message to start the conversation with
      --stats                  print a stats line to stderr after each reply
  -t, --threads N              CPU threads (default: all cores)
      --device D               cpu (default), auto, cuda or cuda:N
  -h, --help                   show this help
Sampling options as for smoe generate: --max-tokens, --temperature, --top-k, --top-p, --min-p,
--repeat-penalty, --frequency-penalty, --presence-penalty, --seed, --stop (repeatable), --ignore-eos,
--experts-per-token.
`;

const FLAGS = { ...MODEL_FLAGS, ...SAMPLING_FLAGS, system: { type: 'string', short: 's' }, stats: { type: 'boolean' } } as const;

/** Runs `smoe chat`; resolves to the exit code. */
export async function chatCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS, 'chat');
  if (v['help']) {
    process.stdout.write(CHAT_HELP);
    return 0;
  }
  const options = generateOptions(v);
  const interactive = process.stdin.isTTY === true;
  const model = await loadFromFlags(v, 'chat', !interactive);
  const history: ChatMessage[] = [];
  if (typeof v['system'] === 'string') history.push({ role: 'system', content: v['system'] });
  try {
    // Fails early (CHAT_TEMPLATE_MISSING, TOKENIZER_MISSING) before reading anything.
    model.applyChatTemplate([...history, { role: 'user', content: '' }], { addGenerationPrompt: true });
  } catch (e) {
    await model.close();
    throw e;
  }

  const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
  let current: AbortController | null = null;
  let closing = false;
  const interrupt = (): void => {
    if (current) current.abort();
    else {
      closing = true;
      rl.close();
    }
  };
  rl.on('SIGINT', interrupt); // a terminal
  process.on('SIGINT', interrupt); // a pipe
  if (interactive) {
    process.stderr.write('smoe chat: type a message and press Enter; Ctrl-D or Ctrl-C to exit.\n');
    rl.setPrompt('> ');
    rl.prompt();
  }
  try {
    for await (const line of rl) {
      if (closing) break;
      if (line.trim() === '') {
        if (interactive) rl.prompt();
        continue;
      }
      history.push({ role: 'user', content: line });
      current = new AbortController();
      try {
        const gen = model.chat(history, { ...options, signal: current.signal });
        for await (const piece of gen) process.stdout.write(piece.text);
        const r = await gen.result;
        process.stdout.write('\n');
        if (v['stats']) process.stderr.write(statsLine(r) + '\n');
        history.push({ role: 'assistant', content: r.text });
      } catch (e) {
        // A turn the template or the context cannot take: say so and let the user go on.
        if (!(e instanceof SmoeError) || !['CHAT_TEMPLATE', 'CONTEXT_OVERFLOW'].includes(e.code)) throw e;
        history.pop();
        process.stderr.write(`smoe: error: ${errorLine(e)}\n`);
      } finally {
        current = null;
      }
      if (interactive) rl.prompt();
    }
  } finally {
    process.removeListener('SIGINT', interrupt);
    rl.close();
    if (interactive) process.stdout.write('\n');
    await model.close();
  }
  return 0;
}
