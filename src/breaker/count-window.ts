import { BreakerOptionError, requireInteger } from './errors.js';
import type { TripPolicy } from './policy.js';

export interface CountWindowOptions {
  /** How many of the most recent calls are considered. */
  size: number;
  /** No verdict until this many calls are in the window. Default: size. Clamped to size, as resilience4j does. */
  minimumCalls?: number;
  /** Percent (0, 100]; open when failures/calls ≥ this. Default 50. */
  failureRateThreshold?: number;
  /** Percent (0, 100]; open when slow calls/calls ≥ this. Default 100. */
  slowCallRateThreshold?: number;
}

// One byte per call: bit 0 = failed, bit 1 = slow (a slow failure is both, as in resilience4j).
const FAILED = 1;
const SLOW = 2;

/**
 * resilience4j's COUNT_BASED sliding window: the last `size` outcomes in a
 * ring buffer with running totals, so recording is O(1) and allocation-free.
 */
export class CountWindow implements TripPolicy {
  readonly size: number;
  readonly minimumCalls: number;
  readonly failureRateThreshold: number;
  readonly slowCallRateThreshold: number;

  private readonly outcomes: Uint8Array;
  private next = 0;
  private calls = 0;
  private failed = 0;
  private slow = 0;

  constructor(opts: CountWindowOptions) {
    this.size = requireInteger('size', opts.size, 1);
    this.minimumCalls = Math.min(requireInteger('minimumCalls', opts.minimumCalls ?? this.size, 1), this.size);
    this.failureRateThreshold = percent('failureRateThreshold', opts.failureRateThreshold ?? 50);
    this.slowCallRateThreshold = percent('slowCallRateThreshold', opts.slowCallRateThreshold ?? 100);
    this.outcomes = new Uint8Array(this.size);
  }

  /** Calls currently in the window. */
  get recordedCalls(): number {
    return this.calls;
  }

  get failedCalls(): number {
    return this.failed;
  }

  get slowCalls(): number {
    return this.slow;
  }

  onSuccess(slow: boolean): boolean {
    return this.record(slow ? SLOW : 0);
  }

  onFailure(slow: boolean): boolean {
    return this.record(slow ? FAILED | SLOW : FAILED);
  }

  reset(): void {
    this.outcomes.fill(0);
    this.next = this.calls = this.failed = this.slow = 0;
  }

  describe(): string {
    const n = this.calls;
    if (n === 0) return `no calls recorded (window of ${this.size})`;
    const over = `over last ${n} call${n === 1 ? '' : 's'}`;
    const failRate = `failure rate ${rate(this.failed, n)}%`;
    const slowRate = `slow-call rate ${rate(this.slow, n)}%`;
    if (n >= this.minimumCalls) {
      if (this.failedTooOften()) return `${failRate} ≥ ${this.failureRateThreshold}% ${over}`;
      if (this.slowTooOften()) return `${slowRate} ≥ ${this.slowCallRateThreshold}% ${over}`;
      return `${failRate}, ${slowRate} ${over}`;
    }
    return `${failRate}, ${slowRate} ${over} (no verdict before ${this.minimumCalls})`;
  }

  private record(outcome: number): boolean {
    if (this.calls === this.size) {
      // Full: the oldest outcome falls out of the window.
      const old = this.outcomes[this.next]!;
      this.failed -= old & FAILED;
      this.slow -= old >> 1;
    } else {
      this.calls++;
    }
    this.outcomes[this.next] = outcome;
    this.failed += outcome & FAILED;
    this.slow += outcome >> 1;
    if (++this.next === this.size) this.next = 0;
    return this.calls >= this.minimumCalls && (this.failedTooOften() || this.slowTooOften());
  }

  // Cross-multiplied so integer thresholds compare exactly (no 0.1 + 0.2 surprises).
  private failedTooOften(): boolean {
    return this.failed * 100 >= this.failureRateThreshold * this.calls;
  }

  private slowTooOften(): boolean {
    return this.slow * 100 >= this.slowCallRateThreshold * this.calls;
  }
}

function percent(option: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 100)) {
    throw new BreakerOptionError(option, value, 'a percentage in (0, 100]');
  }
  return value;
}

function rate(part: number, whole: number): number {
  return Math.round((part * 1000) / whole) / 10;
}
