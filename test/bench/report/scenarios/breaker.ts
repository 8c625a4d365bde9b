// The breaker microbenchmark (test/bench/breaker.bench.ts), when a breaker-latest.json exists:
// the bench prints one JSON line per trip policy, which `npm run bench` (all.bench.ts) keeps as
// { rows: [...] }; an array of them, or { breaker: [...] } as bench:http keeps them, is read too.
// It states no target.
import { type Extract, type Scenario, num } from '../model.js';

interface Run {
  policy: string;
  opsPerSec: number;
}

function extract(json: unknown): Extract {
  const o = json as { rows?: Run[]; breaker?: Run[] };
  const runs = (Array.isArray(json) ? (json as Run[]) : (o.rows ?? o.breaker ?? [])).filter((r) => typeof r.opsPerSec === 'number');
  return {
    title: 'Breaker hot path (`bench:breaker`)',
    notes: [],
    tables: runs.length ? [{ caption: '`acquire()` + `success()` in closed state', header: ['trip policy', 'ops/s'], rows: runs.map((r) => [r.policy, num(r.opsPerSec)]) }] : [],
    charts: [],
    targets: [],
  };
}

export const breaker: Scenario = { name: 'breaker', optional: true, extract };
