import t from 'tap';
import { FakeClock } from './fake-clock.js';

t.test('advance fires due timers in due order, ties in the order set, at their due time', async (t) => {
  const clock = new FakeClock(0);
  const fired: string[] = [];
  const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
  clock.setTimer(at('c'), 30);
  clock.setTimer(at('a'), 10);
  clock.setTimer(at('b1'), 20);
  clock.setTimer(at('b2'), 20);
  const cancelled = clock.setTimer(at('x'), 15);
  clock.clearTimer(cancelled);
  clock.setTimer(at('late'), 100);
  clock.advance(30);
  t.same(fired, ['a@10', 'b1@20', 'b2@20', 'c@30']);
  t.equal(clock.now(), 30);
  t.equal(clock.pending, 1);
});

t.test('timers set by timers fire within the same advance', async (t) => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  clock.setTimer(() => {
    fired.push(clock.now());
    clock.setTimer(() => fired.push(clock.now()), 5);
  }, 10);
  clock.advance(20);
  t.same(fired, [10, 15]);
});

t.test('skip moves time without firing; the next advance fires overdue timers at the current time', async (t) => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  clock.setTimer(() => fired.push(clock.now()), 10);
  clock.setTimer(() => fired.push(clock.now()), -1);
  clock.skip(50);
  t.same(fired, []);
  clock.advance(0);
  t.same(fired, [50, 50]);
});
