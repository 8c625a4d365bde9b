// Hot-path microbenchmark: acquire() + success() in closed state.
// Build, then run: node dist/test/bench/breaker.bench.js [seconds per case, default 2]
import { Breaker } from '../../src/breaker/breaker.js';
import { ConsecutiveFailures } from '../../src/breaker/consecutive-failures.js';
import { CountWindow } from '../../src/breaker/count-window.js';
import type { TripPolicy } from '../../src/breaker/policy.js';

const seconds = Number(process.argv[2] ?? 2);
const BATCH = 1 << 20; // read the clock once per batch, not per op

function run(policyName: string, policy: TripPolicy): void {
  // slowCallDuration is set so the slow comparison is on the measured path.
  const breaker = new Breaker({ policy, openFor: 30_000, halfOpenSuccesses: 3, slowCallDuration: 1000 });
  let sink = 0;
  const loop = (): void => {
    for (let i = 0; i < BATCH; i++) {
      const token = breaker.acquire();
      sink += token;
      breaker.success(token, i & 1023); // varying durations, ~2% of them slow
    }
  };

  // Warm up so the JIT has optimized the loop before we measure.
  for (const end = performance.now() + 300; performance.now() < end; ) loop();

  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    loop();
    ops += BATCH;
    now = performance.now();
  }
  if (breaker.state !== 'closed') throw new Error(`breaker left closed: ${breaker.state}`);
  const opsPerSec = Math.round(ops / ((now - start) / 1000));
  console.log(JSON.stringify({ bench: 'breaker.acquire+success', policy: policyName, opsPerSec, ops, ms: Math.round(now - start), sink: sink & 1 }));
}

run('consecutive', new ConsecutiveFailures(5));
run('count-window', new CountWindow({ size: 100, minimumCalls: 10, failureRateThreshold: 50, slowCallRateThreshold: 100 }));
