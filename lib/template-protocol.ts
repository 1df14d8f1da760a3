/** Messages between the chat-template sandbox (lib/template-sandbox.ts) and its worker (lib/template-worker.ts). */
import type { ResolvedTemplateLimits, TemplateLimits } from './template-limits.js';

/** What the template sees besides its own globals. */
export interface TemplateData {
  messages: unknown[];
  bos_token: string;
  eos_token: string;
  add_generation_prompt: boolean;
}

/** Parse `source` (cached by the worker) and, with `data`, render it. `start` is the caller's Date.now(). */
export interface RenderRequest {
  source: string;
  data?: TemplateData;
  limits: ResolvedTemplateLimits;
  start: number;
}

export type RenderReply =
  | { ok: true; text: string }
  | { ok: false; kind: 'syntax' | 'raised' | 'render'; message: string }
  | { ok: false; kind: 'limit'; limit: keyof TemplateLimits; message: string };

/** Int32 slots of the shared state: READY is 1 once the worker listens; REPLIES counts replies sent. */
export const READY = 0;
export const REPLIES = 1;
export const STATE_SLOTS = 2;
