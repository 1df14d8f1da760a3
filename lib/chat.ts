/**
 * Chat templates: renders tokenizer_config.json's Jinja `chat_template` the way transformers'
 * `apply_chat_template(..., tokenize=False)` does, with @huggingface/jinja (trim_blocks and lstrip_blocks on,
 * as in transformers).
 */
import { Template } from '@huggingface/jinja';

import { InvalidArgumentError, SmoeError } from './errors.js';
import { optionalBool, optionalObject } from './options.js';

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

/** Thrown by the template's raise_exception(); recognised after rendering. */
class TemplateRaised extends Error {}

/**
 * The name the template's `raise_exception` is renamed to in the parsed tree: @huggingface/jinja defines
 * its own raise_exception (a plain Error) that a render() variable cannot replace.
 */
const RAISE = '__smoe_raise_exception';

/** Renames every `raise_exception` identifier of a parsed template to RAISE. */
function renameRaise(node: unknown, seen = new Set<object>()): void {
  if (typeof node !== 'object' || node === null || seen.has(node)) return;
  seen.add(node);
  const n = node as Record<string, unknown>;
  if (n['type'] === 'Identifier' && n['value'] === 'raise_exception') n['value'] = RAISE;
  for (const v of Object.values(n)) renameRaise(v, seen);
}

/**
 * A parsed chat template, ready to render many times.
 *
 * @example
 * const t = new ChatTemplate("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
 * t.render([{ role: 'user', content: 'Hi' }]); // 'user: Hi\n'
 */
export class ChatTemplate {
  readonly source: string;
  #template: Template;

  /** @throws SmoeError CHAT_TEMPLATE when the template does not parse. */
  constructor(source: string) {
    if (typeof source !== 'string')
      throw new InvalidArgumentError('INVALID_ARGUMENT', 'a chat template must be a string');
    this.source = source;
    try {
      this.#template = new Template(source);
      renameRaise(this.#template.parsed);
    } catch (e) {
      throw new SmoeError('CHAT_TEMPLATE', `the chat template has a syntax error: ${oneLine(e)}`, { cause: e });
    }
  }

  /**
   * Renders `messages`. The template sees `messages`, `bos_token`, `eos_token`, `add_generation_prompt` and
   * `raise_exception(msg)`.
   * @throws InvalidArgumentError INVALID_ARGUMENT for malformed messages;
   *         SmoeError CHAT_TEMPLATE when the template raises an exception or fails to render.
   */
  render(messages: readonly ChatMessage[], options?: ChatTemplateOptions, tokens: ChatTemplateTokens = {}): string {
    const list = validateMessages(messages);
    const addGenerationPrompt = optionalBool(optionalObject(options, 'options'), 'addGenerationPrompt') ?? false;
    try {
      return this.#template.render({
        messages: list,
        bos_token: tokens.bosToken ?? '',
        eos_token: tokens.eosToken ?? '',
        add_generation_prompt: addGenerationPrompt,
        [RAISE]: (msg: unknown) => {
          throw new TemplateRaised(String(msg));
        },
      });
    } catch (e) {
      if (e instanceof TemplateRaised) throw new SmoeError('CHAT_TEMPLATE', `the chat template raised an exception: ${e.message}`, { cause: e });
      throw new SmoeError('CHAT_TEMPLATE', `the chat template failed to render: ${oneLine(e)}`, { cause: e });
    }
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

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}
