/**
 * When to trip, separate from the state machine (breaker.ts). The breaker
 * feeds a policy only the verdicts of calls made while closed; a `true`
 * return means "open now". One policy instance belongs to one breaker.
 */
export interface TripPolicy {
  /** A call succeeded; `slow` when it took at least the breaker's slowCallDuration. */
  onSuccess(slow: boolean): boolean;
  /** A call failed (a dependency failure, not a caller error). */
  onFailure(slow: boolean): boolean;
  /** Forget everything: called whenever the breaker (re)enters closed. */
  reset(): void;
  /** Human-readable reason, used as the transition reason when the policy trips. */
  describe(): string;
}
