/**
 * A breaker or policy option out of range. Thrown at construction time so a
 * bad config fails at startup, not on the first failing request.
 */
export class BreakerOptionError extends RangeError {
  readonly code = 'ERR_BREAKER_OPTION';

  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`breaker option "${option}" must be ${expected}, got ${String(value)}; fix it in the dependency's breaker config`);
    this.name = 'BreakerOptionError';
  }
}

/** Throws unless value is an integer >= min. */
export function requireInteger(option: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new BreakerOptionError(option, value, `an integer >= ${min}`);
  return value;
}

/** Throws unless value is a number >= min (Infinity allowed only when allowInfinity). */
export function requireAtLeast(option: string, value: number, min: number, allowInfinity = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (!allowInfinity && value === Infinity)) {
    throw new BreakerOptionError(option, value, `a ${allowInfinity ? '' : 'finite '}number >= ${min}`);
  }
  return value;
}
