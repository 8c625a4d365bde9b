import t from 'tap';
import { Breaker, BREAKER_STATES, REJECTED, type BreakerOptions, type Transition } from '../../src/breaker/breaker.js';
import { ConsecutiveFailures } from '../../src/breaker/consecutive-failures.js';
import { CountWindow } from '../../src/breaker/count-window.js';
import { FakeClock } from './fake-clock.js';

function setup(over: Partial<BreakerOptions> = {}) {
  const clock = new FakeClock();
  const policy = new ConsecutiveFailures(3);
  const b = new Breaker({ policy, openFor: 1000, halfOpenSuccesses: 2, clock, ...over });
  const transitions: Transition[] = [];
  b.onTransition((tr) => transitions.push(tr));
  const edges = () => transitions.map((tr) => `${tr.from}->${tr.to}`);
  return { b, clock, policy, transitions, edges };
}

function fail(b: Breaker, n: number): void {
  for (let i = 0; i < n; i++) b.failure(b.acquire(), 1);
}

/** closed -> open -> half_open */
function toHalfOpen(b: Breaker, clock: FakeClock): void {
  fail(b, 3);
  clock.advance(b.retryAfterMs());
}

t.test('BREAKER_STATES lists the five states, frozen', async (t) => {
  t.same(BREAKER_STATES, ['closed', 'open', 'half_open', 'forced_open', 'disabled']);
  t.ok(Object.isFrozen(BREAKER_STATES));
});

t.test('starts closed and permits', async (t) => {
  const { b, clock } = setup();
  t.equal(b.state, 'closed');
  t.equal(b.since, clock.now());
  t.equal(b.lastTransition, undefined);
  const token = b.acquire();
  t.ok(token >= 0);
  t.equal(b.acquire(), token, 'closed permits need no identity');
  t.equal(b.retryAfterMs(), 0);
});

t.test('closed -> open when the policy says so, with its reason', async (t) => {
  const { b, clock, transitions, policy } = setup();
  fail(b, 2);
  t.equal(b.state, 'closed');
  clock.advance(5);
  b.failure(b.acquire(), 1);
  t.equal(b.state, 'open');
  t.same(transitions, [{ from: 'closed', to: 'open', reason: '3 consecutive failures', at: clock.now() }]);
  t.equal(b.since, clock.now());
  t.same(b.lastTransition, transitions[0]);
  t.equal(b.acquire(), REJECTED);
  t.equal(b.retryAfterMs(), 1000);
  t.equal(policy.failures, 3, 'policy is not reset on open; closing resets it');
});

t.test('a success in between keeps it closed', async (t) => {
  const { b } = setup();
  fail(b, 2);
  b.success(b.acquire(), 1);
  fail(b, 2);
  t.equal(b.state, 'closed');
});

t.test('open -> half_open by timer, without traffic', async (t) => {
  const { b, clock, edges, transitions } = setup();
  fail(b, 3);
  clock.advance(999);
  t.equal(b.state, 'open');
  t.equal(b.retryAfterMs(), 1);
  clock.advance(1);
  t.equal(b.state, 'half_open');
  t.same(edges(), ['closed->open', 'open->half_open']);
  t.equal(transitions[1]!.reason, 'open for 1000 ms');
  t.equal(transitions[1]!.at, transitions[0]!.at + 1000);
  t.equal(b.retryAfterMs(), 0);
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test('open -> half_open lazily in acquire when the timer is late', async (t) => {
  const { b, clock, edges } = setup();
  fail(b, 3);
  clock.skip(999);
  t.equal(b.acquire(), REJECTED, 'not yet due');
  clock.skip(1); // due, but the event loop has not run the timer
  t.equal(b.state, 'open');
  t.equal(b.retryAfterMs(), 0);
  const trial = b.acquire();
  t.ok(trial >= 0, 'the first caller after the deadline gets a trial');
  t.equal(b.state, 'half_open');
  t.equal(b.halfOpenInFlight, 1);
  t.equal(b.acquire(), REJECTED, 'and the bound holds on the lazy path too');
  t.equal(clock.pending, 0, 'the late timer was cancelled');
  clock.advance(10_000);
  t.same(edges(), ['closed->open', 'open->half_open'], 'exactly one transition');
});

t.test('a timer that fires early (clamped delay) is re-armed', async (t) => {
  // A clock whose timers never wait more than 1000 ms, like setTimeout past 2^31-1.
  class ClampingClock extends FakeClock {
    override setTimer(fn: () => void, ms: number): unknown {
      return super.setTimer(fn, Math.min(ms, 1000));
    }
  }
  const clock = new ClampingClock();
  const b = new Breaker({ policy: new ConsecutiveFailures(1), openFor: 3500, halfOpenSuccesses: 1, clock });
  b.failure(b.acquire(), 1);
  clock.advance(3499);
  t.equal(b.state, 'open');
  t.equal(clock.pending, 1);
  clock.advance(1);
  t.equal(b.state, 'half_open');
});

t.test('a timer firing after a transition (clock that cannot cancel) does nothing', async (t) => {
  class StickyClock extends FakeClock {
    override clearTimer(): void {}
  }
  const clock = new StickyClock();
  const b = new Breaker({ policy: new ConsecutiveFailures(1), openFor: 1000, halfOpenSuccesses: 1, clock });
  b.failure(b.acquire(), 1);
  b.forceOpen();
  clock.advance(1000);
  t.equal(b.state, 'forced_open');
});

t.test('half_open -> closed after halfOpenSuccesses trial successes; policy and growth reset', async (t) => {
  const { b, clock, policy, edges, transitions } = setup({ halfOpenSuccesses: 3, openForMultiplier: 2 });
  toHalfOpen(b, clock);
  for (let i = 1; i <= 2; i++) {
    b.success(b.acquire(), 1);
    t.equal(b.state, 'half_open');
    t.equal(b.halfOpenSucceeded, i);
    t.equal(b.halfOpenInFlight, 0);
  }
  b.success(b.acquire(), 1);
  t.equal(b.state, 'closed');
  t.same(edges(), ['closed->open', 'open->half_open', 'half_open->closed']);
  t.equal(transitions[2]!.reason, '3 trial calls succeeded');
  t.equal(policy.failures, 0, 'policy reset on close');
  fail(b, 2);
  t.equal(b.state, 'closed', 'the old failures are forgotten');
});

t.test('half_open -> open on a trial failure, and openFor grows up to its cap', async (t) => {
  const { b, clock, transitions } = setup({ openForMultiplier: 2, openForMax: 5000 });
  fail(b, 3);
  t.equal(b.currentOpenFor, 1000);
  const expected = [2000, 4000, 5000, 5000];
  for (const [i, openFor] of expected.entries()) {
    clock.advance(b.retryAfterMs());
    t.equal(b.state, 'half_open');
    b.failure(b.acquire(), 1);
    t.equal(b.state, 'open');
    t.equal(transitions.at(-1)!.reason, 'trial call failed');
    t.equal(b.currentOpenFor, openFor, `re-trip ${i + 1}`);
    t.equal(b.consecutiveReopens, i + 1);
    t.equal(b.retryAfterMs(), openFor);
    clock.advance(openFor - 1);
    t.equal(b.state, 'open', 'still open 1 ms before');
  }
});

t.test('growth resets after the breaker closes', async (t) => {
  const { b, clock } = setup({ openForMultiplier: 3, halfOpenSuccesses: 1 });
  toHalfOpen(b, clock);
  b.failure(b.acquire(), 1);
  t.equal(b.currentOpenFor, 3000);
  clock.advance(3000);
  b.success(b.acquire(), 1);
  t.equal(b.state, 'closed');
  t.equal(b.currentOpenFor, 1000);
  t.equal(b.consecutiveReopens, 0);
  fail(b, 3);
  t.equal(b.retryAfterMs(), 1000, 'next open period starts from openFor again');
});

t.test('openForMax defaults to openFor * 32', async (t) => {
  const { b, clock } = setup({ openForMultiplier: 2 });
  fail(b, 3);
  for (let i = 0; i < 8; i++) {
    clock.advance(b.retryAfterMs());
    b.failure(b.acquire(), 1);
  }
  t.equal(b.currentOpenFor, 32_000);
});

t.test('multiplier 1 never grows', async (t) => {
  const { b, clock } = setup();
  fail(b, 3);
  for (let i = 0; i < 3; i++) {
    clock.advance(b.retryAfterMs());
    b.failure(b.acquire(), 1);
  }
  t.equal(b.currentOpenFor, 1000);
  t.equal(b.consecutiveReopens, 3);
});

t.test('half-open admits at most halfOpenMaxCalls concurrent trials', async (t) => {
  t.test('halfOpenMaxCalls = 1: the second concurrent acquire is rejected', async (t) => {
    const { b, clock } = setup();
    toHalfOpen(b, clock);
    const trial = b.acquire();
    t.ok(trial >= 0);
    for (let i = 0; i < 100; i++) t.equal(b.acquire(), REJECTED);
    t.equal(b.halfOpenInFlight, 1);
    b.success(trial, 1);
    t.equal(b.state, 'half_open', 'one of two successes');
    t.ok(b.acquire() >= 0, 'the slot is free again');
  });
  t.test('halfOpenMaxCalls = 3: the fourth is rejected', async (t) => {
    const { b, clock } = setup({ halfOpenMaxCalls: 3, halfOpenSuccesses: 5 });
    toHalfOpen(b, clock);
    const trials = [b.acquire(), b.acquire(), b.acquire()];
    t.ok(trials.every((x) => x >= 0));
    t.equal(b.acquire(), REJECTED);
    t.equal(b.halfOpenInFlight, 3);
    b.success(trials[0]!, 1);
    t.ok(b.acquire() >= 0, 'a settled trial frees its slot');
    t.equal(b.acquire(), REJECTED);
  });
});

t.test('a trial failure reopens even with other trials in flight; their verdicts are then stale', async (t) => {
  const { b, clock, edges } = setup({ halfOpenMaxCalls: 2, halfOpenSuccesses: 1 });
  toHalfOpen(b, clock);
  const a = b.acquire();
  const c = b.acquire();
  b.failure(a, 1);
  t.equal(b.state, 'open');
  b.success(c, 1);
  t.equal(b.state, 'open', 'a success from the failed half-open period does not close');
  clock.advance(b.retryAfterMs());
  t.equal(b.state, 'half_open');
  b.success(c, 1);
  b.failure(c, 1);
  t.equal(b.state, 'half_open', 'nor does it count in the next half-open period');
  t.equal(b.halfOpenSucceeded, 0);
  t.same(edges(), ['closed->open', 'open->half_open', 'half_open->open', 'open->half_open']);
});

t.test('stale tokens from an earlier state do nothing', async (t) => {
  t.test('a closed-state failure finishing while open', async (t) => {
    const { b, edges } = setup();
    const slow = b.acquire();
    fail(b, 3);
    b.failure(slow, 1);
    b.success(slow, 1);
    t.equal(b.state, 'open');
    t.same(edges(), ['closed->open']);
  });
  t.test('a closed-state call finishing during half_open is not a trial', async (t) => {
    const { b, clock } = setup({ halfOpenSuccesses: 1 });
    const slow = b.acquire();
    toHalfOpen(b, clock);
    const trial = b.acquire();
    b.success(slow, 1);
    t.equal(b.state, 'half_open', 'did not count as a trial success');
    t.equal(b.halfOpenInFlight, 1, 'did not release the trial slot');
    t.equal(b.acquire(), REJECTED);
    b.failure(slow, 1);
    b.ignore(slow);
    t.equal(b.state, 'half_open', 'its failure does not reopen');
    t.equal(b.halfOpenInFlight, 1);
    b.success(trial, 1);
    t.equal(b.state, 'closed');
  });
  t.test('a closed-state failure from before an open/close cycle does not feed the fresh policy', async (t) => {
    const { b, clock, policy } = setup({ halfOpenSuccesses: 1 });
    const old = b.acquire();
    toHalfOpen(b, clock);
    b.success(b.acquire(), 1);
    t.equal(b.state, 'closed');
    b.failure(old, 1);
    t.equal(policy.failures, 0);
  });
  t.test('REJECTED and garbage tokens are ignored', async (t) => {
    const { b, clock, policy } = setup();
    b.failure(REJECTED, 1);
    b.failure(12345, 1);
    b.failure(0.5, 1);
    t.equal(policy.failures, 0);
    toHalfOpen(b, clock);
    b.acquire();
    b.ignore(REJECTED);
    b.success(REJECTED, 1);
    t.equal(b.halfOpenInFlight, 1);
    t.equal(b.halfOpenSucceeded, 0);
  });
});

t.test('ignore()', async (t) => {
  t.test('frees a half-open slot without counting', async (t) => {
    const { b, clock } = setup({ halfOpenSuccesses: 1 });
    toHalfOpen(b, clock);
    b.ignore(b.acquire());
    t.equal(b.state, 'half_open');
    t.equal(b.halfOpenInFlight, 0);
    t.equal(b.halfOpenSucceeded, 0);
    t.ok(b.acquire() >= 0);
  });
  t.test('counts nothing while closed', async (t) => {
    const { b, policy } = setup();
    fail(b, 2);
    b.ignore(b.acquire());
    t.equal(policy.failures, 2, 'neither a success (which would reset) nor a failure');
    fail(b, 1);
    t.equal(b.state, 'open');
  });
  t.test('settling a trial twice cannot free a slot it no longer holds', async (t) => {
    const { b, clock } = setup({ halfOpenSuccesses: 5 });
    toHalfOpen(b, clock);
    const trial = b.acquire();
    b.ignore(trial);
    b.ignore(trial);
    b.success(trial, 1);
    b.failure(trial, 1);
    t.equal(b.halfOpenInFlight, 0);
    t.equal(b.halfOpenSucceeded, 0);
    t.equal(b.state, 'half_open');
  });
});

t.test('trip()', async (t) => {
  t.test('closed -> open with the given reason', async (t) => {
    const { b, transitions } = setup();
    b.trip('health check failed 2 times');
    t.equal(b.state, 'open');
    t.equal(transitions[0]!.reason, 'health check failed 2 times');
    t.equal(b.retryAfterMs(), 1000);
  });
  t.test('half_open -> open counts as a re-trip (grows openFor)', async (t) => {
    const { b, clock, edges } = setup({ openForMultiplier: 2 });
    toHalfOpen(b, clock);
    b.acquire();
    b.trip('health check failed');
    t.same(edges(), ['closed->open', 'open->half_open', 'half_open->open']);
    t.equal(b.currentOpenFor, 2000);
    t.equal(b.halfOpenInFlight, 0);
  });
  t.test('a no-op while open, forced_open or disabled', async (t) => {
    const { b, clock, transitions } = setup();
    b.trip('first');
    clock.advance(500);
    b.trip('second');
    t.equal(transitions.length, 1);
    t.equal(b.retryAfterMs(), 500, 'the open period is not extended');
    b.forceOpen();
    b.trip('x');
    t.equal(b.state, 'forced_open');
    b.disable();
    b.trip('x');
    t.equal(b.state, 'disabled');
    t.equal(transitions.length, 3);
  });
});

t.test('forceOpen()', async (t) => {
  const { b, clock, transitions, edges } = setup({ openForMultiplier: 2 });
  fail(b, 3);
  b.forceOpen('maintenance');
  t.equal(b.state, 'forced_open');
  t.equal(transitions.at(-1)!.reason, 'maintenance');
  t.equal(clock.pending, 0, 'the open timer is cancelled');
  clock.advance(1_000_000);
  t.equal(b.state, 'forced_open', 'no half-open, ever');
  t.equal(b.acquire(), REJECTED);
  t.equal(b.retryAfterMs(), 1000, 'forced_open suggests openFor as a polling interval');
  b.forceOpen('again');
  t.same(edges(), ['closed->open', 'open->forced_open'], 'forcing twice is one transition');
  b.reset();
  t.equal(b.state, 'closed');
  t.equal(transitions.at(-1)!.reason, 'reset');
  t.ok(b.acquire() >= 0);
  b.forceOpen();
  t.equal(transitions.at(-1)!.reason, 'forced open', 'default reason');
});

t.test('disable()', async (t) => {
  const { b, clock, policy, edges, transitions } = setup();
  b.disable();
  t.equal(transitions.at(-1)!.reason, 'disabled');
  for (let i = 0; i < 100; i++) {
    const token = b.acquire();
    t.ok(token >= 0);
    b.failure(token, 10_000);
  }
  t.equal(b.state, 'disabled', 'never trips');
  t.equal(policy.failures, 0, 'records nothing');
  t.equal(b.retryAfterMs(), 0);
  clock.advance(1_000_000);
  b.disable('again');
  t.same(edges(), ['closed->disabled']);
  b.reset('enable');
  t.equal(b.state, 'closed');
  t.equal(transitions.at(-1)!.reason, 'enable');
});

t.test('disable and forceOpen replace each other', async (t) => {
  const { b, edges } = setup();
  b.forceOpen();
  b.disable();
  b.forceOpen();
  t.same(edges(), ['closed->forced_open', 'forced_open->disabled', 'disabled->forced_open']);
});

t.test('reset()', async (t) => {
  t.test('from open and half_open: closed, policy cleared, growth cleared', async (t) => {
    const { b, clock, policy, edges } = setup({ openForMultiplier: 2 });
    toHalfOpen(b, clock);
    b.failure(b.acquire(), 1);
    t.equal(b.currentOpenFor, 2000);
    b.reset('operator');
    t.equal(b.state, 'closed');
    t.equal(b.currentOpenFor, 1000);
    t.equal(b.consecutiveReopens, 0);
    t.equal(policy.failures, 0);
    t.equal(clock.pending, 0);
    clock.advance(2000);
    t.equal(b.state, 'closed', 'the cancelled timer does not fire');
    t.same(edges(), ['closed->open', 'open->half_open', 'half_open->open', 'open->closed']);

    toHalfOpen(b, clock);
    const trial = b.acquire();
    b.reset();
    t.equal(b.state, 'closed');
    b.failure(trial, 1);
    t.equal(policy.failures, 0, 'a trial from before the reset is stale');
  });
  t.test('while closed: no transition, but the policy is cleared', async (t) => {
    const { b, policy, transitions } = setup();
    fail(b, 2);
    b.reset();
    t.equal(transitions.length, 0);
    t.equal(policy.failures, 0);
    fail(b, 2);
    t.equal(b.state, 'closed');
  });
});

t.test('retryAfterMs() in each state', async (t) => {
  const { b, clock } = setup();
  t.equal(b.retryAfterMs(), 0, 'closed');
  fail(b, 3);
  t.equal(b.retryAfterMs(), 1000, 'open, just now');
  clock.advance(400);
  t.equal(b.retryAfterMs(), 600, 'open, 400 ms in');
  clock.skip(10_000);
  t.equal(b.retryAfterMs(), 0, 'open and overdue: never negative');
  clock.advance(0);
  t.equal(b.state, 'half_open');
  t.equal(b.retryAfterMs(), 0, 'half_open');
  b.forceOpen();
  t.equal(b.retryAfterMs(), 1000, 'forced_open: openFor');
  b.disable();
  t.equal(b.retryAfterMs(), 0, 'disabled');
});

t.test('transition listeners', async (t) => {
  t.test('called synchronously, after the state changed', async (t) => {
    const { b } = setup();
    const seen: string[] = [];
    b.onTransition((tr) => seen.push(`${tr.to}:${b.state}:${b.since === tr.at}`));
    fail(b, 3);
    t.same(seen, ['open:open:true']);
  });
  t.test('unsubscribe stops delivery and is idempotent', async (t) => {
    const { b } = setup();
    let calls = 0;
    const off = b.onTransition(() => calls++);
    const off2 = b.onTransition(() => calls++);
    b.forceOpen();
    off();
    off();
    b.disable();
    t.equal(calls, 3, 'two for the first transition, one (off2) for the second');
    off2();
    b.reset();
    t.equal(calls, 3);
  });
  t.test('a throwing listener breaks neither the breaker nor the other listeners', async (t) => {
    const errors: [unknown, Transition][] = [];
    const { b, transitions } = setup({ onListenerError: (e, tr) => errors.push([e, tr]) });
    const boom = new Error('listener bug');
    b.onTransition(() => {
      throw boom;
    });
    let after = 0;
    b.onTransition(() => after++);
    fail(b, 3);
    t.equal(b.state, 'open');
    t.equal(transitions.length, 1);
    t.equal(after, 1, 'the listener registered after the throwing one still ran');
    t.equal(errors.length, 1);
    t.equal(errors[0]![0], boom);
    t.equal(errors[0]![1].to, 'open');
  });
  t.test('without onListenerError the error goes to console.error; a throwing reporter is swallowed', async (t) => {
    const logged = t.capture(console, 'error');
    const { b } = setup();
    b.onTransition(() => {
      throw new Error('listener bug');
    });
    b.forceOpen();
    const calls = logged();
    t.equal(calls.length, 1);
    t.match(String(calls[0]!.args[0]), /closed -> forced_open/);

    const b2 = setup({
      onListenerError: () => {
        throw new Error('reporter bug');
      },
    }).b;
    b2.onTransition(() => {
      throw new Error('listener bug');
    });
    t.doesNotThrow(() => b2.forceOpen());
    t.equal(b2.state, 'forced_open');
  });
  t.test('a listener that changes state: every listener still sees transitions in order', async (t) => {
    const { b, edges } = setup();
    b.onTransition((tr) => {
      if (tr.to === 'open') b.forceOpen('escalated');
    });
    const late: string[] = [];
    b.onTransition((tr) => late.push(`${tr.from}->${tr.to}`));
    fail(b, 3);
    t.equal(b.state, 'forced_open');
    t.same(edges(), ['closed->open', 'open->forced_open']);
    t.same(late, ['closed->open', 'open->forced_open']);
  });
  t.test('a listener that moves half_open on during a lazy acquire: acquire answers for the new state', async (t) => {
    const { b, clock } = setup();
    fail(b, 3);
    b.onTransition((tr) => {
      if (tr.to === 'half_open') b.forceOpen('not today');
    });
    clock.skip(1000);
    t.equal(b.acquire(), REJECTED);
    t.equal(b.state, 'forced_open');
    t.equal(b.halfOpenInFlight, 0);
  });
});

t.test('slow calls', async (t) => {
  t.test('slow-call rate trips a CountWindow breaker; duration at slowCallDuration is slow', async (t) => {
    const clock = new FakeClock();
    const policy = new CountWindow({ size: 4, minimumCalls: 4, failureRateThreshold: 50, slowCallRateThreshold: 75 });
    const b = new Breaker({ policy, openFor: 1000, halfOpenSuccesses: 1, slowCallDuration: 100, clock });
    const reasons: string[] = [];
    b.onTransition((tr) => reasons.push(tr.reason));
    b.success(b.acquire(), 99);
    b.success(b.acquire(), 100);
    b.success(b.acquire(), 250);
    t.equal(b.state, 'closed');
    t.equal(policy.slowCalls, 2, '99 ms is not slow; 100 and 250 are');
    b.success(b.acquire(), 100);
    t.equal(b.state, 'open');
    t.same(reasons, ['slow-call rate 75% ≥ 75% over last 4 calls']);
  });
  t.test('slow failures count as slow', async (t) => {
    const clock = new FakeClock();
    const policy = new CountWindow({ size: 2, minimumCalls: 2, failureRateThreshold: 100, slowCallRateThreshold: 100 });
    const b = new Breaker({ policy, openFor: 1000, halfOpenSuccesses: 1, slowCallDuration: 100, clock });
    b.failure(b.acquire(), 100);
    b.success(b.acquire(), 100);
    t.equal(b.state, 'open');
    t.equal(policy.failedCalls, 1);
    t.equal(policy.slowCalls, 2);
  });
  t.test('default slowCallDuration: nothing is slow', async (t) => {
    const policy = new CountWindow({ size: 2, slowCallRateThreshold: 50 });
    const b = new Breaker({ policy, openFor: 1000, halfOpenSuccesses: 1, clock: new FakeClock() });
    b.success(b.acquire(), Number.MAX_VALUE);
    b.success(b.acquire(), Number.MAX_VALUE);
    t.equal(policy.slowCalls, 0);
    t.equal(b.state, 'closed');
  });
  t.test('a slow trial success still counts as a success in half_open', async (t) => {
    const { b, clock } = setup({ slowCallDuration: 10, halfOpenSuccesses: 1 });
    toHalfOpen(b, clock);
    b.success(b.acquire(), 10_000);
    t.equal(b.state, 'closed');
  });
});

t.test('initialState enters forced_open or disabled without a transition', async (t) => {
  const forced = setup({ initialState: 'forced_open' });
  t.equal(forced.b.state, 'forced_open');
  t.equal(forced.b.acquire(), REJECTED);
  t.equal(forced.transitions.length, 0);
  forced.b.reset();
  t.same(forced.edges(), ['forced_open->closed']);
  const disabled = setup({ initialState: 'disabled' });
  t.equal(disabled.b.state, 'disabled');
  t.ok(disabled.b.acquire() >= 0);
  t.throws(() => setup({ initialState: 'open' as never }), { code: 'ERR_BREAKER_OPTION', option: 'initialState' });
});

t.test('snapshot() for /status', async (t) => {
  const { b, clock } = setup({ halfOpenMaxCalls: 2, halfOpenSuccesses: 3 });
  toHalfOpen(b, clock);
  b.success(b.acquire(), 1);
  b.acquire();
  t.same(b.snapshot(), {
    state: 'half_open',
    since: clock.now(),
    retryAfterMs: 0,
    currentOpenFor: 1000,
    consecutiveReopens: 0,
    halfOpenInFlight: 1,
    halfOpenSucceeded: 1,
    policy: '3 consecutive failures',
    lastTransition: { from: 'open', to: 'half_open', reason: 'open for 1000 ms', at: clock.now() },
  });
});

t.test('option validation', async (t) => {
  const policy = new ConsecutiveFailures(1);
  const base = { policy, openFor: 1000, halfOpenSuccesses: 1 };
  const bad: [string, object][] = [
    ['policy', { ...base, policy: undefined }],
    ['policy', { ...base, policy: {} }],
    ['openFor', { ...base, openFor: -1 }],
    ['openFor', { ...base, openFor: NaN }],
    ['openFor', { ...base, openFor: Infinity }],
    ['openForMultiplier', { ...base, openForMultiplier: 0.5 }],
    ['openForMax', { ...base, openForMultiplier: 2, openForMax: 999 }],
    ['halfOpenMaxCalls', { ...base, halfOpenMaxCalls: 0 }],
    ['halfOpenSuccesses', { ...base, halfOpenSuccesses: 1.5 }],
    ['halfOpenSuccesses', { ...base, halfOpenSuccesses: undefined }],
    ['slowCallDuration', { ...base, slowCallDuration: -5 }],
  ];
  for (const [option, opts] of bad) {
    t.throws(() => new Breaker(opts as BreakerOptions), { code: 'ERR_BREAKER_OPTION', option, name: 'BreakerOptionError' }, option);
  }
  t.doesNotThrow(
    () => new Breaker({ ...base, openForMax: 10 }),
    'openForMax below openFor is fine when nothing grows (multiplier 1)',
  );
  t.doesNotThrow(() => new Breaker({ ...base, openFor: 0, openForMultiplier: 2, openForMax: Infinity }));
  t.match(
    t.throws(() => new Breaker({ ...base, halfOpenMaxCalls: 0 })),
    { message: /"halfOpenMaxCalls" must be an integer >= 1, got 0/ },
  );
});

t.test('openFor 0: half-open as soon as the timer (or the next acquire) runs', async (t) => {
  const { b, clock } = setup({ openFor: 0 });
  fail(b, 3);
  t.equal(b.state, 'open');
  t.ok(b.acquire() >= 0, 'lazily, without waiting for the timer');
  t.equal(b.state, 'half_open');
  clock.advance(0);
  t.equal(b.state, 'half_open');
});
