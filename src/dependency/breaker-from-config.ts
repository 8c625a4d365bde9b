// Config → breaker: the breaker itself never sees the config file's shape.
import { Breaker } from '../breaker/breaker.js';
import type { Clock } from '../breaker/clock.js';
import { ConsecutiveFailures } from '../breaker/consecutive-failures.js';
import { CountWindow } from '../breaker/count-window.js';
import type { BreakerConfig } from '../config/schema.js';

export function breakerFromConfig(c: BreakerConfig, clock?: Clock): Breaker {
  const policy =
    c.policy === 'rate'
      ? new CountWindow({
          size: c.window,
          minimumCalls: c.minimumCalls,
          failureRateThreshold: c.failureRate,
          slowCallRateThreshold: c.slowCallRate,
        })
      : new ConsecutiveFailures(c.failures);
  return new Breaker({
    policy,
    openFor: c.openFor,
    openForMultiplier: c.openForMultiplier,
    openForMax: c.openForMax,
    halfOpenMaxCalls: c.halfOpenMaxCalls,
    halfOpenSuccesses: c.halfOpenSuccesses,
    slowCallDuration: c.slowCall ?? Infinity,
    initialState: c.state,
    ...(clock ? { clock } : {}),
  });
}
