/**
 * The chat-template worker: a thread that only parses and renders Jinja templates, so that a hostile
 * template can be stopped (the caller terminates the thread when it runs past its time) and cannot exhaust
 * the process's heap (the thread has its own heap limit). Inside, the interpreter checks the time, the
 * length of every string it builds and its nesting depth as it goes, so most runaway templates end with a
 * precise limit error and the thread stays usable.
 *
 * Protocol: requests arrive on `workerData.port`; each gets exactly one reply on the same port, after which
 * state[REPLIES] is incremented and notified (the caller waits on it with Atomics.wait).
 */
import { Interpreter, Template } from '@huggingface/jinja';
import { workerData, type MessagePort } from 'node:worker_threads';

import type { RenderReply, RenderRequest } from './template-protocol.js';
import { READY, REPLIES } from './template-protocol.js';
import type { ResolvedTemplateLimits, TemplateLimits } from './template-limits.js';

/** Thrown by the template's raise_exception(). */
class TemplateRaised extends Error {}

/** Thrown when a render passes one of its limits. */
class LimitHit extends Error {
  constructor(readonly limit: keyof TemplateLimits, message: string) {
    super(message);
  }
}

/**
 * Names that identifiers of a parsed template are renamed to: @huggingface/jinja defines its own
 * raise_exception (a plain Error) and an unbounded range() that render() variables cannot replace.
 */
const RENAMED: Record<string, string> = { raise_exception: '__smoe_raise_exception', range: '__smoe_range' };

function renameIdentifiers(node: unknown, seen = new Set<object>()): void {
  if (typeof node !== 'object' || node === null || seen.has(node)) return;
  seen.add(node);
  const n = node as Record<string, unknown>;
  if (n['type'] === 'Identifier' && typeof n['value'] === 'string' && Object.hasOwn(RENAMED, n['value'])) n['value'] = RENAMED[n['value']];
  for (const v of Object.values(n)) renameIdentifiers(v, seen);
}

/** The budget of the render in progress (one at a time: this thread does nothing else). */
const budget = { deadline: Infinity, timeMs: 0, outputChars: Infinity, maxDepth: Infinity, depth: 0, steps: 0 };

function checkTime(): void {
  if (Date.now() > budget.deadline)
    throw new LimitHit('timeMs', `the chat template did not finish rendering within templateLimits.timeMs (${budget.timeMs} ms)`);
}

function tooLong(what: string, n: number): LimitHit {
  return new LimitHit('outputChars', `the chat template ${what} of ${n} characters, more than templateLimits.outputChars (${budget.outputChars})`);
}

// Every node the interpreter evaluates passes here: time is checked every 256 steps, depth always, and
// every string value's length as it is made.
const evaluate = Interpreter.prototype.evaluate;
Interpreter.prototype.evaluate = function boundedEvaluate(this: Interpreter, ...[node, env]: Parameters<Interpreter['evaluate']>) {
  if ((++budget.steps & 255) === 0) checkTime();
  if (budget.depth >= budget.maxDepth)
    throw new LimitHit('depth', `the chat template nests deeper than templateLimits.depth (${budget.maxDepth})`);
  budget.depth++;
  try {
    const v = evaluate.call(this, node, env);
    if (v.type === 'StringValue' && (v.value as string).length > budget.outputChars) throw tooLong('built a string', (v.value as string).length);
    return v;
  } finally {
    budget.depth--;
  }
};

/** Python's range(), refusing more items than outputChars and checking the time as it fills. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > budget.outputChars)
    throw new LimitHit('outputChars', `the chat template asked for range() of ${n} items, more than templateLimits.outputChars (${budget.outputChars})`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    out[i] = start + i * step;
    if ((i & 0xffff) === 0xffff) checkTime();
  }
  return out;
}

const parsed = new Map<string, Template>();

function parse(source: string): Template {
  let t = parsed.get(source);
  if (t === undefined) {
    t = new Template(source);
    renameIdentifiers(t.parsed);
    parsed.set(source, t);
    if (parsed.size > 16) parsed.delete(parsed.keys().next().value!);
  }
  return t;
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

function render(req: RenderRequest): RenderReply {
  const limits: ResolvedTemplateLimits = req.limits;
  let template: Template;
  try {
    template = parse(req.source);
  } catch (e) {
    return { ok: false, kind: 'syntax', message: oneLine(e) };
  }
  if (req.data === undefined) return { ok: true, text: '' };
  Object.assign(budget, { deadline: req.start + limits.timeMs, timeMs: limits.timeMs, outputChars: limits.outputChars, maxDepth: limits.depth, depth: 0, steps: 0 });
  try {
    const text = template.render({
      ...req.data,
      [RENAMED['raise_exception']!]: (msg: unknown) => {
        throw new TemplateRaised(String(msg));
      },
      [RENAMED['range']!]: boundedRange,
    });
    if (text.length > limits.outputChars) throw tooLong('rendered a text', text.length);
    return { ok: true, text };
  } catch (e) {
    if (e instanceof LimitHit) return { ok: false, kind: 'limit', limit: e.limit, message: e.message };
    if (e instanceof TemplateRaised) return { ok: false, kind: 'raised', message: e.message };
    if (e instanceof RangeError && /call stack/i.test(e.message))
      return { ok: false, kind: 'limit', limit: 'depth', message: `the chat template recursed until the stack ran out (templateLimits.depth is ${limits.depth})` };
    if (e instanceof RangeError && /string length/i.test(e.message))
      return { ok: false, kind: 'limit', limit: 'outputChars', message: `the chat template built a string longer than JavaScript allows (templateLimits.outputChars is ${limits.outputChars})` };
    return { ok: false, kind: 'render', message: oneLine(e) };
  } finally {
    budget.deadline = Infinity;
  }
}

const { port, state } = workerData as { port: MessagePort; state: Int32Array };
port.on('message', (req: RenderRequest) => {
  port.postMessage(render(req));
  Atomics.add(state, REPLIES, 1);
  Atomics.notify(state, REPLIES);
});
Atomics.store(state, READY, 1);
Atomics.notify(state, READY);
