export { Breaker, BREAKER_STATES, REJECTED } from './breaker.js';
export type { BreakerOptions, BreakerSnapshot, BreakerState, Transition } from './breaker.js';
export { systemClock, type Clock } from './clock.js';
export { ConsecutiveFailures } from './consecutive-failures.js';
export { CountWindow, type CountWindowOptions } from './count-window.js';
export { BreakerOptionError } from './errors.js';
export type { TripPolicy } from './policy.js';
