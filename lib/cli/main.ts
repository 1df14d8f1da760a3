#!/usr/bin/env node
/** The `smoe` command: generate, chat, info, route, serve. */
import { readFileSync } from 'node:fs';

import { chatCommand, CHAT_HELP } from './chat-command.js';
import { errorLine, exitCode, isKnown, UsageError } from './errors.js';
import { generateCommand, GENERATE_HELP } from './generate-command.js';
import { infoCommand, INFO_HELP } from './info-command.js';
import { routeCommand, ROUTE_HELP } from './route-command.js';
import { serveCommand, SERVE_HELP } from './serve-command.js';

const HELP = `Usage: smoe <command> [options]

Runs sparse Mixture-of-Experts language models (Mixtral and family).

Commands:
  generate   stream a continuation of a prompt        smoe generate --model DIR --prompt TEXT
  chat       chat with an instruction-tuned model     smoe chat --model DIR [--system TEXT]
  info       describe a model folder or GGUF file     smoe info --model DIR [--json]
  route      show which experts each token goes to    smoe route --model DIR --text TEXT [--svg F]
  serve      OpenAI-compatible HTTP server            smoe serve --model DIR [--port 8080] [--parallel N]

Options:
  -h, --help      show this help (smoe <command> --help for a command's options)
  -v, --version   print the version
`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  generate: { run: generateCommand, help: GENERATE_HELP },
  chat: { run: chatCommand, help: CHAT_HELP },
  info: { run: infoCommand, help: INFO_HELP },
  route: { run: routeCommand, help: ROUTE_HELP },
  serve: { run: serveCommand, help: SERVE_HELP },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI on `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(HELP);
    return 2;
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(rest[0] && COMMANDS[rest[0]] ? COMMANDS[rest[0]]!.help : HELP);
    return 0;
  }
  if (first === '-v' || first === '--version') {
    process.stdout.write(`smoe ${version()}\n`);
    return 0;
  }
  const cmd = COMMANDS[first];
  if (!cmd) throw new UsageError(first.startsWith('-') ? `unknown option '${first}' (see smoe --help)` : `unknown command '${first}' (commands: generate, chat, info, route, serve)`);
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`smoe: error: ${errorLine(e)}\n`);
    if (!isKnown(e) && process.env['SMOE_DEBUG']) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exitCode = exitCode(e);
  },
);
