import t from 'tap';
import { ConsecutiveFailures } from '../../src/breaker/consecutive-failures.js';

t.test('opens on the Nth failure in a row', async (t) => {
  const p = new ConsecutiveFailures(3);
  t.equal(p.onFailure(false), false);
  t.equal(p.onFailure(false), false);
  t.equal(p.onFailure(false), true);
  t.equal(p.failures, 3);
  t.equal(p.describe(), '3 consecutive failures');
});

t.test('a success starts the count over', async (t) => {
  const p = new ConsecutiveFailures(2);
  p.onFailure(false);
  t.equal(p.onSuccess(false), false);
  t.equal(p.failures, 0);
  t.equal(p.onFailure(false), false, 'only one failure since the success');
  t.equal(p.onFailure(false), true);
});

t.test('slowness does not matter', async (t) => {
  const p = new ConsecutiveFailures(2);
  t.equal(p.onSuccess(true), false, 'a slow success is a success');
  p.onFailure(true);
  t.equal(p.onSuccess(true), false);
  t.equal(p.failures, 0, 'slow success still resets');
});

t.test('threshold 1 opens on the first failure; describe is singular', async (t) => {
  const p = new ConsecutiveFailures(1);
  t.equal(p.onFailure(false), true);
  t.equal(p.describe(), '1 consecutive failure');
});

t.test('keeps answering true past the threshold', async (t) => {
  const p = new ConsecutiveFailures(1);
  p.onFailure(false);
  t.equal(p.onFailure(false), true);
});

t.test('reset clears the count', async (t) => {
  const p = new ConsecutiveFailures(2);
  p.onFailure(false);
  p.reset();
  t.equal(p.failures, 0);
  t.equal(p.onFailure(false), false);
  t.equal(p.describe(), '1 consecutive failure');
});

t.test('rejects a threshold that is not a positive integer', async (t) => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    t.throws(() => new ConsecutiveFailures(bad), { code: 'ERR_BREAKER_OPTION', option: 'failures' }, String(bad));
  }
});
