/**
 * Stop strings over streamed text: finds the first stop string even when it spans several pieces, and
 * holds back any tail that could still become one so that no part of a stop string is ever released.
 */

/** What one push released. `stop` is set (to the stop string found) when the stream must end. */
export interface StopScan {
  text: string;
  stop?: string;
}

/**
 * @example
 * const m = new StopStringMatcher(['\nUser:']);
 * m.push('Hi!\nUs');   // { text: 'Hi!' }           ('\nUs' is held back)
 * m.push('er: x');     // { text: '', stop: '\nUser:' }
 */
export class StopStringMatcher {
  readonly stops: readonly string[];
  #buf = '';
  #done = false;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Adds text; returns the part that can no longer belong to a stop string. */
  push(text: string): StopScan {
    if (this.#done) return { text: '' };
    if (this.stops.length === 0) return { text };
    const buf = this.#buf + text;
    let at = -1, which = '';
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i !== -1 && (at === -1 || i < at)) {
        at = i;
        which = s;
      }
    }
    if (at !== -1) {
      this.#done = true;
      this.#buf = '';
      return { text: buf.slice(0, at), stop: which };
    }
    const hold = this.#heldLength(buf);
    this.#buf = buf.slice(buf.length - hold);
    return { text: buf.slice(0, buf.length - hold) };
  }

  /** End of the stream: releases what was held back (it did not become a stop string). */
  flush(): string {
    const rest = this.#done ? '' : this.#buf;
    this.#buf = '';
    return rest;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  #heldLength(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let len = Math.min(s.length - 1, buf.length); len > best; len--) {
        if (buf.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
