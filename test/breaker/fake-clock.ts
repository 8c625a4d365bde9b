import type { Clock } from '../../src/breaker/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** Time moves only when a test says so; due timers fire in due order (ties: order set). */
export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private timers: Timer[] = [];

  constructor(start = 1_000_000) {
    this.time = start;
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, at: this.time + (ms > 0 ? ms : 0), fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Moves time forward by ms, stopping at each due timer (including ones set by timers) to fire it. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: Timer | undefined;
      // this.timers is in the order set, so strict < keeps ties in that order.
      for (const t of this.timers) if (t.at <= end && (!due || t.at < due.at)) due = t;
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
    }
    this.time = end;
  }

  /** Moves time without firing timers: a stalled event loop, where timers run late. */
  skip(ms: number): void {
    this.time += ms;
  }
}
