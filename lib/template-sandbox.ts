/**
 * Runs chat templates in a worker thread (lib/template-worker.ts) with a synchronous call: the request is
 * posted, the caller blocks in Atomics.wait for at most the template's time limit, and reads the reply with
 * receiveMessageOnPort. A worker that does not answer in time is terminated (its heap goes with it) and the
 * next call starts a fresh one, so a template never holds the event loop longer than its bound.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

import { SmoeError } from './errors.js';
import { packageRoot } from './package-root.js';
import { READY, REPLIES, STATE_SLOTS, type RenderReply, type RenderRequest } from './template-protocol.js';

/** How long a new worker may take to start (not under a template's control, so not its limit). */
const START_MS = 30_000;
/** Slack past timeMs before the worker is stopped from outside (it stops itself at timeMs when it can). */
const GRACE_MS = 25;

const WORKER_FILE = join(packageRoot, 'dist', 'template-worker.js');

class RenderWorker {
  readonly heapMb: number;
  #worker: Worker;
  #port: MessagePort;
  #state: Int32Array;

  constructor(heapMb: number) {
    if (!existsSync(WORKER_FILE)) throw new SmoeError('INTERNAL', `the chat template worker ${WORKER_FILE} is missing (run npm run build:ts)`);
    this.heapMb = heapMb;
    this.#state = new Int32Array(new SharedArrayBuffer(STATE_SLOTS * 4));
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#worker = new Worker(WORKER_FILE, {
      workerData: { port: port2, state: this.#state },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 32, stackSizeMb: 16 },
      stdout: false,
      stderr: false,
    });
    this.#worker.unref();
    this.#worker.on('error', () => undefined); // a worker that dies (heap limit) is noticed as a timeout
  }

  /** The worker's reply, or undefined when it gave none within `waitMs` (the worker is then unusable). */
  call(req: Omit<RenderRequest, 'start'>, waitMs: number): RenderReply | undefined {
    if (!this.#waitFor(READY, 0, START_MS)) {
      this.terminate();
      throw new SmoeError('INTERNAL', `the chat template worker did not start within ${START_MS / 1000} s`);
    }
    const seen = Atomics.load(this.#state, REPLIES);
    this.#port.postMessage({ ...req, start: Date.now() } satisfies RenderRequest);
    if (!this.#waitFor(REPLIES, seen, waitMs)) return undefined;
    const m = receiveMessageOnPort(this.#port);
    if (m === undefined) throw new SmoeError('INTERNAL', 'the chat template worker signalled a reply it did not send');
    return m.message as RenderReply;
  }

  terminate(): void {
    this.#worker.terminate().catch(() => undefined);
    this.#port.close();
  }

  /** Blocks until state[slot] differs from `from`, for at most `ms`; whether it did. */
  #waitFor(slot: number, from: number, ms: number): boolean {
    const end = Date.now() + ms;
    for (;;) {
      if (Atomics.load(this.#state, slot) !== from) return true;
      const left = end - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.#state, slot, from, left);
    }
  }
}

let current: RenderWorker | undefined;

/**
 * Parses (and, with `req.data`, renders) a template in the worker, blocking for at most
 * `req.limits.timeMs` (plus the worker's start on first use).
 * @throws SmoeError CHAT_TEMPLATE_LIMIT (timeMs) when no reply came in time
 */
export function runTemplate(req: Omit<RenderRequest, 'start'>): RenderReply {
  // Room for strings up to outputChars (two bytes a character) several times over, and never below 256 MB.
  const heapMb = Math.max(256, Math.ceil((req.limits.outputChars * 2 * 4) / 2 ** 20));
  if (current !== undefined && current.heapMb < heapMb) {
    current.terminate();
    current = undefined;
  }
  const w = (current ??= new RenderWorker(heapMb));
  const reply = w.call(req, req.limits.timeMs + GRACE_MS);
  if (reply !== undefined) return reply;
  w.terminate();
  if (current === w) current = undefined;
  return {
    ok: false,
    kind: 'limit',
    limit: 'timeMs',
    message: `the chat template did not finish rendering within templateLimits.timeMs (${req.limits.timeMs} ms); it was stopped`,
  };
}
