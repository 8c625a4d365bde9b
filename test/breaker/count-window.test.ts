import fc from 'fast-check';
import t from 'tap';
import { CountWindow } from '../../src/breaker/count-window.js';

t.test('no verdict before minimumCalls, then trips at the failure-rate threshold (≥)', async (t) => {
  const w = new CountWindow({ size: 10, minimumCalls: 4, failureRateThreshold: 50 });
  t.equal(w.onFailure(false), false);
  t.equal(w.onFailure(false), false);
  t.equal(w.onFailure(false), false, '100% failed, but only 3 of 4 minimum calls');
  t.match(w.describe(), /no verdict before 4/);
  t.equal(w.onSuccess(false), true, '3/4 = 75% ≥ 50%');
});

t.test('exactly at the threshold trips; just below does not', async (t) => {
  const w = new CountWindow({ size: 10, minimumCalls: 10, failureRateThreshold: 60 });
  for (let i = 0; i < 4; i++) w.onSuccess(false);
  for (let i = 0; i < 5; i++) t.equal(w.onFailure(false), false);
  t.equal(w.onFailure(false), true, '6/10 = 60%');
  t.equal(w.describe(), 'failure rate 60% ≥ 60% over last 10 calls');

  const below = new CountWindow({ size: 10, minimumCalls: 10, failureRateThreshold: 60 });
  for (let i = 0; i < 5; i++) below.onSuccess(false);
  for (let i = 0; i < 4; i++) below.onFailure(false);
  t.equal(below.onFailure(false), false, '5/10 = 50% < 60%');
  t.equal(below.describe(), 'failure rate 50%, slow-call rate 0% over last 10 calls');
});

t.test('the window slides: old outcomes fall out', async (t) => {
  const w = new CountWindow({ size: 4, minimumCalls: 4, failureRateThreshold: 75 });
  w.onFailure(false);
  w.onFailure(false);
  w.onSuccess(false);
  t.equal(w.onSuccess(false), false, '2/4');
  t.equal(w.onSuccess(false), false, 'first failure out: 1/4');
  t.equal(w.failedCalls, 1);
  t.equal(w.recordedCalls, 4);
  t.equal(w.onFailure(false), false, 'second failure out, one in: 1/4');
  t.equal(w.onFailure(false), false, '2/4');
  t.equal(w.onFailure(false), true, '3/4 = 75%');
});

t.test('the brief example: 6 of 10 failed against 50%', async (t) => {
  const w = new CountWindow({ size: 10, minimumCalls: 10, failureRateThreshold: 50 });
  let opened = false;
  for (let i = 0; i < 4; i++) opened = w.onSuccess(false);
  for (let i = 0; i < 6; i++) opened = w.onFailure(false);
  t.equal(opened, true);
  t.equal(w.describe(), 'failure rate 60% ≥ 50% over last 10 calls');
});

t.test('slow-call rate trips on slow successes alone', async (t) => {
  const w = new CountWindow({ size: 5, minimumCalls: 5, failureRateThreshold: 50, slowCallRateThreshold: 80 });
  for (let i = 0; i < 4; i++) t.equal(w.onSuccess(true), false);
  t.equal(w.onSuccess(false), true, '4/5 = 80% slow');
  t.equal(w.slowCalls, 4);
  t.equal(w.failedCalls, 0);
  t.equal(w.describe(), 'slow-call rate 80% ≥ 80% over last 5 calls');
});

t.test('a slow failure counts as both failed and slow', async (t) => {
  const w = new CountWindow({ size: 4, minimumCalls: 4, failureRateThreshold: 100, slowCallRateThreshold: 50 });
  w.onFailure(true);
  w.onSuccess(false);
  w.onSuccess(false);
  t.equal(w.failedCalls, 1);
  t.equal(w.slowCalls, 1);
  t.equal(w.onFailure(true), true, '2/4 slow = 50%');
  t.match(w.describe(), /^slow-call rate 50% ≥ 50%/);
});

t.test('defaults follow resilience4j: minimumCalls = size, 50% failures, 100% slow', async (t) => {
  const w = new CountWindow({ size: 4 });
  t.equal(w.minimumCalls, 4);
  t.equal(w.failureRateThreshold, 50);
  t.equal(w.slowCallRateThreshold, 100);
  w.onSuccess(true);
  w.onSuccess(true);
  t.equal(w.onSuccess(true), false, 'three of the minimum four');
  t.equal(w.onSuccess(true), true, 'all four slow');
});

t.test('minimumCalls above size is clamped to size (resilience4j)', async (t) => {
  const w = new CountWindow({ size: 2, minimumCalls: 100 });
  t.equal(w.minimumCalls, 2);
  w.onFailure(false);
  t.equal(w.onFailure(false), true);
});

t.test('reset clears the window', async (t) => {
  const w = new CountWindow({ size: 3, minimumCalls: 3, failureRateThreshold: 100 });
  w.onFailure(false);
  w.onFailure(false);
  w.reset();
  t.equal(w.recordedCalls, 0);
  t.equal(w.describe(), 'no calls recorded (window of 3)');
  t.equal(w.onFailure(false), false, 'only one call since reset');
  t.equal(w.onFailure(false), false);
  t.equal(w.onFailure(false), true);
});

t.test('describe: singular and fractional rates', async (t) => {
  const w = new CountWindow({ size: 3, minimumCalls: 3, failureRateThreshold: 100 });
  w.onFailure(false);
  t.equal(w.describe(), 'failure rate 100%, slow-call rate 0% over last 1 call (no verdict before 3)');
  w.onSuccess(false);
  w.onSuccess(true);
  t.equal(w.describe(), 'failure rate 33.3%, slow-call rate 33.3% over last 3 calls');
});

t.test('rejects invalid options', async (t) => {
  const bad: [string, object][] = [
    ['size', { size: 0 }],
    ['size', { size: 2.5 }],
    ['minimumCalls', { size: 5, minimumCalls: 0 }],
    ['failureRateThreshold', { size: 5, failureRateThreshold: 0 }],
    ['failureRateThreshold', { size: 5, failureRateThreshold: 101 }],
    ['failureRateThreshold', { size: 5, failureRateThreshold: NaN }],
    ['slowCallRateThreshold', { size: 5, slowCallRateThreshold: -1 }],
  ];
  for (const [option, opts] of bad) {
    t.throws(() => new CountWindow(opts as never), { code: 'ERR_BREAKER_OPTION', option }, JSON.stringify(opts));
  }
});

t.test('property: agrees with a naive last-N model', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 25 }),
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 1, max: 100 }),
      fc.array(fc.record({ failed: fc.boolean(), slow: fc.boolean(), reset: fc.boolean() }), { maxLength: 200 }),
      (size, minimumCalls, failureRateThreshold, slowCallRateThreshold, calls) => {
        const w = new CountWindow({ size, minimumCalls, failureRateThreshold, slowCallRateThreshold });
        let model: { failed: boolean; slow: boolean }[] = [];
        for (const c of calls) {
          if (c.reset && c.failed && c.slow) {
            // Roughly 1 in 8 steps is a reset instead of a call.
            w.reset();
            model = [];
            continue;
          }
          const open = c.failed ? w.onFailure(c.slow) : w.onSuccess(c.slow);
          model.push(c);
          if (model.length > size) model.shift();
          const n = model.length;
          const failRate = (100 * model.filter((m) => m.failed).length) / n;
          const slowRate = (100 * model.filter((m) => m.slow).length) / n;
          const expected =
            n >= Math.min(minimumCalls, size) && (failRate >= failureRateThreshold || slowRate >= slowCallRateThreshold);
          if (open !== expected) return false;
          if (w.recordedCalls !== n) return false;
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 random runs agree');
});
