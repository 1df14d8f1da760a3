/** How the CLI reports failures: one `smoe: error: ...` line on stderr and a non-zero exit code. */
import { SmoeError } from '../errors.js';
import { TokenizerError } from '../tokenizer/index.js';

/** A failure the user caused: bad flags or arguments (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Library option names and the flags that set them, to word library errors in CLI terms. */
const FLAG_OF: Record<string, string> = {
  maxTokens: '--max-tokens', temperature: '--temperature', topK: '--top-k', topP: '--top-p', minP: '--min-p',
  repeatPenalty: '--repeat-penalty', frequencyPenalty: '--frequency-penalty', presencePenalty: '--presence-penalty',
  seed: '--seed', stop: '--stop', threads: '--threads', device: '--device', expertsPerToken: '--experts-per-token',
};

/** The one-line message for an error: library option names replaced by their flags, whitespace collapsed. */
export function errorLine(e: unknown): string {
  let msg = e instanceof Error ? e.message : String(e);
  if (e instanceof SmoeError && e.code === 'INVALID_OPTION' && e.field && FLAG_OF[e.field])
    msg = msg.replace(`option '${e.field}'`, FLAG_OF[e.field]!);
  return msg.replace(/\s+/g, ' ').trim();
}

/** Exit code for an error: 2 for usage errors (bad flags or option values, no model given), 1 otherwise. */
export function exitCode(e: unknown): number {
  if (e instanceof UsageError) return 2;
  if (e instanceof SmoeError && ['INVALID_OPTION', 'INVALID_ARGUMENT', 'MODEL_REQUIRED'].includes(e.code)) return 2;
  return 1;
}

/** Whether an error is one smoe describes itself (anything else is a bug and gets its stack with SMOE_DEBUG=1). */
export function isKnown(e: unknown): boolean {
  return e instanceof SmoeError || e instanceof TokenizerError || e instanceof UsageError;
}
