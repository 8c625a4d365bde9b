import t from 'tap';
import { systemClock } from '../../src/breaker/clock.js';

t.test('now() is wall-clock milliseconds', async (t) => {
  const before = Date.now();
  const now = systemClock.now();
  t.ok(now >= before && now <= Date.now());
});

t.test('setTimer fires, and does not keep the process alive', async (t) => {
  // The breaker's timer is unref()'d, so this test holds the event loop open itself.
  const keepAlive = setTimeout(() => {}, 1000);
  let handle: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    handle = systemClock.setTimer(resolve, 5) as NodeJS.Timeout;
  });
  clearTimeout(keepAlive);
  t.equal(handle!.hasRef(), false, 'unref()d');
});

t.test('clearTimer cancels', async (t) => {
  let fired = false;
  const handle = systemClock.setTimer(() => (fired = true), 1);
  systemClock.clearTimer(handle);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(fired, false);
});

t.test('delays past setTimeout range are clamped, not turned into 1 ms', async (t) => {
  let fired = false;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const handle = systemClock.setTimer(() => (fired = true), 2 ** 40);
  const negative = systemClock.setTimer(() => {}, -5);
  await new Promise((r) => setTimeout(r, 30));
  systemClock.clearTimer(handle);
  systemClock.clearTimer(negative);
  process.off('warning', onWarning);
  t.equal(fired, false);
  t.notOk(warnings.includes('TimeoutOverflowWarning'));
});
