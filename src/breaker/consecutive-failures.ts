import { requireInteger } from './errors.js';
import type { TripPolicy } from './policy.js';

/**
 * Open after `threshold` failures in a row; any success starts the count over.
 * Slowness is ignored here: use CountWindow's slow-call rate for that.
 */
export class ConsecutiveFailures implements TripPolicy {
  private count = 0;

  constructor(readonly threshold: number) {
    requireInteger('failures', threshold, 1);
  }

  /** Failures since the last success or reset. */
  get failures(): number {
    return this.count;
  }

  onSuccess(_slow: boolean): boolean {
    this.count = 0;
    return false;
  }

  onFailure(_slow: boolean): boolean {
    return ++this.count >= this.threshold;
  }

  reset(): void {
    this.count = 0;
  }

  describe(): string {
    return `${this.count} consecutive failure${this.count === 1 ? '' : 's'}`;
  }
}
