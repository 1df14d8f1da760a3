/**
 * Chat templates: renders tokenizer_config.json's Jinja `chat_template` the way transformers'
 * `apply_chat_template(..., tokenize=False)` does, with @huggingface/jinja (trim_blocks and lstrip_blocks on,
 * as in transformers). Templates come from model folders, so they run bounded (lib/template-limits.ts) in a
 * worker thread (lib/template-sandbox.ts).
 */
import { InvalidArgumentError, SmoeError } from './errors.js';
import { optionalBool, optionalObject } from './options.js';
import { resolveTemplateLimits, type ResolvedTemplateLimits, type TemplateLimits } from './template-limits.js';
import type { RenderReply } from './template-protocol.js';
import { runTemplate } from './template-sandbox.js';

/** One chat message. `role` is usually 'system', 'user' or 'assistant'; the template decides what it accepts. */
export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /** End the prompt with the template's "assistant turn starts here" text (default false; chat() sets it). */
  addGenerationPrompt?: boolean;
}

/** The special-token strings a template may use. */
export interface ChatTemplateTokens {
  bosToken?: string | undefined;
  eosToken?: string | undefined;
}

/**
 * A parsed chat template, ready to render many times. Parsing and rendering are bounded by `limits`
 * (time, string length, nesting depth; see TemplateLimits).
 *
 * @example
 * const t = new ChatTemplate("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
 * t.render([{ role: 'user', content: 'Hi' }]); // 'user: Hi\n'
 * new ChatTemplate('{% for i in range(10**9) %}x{% endfor %}').render(msgs); // throws CHAT_TEMPLATE_LIMIT
 */
export class ChatTemplate {
  readonly source: string;
  readonly limits: Readonly<ResolvedTemplateLimits>;

  /**
   * @throws SmoeError CHAT_TEMPLATE when the template does not parse, CHAT_TEMPLATE_LIMIT when parsing runs
   *         past limits.timeMs; InvalidArgumentError INVALID_OPTION for bad limits
   */
  constructor(source: string, limits?: TemplateLimits) {
    if (typeof source !== 'string')
      throw new InvalidArgumentError('INVALID_ARGUMENT', 'a chat template must be a string');
    this.source = source;
    this.limits = Object.freeze(resolveTemplateLimits(limits));
    check(runTemplate({ source, limits: this.limits }));
  }

  /**
   * Renders `messages`. The template sees `messages`, `bos_token`, `eos_token`, `add_generation_prompt` and
   * `raise_exception(msg)`.
   * @throws InvalidArgumentError INVALID_ARGUMENT for malformed messages;
   *         SmoeError CHAT_TEMPLATE when the template raises an exception or fails to render,
   *         CHAT_TEMPLATE_LIMIT (with `field` naming the limit) when it passes one of its limits
   */
  render(messages: readonly ChatMessage[], options?: ChatTemplateOptions, tokens: ChatTemplateTokens = {}): string {
    const list = validateMessages(messages);
    const addGenerationPrompt = optionalBool(optionalObject(options, 'options'), 'addGenerationPrompt') ?? false;
    const data = { messages: list, bos_token: tokens.bosToken ?? '', eos_token: tokens.eosToken ?? '', add_generation_prompt: addGenerationPrompt };
    return check(runTemplate({ source: this.source, data, limits: this.limits }));
  }
}

/** The rendered text of a worker reply, or its error as a SmoeError. */
function check(r: RenderReply): string {
  if (r.ok) return r.text;
  switch (r.kind) {
    case 'limit':
      throw new SmoeError('CHAT_TEMPLATE_LIMIT', r.message, { field: `templateLimits.${r.limit}` });
    case 'raised':
      throw new SmoeError('CHAT_TEMPLATE', `the chat template raised an exception: ${r.message}`);
    case 'syntax':
      throw new SmoeError('CHAT_TEMPLATE', `the chat template has a syntax error: ${r.message}`);
    default:
      throw new SmoeError('CHAT_TEMPLATE', `the chat template failed to render: ${r.message}`);
  }
}

/**
 * Checks that `messages` is a non-empty array of `{ role: string, content: string }` and returns copies
 * (extra fields, such as `name`, are passed on to the template).
 *
 * @example
 * validateMessages([{ role: 'user', content: 'Hi' }]); // ok
 * validateMessages([{ role: 'user' }]);                // throws INVALID_ARGUMENT: messages[0].content must be a string
 * @throws InvalidArgumentError INVALID_ARGUMENT naming the bad message
 */
export function validateMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages))
    throw new InvalidArgumentError('INVALID_ARGUMENT', 'messages must be an array of { role, content } objects');
  if (messages.length === 0) throw new InvalidArgumentError('INVALID_ARGUMENT', 'messages must not be empty');
  return messages.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m))
      throw new InvalidArgumentError('INVALID_ARGUMENT', `messages[${i}] must be an object with string 'role' and 'content'`);
    const r = m as Record<string, unknown>;
    if (typeof r['role'] !== 'string' || r['role'] === '')
      throw new InvalidArgumentError('INVALID_ARGUMENT', `messages[${i}].role must be a non-empty string (got ${describe(r['role'])})`);
    if (typeof r['content'] !== 'string')
      throw new InvalidArgumentError('INVALID_ARGUMENT', `messages[${i}].content must be a string (got ${describe(r['content'])})`);
    return { ...r } as unknown as ChatMessage;
  });
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
