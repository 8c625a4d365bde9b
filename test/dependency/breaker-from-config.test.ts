// Config → breaker mapping (pure; fake clock).
import t from 'tap';
import { breakerFromConfig } from '../../src/dependency/breaker-from-config.js';
import { breakerSchema } from '../../src/config/schema.js';
import { FakeClock } from '../breaker/fake-clock.js';

t.test('consecutive policy with the seed thresholds', async (t) => {
  const clock = new FakeClock();
  const b = breakerFromConfig(breakerSchema.parse({ failures: 3, openFor: '30s', halfOpenSuccesses: 3 }), clock);
  for (let i = 0; i < 2; i++) b.failure(b.acquire(), 10);
  t.equal(b.state, 'closed');
  b.failure(b.acquire(), 10);
  t.equal(b.state, 'open');
  clock.advance(29_999);
  t.equal(b.acquire(), -1);
  clock.advance(1);
  t.equal(b.state, 'half_open');
});

t.test('rate policy with slow calls', async (t) => {
  const b = breakerFromConfig(
    breakerSchema.parse({ policy: 'rate', window: 10, minimumCalls: 4, failureRate: 90, slowCallRate: 50, slowCall: '1s' }),
    new FakeClock(),
  );
  b.success(b.acquire(), 10);
  b.success(b.acquire(), 10);
  b.success(b.acquire(), 1500);
  t.equal(b.state, 'closed', 'below minimumCalls');
  b.success(b.acquire(), 2000);
  t.equal(b.state, 'open', '2 of 4 slow = 50%');
});

t.test('forced states from the config start without a transition', async (t) => {
  const b = breakerFromConfig(breakerSchema.parse({ state: 'forced_open' }), new FakeClock());
  t.equal(b.state, 'forced_open');
  t.equal(b.acquire(), -1);
  const d = breakerFromConfig(breakerSchema.parse({ state: 'disabled', failures: 1 }), new FakeClock());
  d.failure(d.acquire(), 1);
  t.equal(d.state, 'disabled');
});
