import fc from 'fast-check';
import t from 'tap';
import { Breaker, BREAKER_STATES, REJECTED, type BreakerState, type Transition } from '../../src/breaker/breaker.js';
import { ConsecutiveFailures } from '../../src/breaker/consecutive-failures.js';
import { CountWindow } from '../../src/breaker/count-window.js';
import { FakeClock } from './fake-clock.js';

type Op =
  | { k: 'acquire' }
  | { k: 'success' | 'failure'; i: number; d: number }
  | { k: 'ignore'; i: number }
  | { k: 'advance' | 'skip'; ms: number }
  | { k: 'trip' | 'reset' | 'forceOpen' | 'disable' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ k: 'acquire' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('success' as const), i: fc.nat(), d: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('failure' as const), i: fc.nat(), d: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ignore' as const), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('skip' as const), ms: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'trip' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'forceOpen' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'disable' as const }) },
);

const configArb = fc.record({
  rate: fc.boolean(),
  failures: fc.integer({ min: 1, max: 4 }),
  openFor: fc.integer({ min: 0, max: 2000 }),
  openForMultiplier: fc.constantFrom(1, 1.5, 2, 3),
  maxFactor: fc.integer({ min: 1, max: 8 }),
  halfOpenMaxCalls: fc.integer({ min: 1, max: 4 }),
  halfOpenSuccesses: fc.integer({ min: 1, max: 4 }),
  slowCallDuration: fc.constantFrom(50, 200, Infinity),
});

// Only these edges exist; reset/forceOpen/disable may come from anywhere.
function legal(from: BreakerState, to: BreakerState): boolean {
  if (from === to) return false;
  if (to === 'half_open') return from === 'open';
  if (to === 'open') return from === 'closed' || from === 'half_open';
  return true;
}

t.test('invariants hold for any sequence of operations', async (t) => {
  fc.assert(
    fc.property(configArb, fc.array(opArb, { maxLength: 150 }), (cfg, ops) => {
      const clock = new FakeClock();
      const openForMax = cfg.openFor * cfg.maxFactor;
      const b = new Breaker({
        policy: cfg.rate
          ? new CountWindow({ size: 5, minimumCalls: 3, failureRateThreshold: 50, slowCallRateThreshold: 60 })
          : new ConsecutiveFailures(cfg.failures),
        openFor: cfg.openFor,
        openForMultiplier: cfg.openForMultiplier,
        openForMax,
        halfOpenMaxCalls: cfg.halfOpenMaxCalls,
        halfOpenSuccesses: cfg.halfOpenSuccesses,
        slowCallDuration: cfg.slowCallDuration,
        clock,
      });

      // The test's own view, built from listener reports, not from breaker internals.
      const seen: Transition[] = [];
      let period = 0; // bumps on every reported transition
      let openedAt = 0;
      let openedFor = 0;
      let trialWins = 0; // trial successes in the current half-open period
      const outstanding: { token: number; trial: boolean; period: number }[] = [];
      // The breaker swallows listener errors (by design), so violations are collected and checked per step.
      let violation: string | undefined;
      b.onTransition((tr) => {
        const prev = seen.at(-1);
        if (tr.from !== (prev ? prev.to : 'closed')) violation ??= `chain broken: ${prev?.to} then ${tr.from}->${tr.to}`;
        if (!legal(tr.from, tr.to)) violation ??= `illegal edge ${tr.from}->${tr.to}`;
        if (prev && tr.at < prev.at) violation ??= 'time went backwards';
        if (tr.from === 'open' && tr.to === 'half_open' && tr.at - openedAt < openedFor) {
          violation ??= `half-open after ${tr.at - openedAt} ms, open period was ${openedFor}`;
        }
        if (tr.from === 'half_open' && tr.to === 'closed' && tr.reason !== 'test reset' && trialWins < cfg.halfOpenSuccesses) {
          violation ??= `closed after ${trialWins} trial successes`;
        }
        if (tr.to === 'open') {
          openedAt = tr.at;
          openedFor = b.currentOpenFor;
          if (openedFor < cfg.openFor || openedFor > Math.max(cfg.openFor, openForMax)) violation ??= `openFor ${openedFor} out of range`;
        }
        seen.push(tr);
        period++;
        trialWins = 0;
      });

      const take = (i: number) => (outstanding.length ? outstanding.splice(i % outstanding.length, 1)[0] : undefined);

      for (const op of ops) {
        const before = b.state;
        const periodBefore = period;
        switch (op.k) {
          case 'acquire': {
            const token = b.acquire();
            const after = b.state;
            if (before === 'forced_open' && token !== REJECTED) return false;
            if ((before === 'closed' || before === 'disabled') && token < 0) return false;
            if ((after === 'open' || after === 'forced_open') && token !== REJECTED) return false;
            if (token !== REJECTED) outstanding.push({ token, trial: after === 'half_open', period });
            break;
          }
          case 'success':
          case 'failure':
          case 'ignore': {
            const permit = take(op.i);
            if (!permit) break;
            const inFlight = b.halfOpenInFlight;
            const policyBefore = b.snapshot().policy;
            if (permit.trial && permit.period === period && op.k === 'success') trialWins++;
            if (op.k === 'success') b.success(permit.token, op.d);
            else if (op.k === 'failure') b.failure(permit.token, op.d);
            else b.ignore(permit.token);
            if (permit.period !== periodBefore) {
              // Stale: nothing may change.
              if (period !== periodBefore || b.halfOpenInFlight !== inFlight || b.state !== before) return false;
              if (b.snapshot().policy !== policyBefore) return false;
            }
            if (before === 'disabled' && b.state !== 'disabled') return false;
            break;
          }
          case 'advance':
            clock.advance(op.ms);
            break;
          case 'skip':
            clock.skip(op.ms);
            break;
          case 'trip':
            b.trip('test trip');
            if ((before === 'open' || before === 'forced_open' || before === 'disabled') && period !== periodBefore) return false;
            break;
          case 'reset':
            b.reset('test reset');
            break;
          case 'forceOpen':
            b.forceOpen('test force');
            break;
          case 'disable':
            b.disable('test disable');
            break;
        }

        // Invariants after every step.
        if (violation) throw new Error(`${violation} (after ${op.k})`);
        const state = b.state;
        if (!BREAKER_STATES.includes(state)) return false;
        if (state !== (seen.at(-1)?.to ?? 'closed')) return false;
        if (state === 'half_open') {
          const trials = outstanding.filter((p) => p.trial && p.period === period).length;
          if (trials > cfg.halfOpenMaxCalls || trials !== b.halfOpenInFlight) return false;
        } else if (b.halfOpenInFlight !== 0) {
          return false;
        }
        if (state === 'open' && (b.retryAfterMs() < 0 || b.retryAfterMs() > b.currentOpenFor)) return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random operation sequences');
});

t.test('hammering half_open never admits more than halfOpenMaxCalls', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 200 }), (max, callers) => {
      const clock = new FakeClock();
      const b = new Breaker({ policy: new ConsecutiveFailures(1), openFor: 100, halfOpenMaxCalls: max, halfOpenSuccesses: 100, clock });
      b.failure(b.acquire(), 1);
      clock.skip(100); // lazily half-open: the first of the crowd flips the state
      let admitted = 0;
      for (let i = 0; i < callers; i++) if (b.acquire() !== REJECTED) admitted++;
      return admitted === Math.min(max, callers) && b.state === 'half_open';
    }),
  );
  t.pass('bounded');
});
