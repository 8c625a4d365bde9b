/**
 * Where the breaker gets time from. Injected so tests can drive time by hand
 * (test/breaker/fake-clock.ts) instead of sleeping.
 */
export interface Clock {
  /** Milliseconds; only differences matter. */
  now(): number;
  /** Calls fn once after ms. May fire early for very long delays (see systemClock): callers re-check now(). */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

// setTimeout treats anything above 2^31-1 ms as 1 ms; clamp and let the caller re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Wall-clock time from Date.now(), so transition times read as timestamps in
 * /status. Timers are unref()'d: an open breaker must never keep the process alive.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    handle.unref();
    return handle;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
