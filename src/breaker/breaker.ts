import { systemClock, type Clock } from './clock.js';
import { BreakerOptionError, requireAtLeast, requireInteger } from './errors.js';
import { Listeners } from './listeners.js';
import type { TripPolicy } from './policy.js';

export type BreakerState = 'closed' | 'open' | 'half_open' | 'forced_open' | 'disabled';

export const BREAKER_STATES: readonly BreakerState[] = Object.freeze([
  'closed',
  'open',
  'half_open',
  'forced_open',
  'disabled',
] as const);

export interface BreakerOptions {
  /** When to trip while closed. Owned by this breaker from now on. */
  policy: TripPolicy;
  /** ms to stay open before trial calls are allowed. */
  openFor: number;
  /** Each consecutive re-open (half-open → open) multiplies openFor by this. Default 1: no growth. */
  openForMultiplier?: number;
  /**
   * Cap for the grown openFor. Default openFor × 32 (30 s grows to at most 16 min).
   * Only checked (must be ≥ openFor) when openForMultiplier > 1, since it is unused otherwise.
   */
  openForMax?: number;
  /** Trial permits outstanding at once in half_open. Default 1. */
  halfOpenMaxCalls?: number;
  /** Trial successes needed in half_open to close. */
  halfOpenSuccesses: number;
  /** ms; calls taking at least this long are "slow" for the policy. Default Infinity (never slow). */
  slowCallDuration?: number;
  /** Default systemClock. */
  clock?: Clock;
  /** Where a throwing transition listener's error goes. Default console.error. */
  onListenerError?: (error: unknown, transition: Transition) => void;
  /** Start state (config `state:`), entered without a transition. Default 'closed'. */
  initialState?: 'closed' | 'forced_open' | 'disabled';
}

export interface Transition {
  from: BreakerState;
  to: BreakerState;
  reason: string;
  /** clock.now() at the transition. */
  at: number;
}

/** What /status wants in one object. */
export interface BreakerSnapshot {
  state: BreakerState;
  since: number;
  retryAfterMs: number;
  currentOpenFor: number;
  consecutiveReopens: number;
  halfOpenInFlight: number;
  halfOpenSucceeded: number;
  policy: string;
  lastTransition: Transition | undefined;
}

/** acquire()'s answer when the call must not go upstream. */
export const REJECTED = -1;

// A permit token is epoch * 2 + isTrial. The epoch moves on every transition,
// so a verdict for a permit from an earlier state (a slow closed-state call
// finishing during half_open, say) is recognized as stale and dropped.
const TRIAL = 1;

/**
 * The state machine: closed → open → half_open → closed, plus forced_open and
 * disabled. It owns states, time and half-open permits; when to trip is the
 * policy's business. acquire/success/failure/ignore are the hot path: no
 * allocation, no clock reads while closed.
 *
 * Every permit token must be settled exactly once, by success, failure or
 * ignore; an unsettled trial token holds its half-open slot until the next
 * transition.
 */
export class Breaker {
  private readonly policy: TripPolicy;
  private readonly clock: Clock;
  private readonly baseOpenFor: number;
  private readonly multiplier: number;
  private readonly maxOpenFor: number;
  private readonly halfOpenMaxCalls: number;
  private readonly halfOpenSuccesses: number;
  private readonly slowCallDuration: number;
  private readonly listeners: Listeners<Transition>;

  private current: BreakerState = 'closed';
  private changedAt: number;
  private epochToken = 0; // epoch * 2: the token of a non-trial permit in this epoch
  private openUntil = 0;
  private openFor: number;
  private reopens = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  private timer: unknown = undefined;
  private timerArmed = false;
  private last: Transition | undefined = undefined;

  constructor(opts: BreakerOptions) {
    const p = opts.policy as Partial<TripPolicy> | undefined;
    if (!p || typeof p.onSuccess !== 'function' || typeof p.onFailure !== 'function' || typeof p.reset !== 'function' || typeof p.describe !== 'function') {
      throw new BreakerOptionError('policy', p, 'a TripPolicy (e.g. new ConsecutiveFailures(3))');
    }
    this.policy = opts.policy;
    this.clock = opts.clock ?? systemClock;
    this.baseOpenFor = requireAtLeast('openFor', opts.openFor, 0);
    this.multiplier = requireAtLeast('openForMultiplier', opts.openForMultiplier ?? 1, 1);
    this.maxOpenFor =
      this.multiplier === 1
        ? this.baseOpenFor
        : requireAtLeast('openForMax', opts.openForMax ?? this.baseOpenFor * 32, this.baseOpenFor, true);
    this.halfOpenMaxCalls = requireInteger('halfOpenMaxCalls', opts.halfOpenMaxCalls ?? 1, 1);
    this.halfOpenSuccesses = requireInteger('halfOpenSuccesses', opts.halfOpenSuccesses, 1);
    this.slowCallDuration = requireAtLeast('slowCallDuration', opts.slowCallDuration ?? Infinity, 0, true);
    this.listeners = new Listeners(opts.onListenerError ?? reportListenerError);
    this.openFor = this.baseOpenFor;
    this.changedAt = this.clock.now();
    const initial = opts.initialState ?? 'closed';
    if (initial !== 'closed' && initial !== 'forced_open' && initial !== 'disabled') {
      throw new BreakerOptionError('initialState', initial, "'closed', 'forced_open' or 'disabled'");
    }
    this.current = initial;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** clock time of the last transition (construction time before the first). */
  get since(): number {
    return this.changedAt;
  }

  get lastTransition(): Transition | undefined {
    return this.last;
  }

  /** The open duration used for the current (or next) open period, after growth. */
  get currentOpenFor(): number {
    return this.openFor;
  }

  /** Half-open trials that failed in a row without the breaker closing in between. */
  get consecutiveReopens(): number {
    return this.reopens;
  }

  /** Trial permits handed out in this half_open period and not yet settled. */
  get halfOpenInFlight(): number {
    return this.trialsInFlight;
  }

  /** Trial successes so far in this half_open period. */
  get halfOpenSucceeded(): number {
    return this.trialSuccesses;
  }

  /** A permit token >= 0, or REJECTED (-1). */
  acquire(): number {
    const state = this.current;
    if (state === 'closed' || state === 'disabled') return this.epochToken;
    if (state === 'open') {
      if (this.clock.now() < this.openUntil) return REJECTED;
      // Due, but the timer hasn't fired yet (timers can be late).
      this.toHalfOpen();
      if (this.current !== 'half_open') return this.acquire(); // a listener moved us on
    } else if (state !== 'half_open') {
      return REJECTED; // forced_open
    }
    // The bound that keeps half_open from letting everybody through.
    if (this.trialsInFlight >= this.halfOpenMaxCalls) return REJECTED;
    this.trialsInFlight++;
    return this.epochToken + TRIAL;
  }

  success(token: number, durationMs: number): void {
    const trial = token & TRIAL;
    if (token - trial !== this.epochToken) return; // stale, or REJECTED
    if (trial) {
      if (!this.releaseTrial()) return;
      if (++this.trialSuccesses >= this.halfOpenSuccesses) {
        this.toClosed(`${this.trialSuccesses} trial call${this.trialSuccesses === 1 ? '' : 's'} succeeded`);
      }
    } else if (this.current === 'closed' && this.policy.onSuccess(durationMs >= this.slowCallDuration)) {
      this.toOpen(this.policy.describe());
    }
  }

  failure(token: number, durationMs: number): void {
    const trial = token & TRIAL;
    if (token - trial !== this.epochToken) return;
    if (trial) {
      if (this.releaseTrial()) this.toOpen('trial call failed');
    } else if (this.current === 'closed' && this.policy.onFailure(durationMs >= this.slowCallDuration)) {
      this.toOpen(this.policy.describe());
    }
  }

  /** The call ended without a verdict on the dependency (a caller error): frees a trial slot, counts nothing. */
  ignore(token: number): void {
    const trial = token & TRIAL;
    if (trial && token - trial === this.epochToken) this.releaseTrial();
  }

  /** Open now (e.g. a failing health check). Only from closed or half_open; a no-op otherwise. */
  trip(reason: string): void {
    if (this.current === 'closed' || this.current === 'half_open') this.toOpen(reason);
  }

  /** Reject everything until reset(). */
  forceOpen(reason = 'forced open'): void {
    if (this.current !== 'forced_open') this.emit(this.change('forced_open', reason));
  }

  /** Permit everything, record nothing, never trip, until reset() or forceOpen(). */
  disable(reason = 'disabled'): void {
    if (this.current !== 'disabled') this.emit(this.change('disabled', reason));
  }

  /** Back to closed with a clean policy and no openFor growth, from any state. */
  reset(reason = 'reset'): void {
    if (this.current === 'closed') this.clearHistory();
    else this.toClosed(reason);
  }

  /**
   * ms until a trial call may be attempted: the remaining open time when open,
   * 0 in closed, half_open and disabled. forced_open has no scheduled end, so
   * it answers the base openFor, as a polling interval for Retry-After.
   */
  retryAfterMs(): number {
    if (this.current === 'open') return Math.max(0, this.openUntil - this.clock.now());
    if (this.current === 'forced_open') return this.baseOpenFor;
    return 0;
  }

  /** Called synchronously after every transition, state already changed. Returns unsubscribe. */
  onTransition(listener: (t: Transition) => void): () => void {
    return this.listeners.add(listener);
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.current,
      since: this.changedAt,
      retryAfterMs: this.retryAfterMs(),
      currentOpenFor: this.openFor,
      consecutiveReopens: this.reopens,
      halfOpenInFlight: this.trialsInFlight,
      halfOpenSucceeded: this.trialSuccesses,
      policy: this.policy.describe(),
      lastTransition: this.last,
    };
  }

  // A double-settled token must not free a slot it doesn't hold.
  private releaseTrial(): boolean {
    if (this.trialsInFlight === 0) return false;
    this.trialsInFlight--;
    return true;
  }

  private toOpen(reason: string): void {
    if (this.current === 'half_open') {
      // Re-opening: the dependency hasn't recovered, so wait longer this time.
      this.openFor = Math.min(this.openFor * this.multiplier, this.maxOpenFor);
      this.reopens++;
    }
    const t = this.change('open', reason);
    this.openUntil = t.at + this.openFor;
    this.arm(this.openFor);
    this.emit(t);
  }

  private toHalfOpen(): void {
    this.emit(this.change('half_open', `open for ${this.openFor} ms`));
  }

  private toClosed(reason: string): void {
    const t = this.change('closed', reason);
    this.clearHistory();
    this.emit(t);
  }

  private clearHistory(): void {
    this.policy.reset();
    this.openFor = this.baseOpenFor;
    this.reopens = 0;
  }

  // State bookkeeping common to every transition; the caller emits once its own setup is done.
  private change(to: BreakerState, reason: string): Transition {
    const t: Transition = { from: this.current, to, reason, at: this.clock.now() };
    this.current = to;
    this.changedAt = t.at;
    this.epochToken += 2;
    this.trialsInFlight = 0;
    this.trialSuccesses = 0;
    this.disarm();
    this.last = t;
    return t;
  }

  private emit(t: Transition): void {
    this.listeners.emit(t);
  }

  private readonly onTimer = (): void => {
    this.timerArmed = false;
    this.timer = undefined;
    if (this.current !== 'open') return;
    const remaining = this.openUntil - this.clock.now();
    if (remaining > 0) this.arm(remaining); // fired early (clamped long delay)
    else this.toHalfOpen();
  };

  private arm(ms: number): void {
    this.disarm();
    this.timer = this.clock.setTimer(this.onTimer, ms);
    this.timerArmed = true;
  }

  private disarm(): void {
    if (!this.timerArmed) return;
    this.clock.clearTimer(this.timer);
    this.timerArmed = false;
    this.timer = undefined;
  }
}

function reportListenerError(error: unknown, t: Transition): void {
  console.error(`breakwater: breaker transition listener threw on ${t.from} -> ${t.to}:`, error);
}
