// bench:cache (test/bench/cache.bench.ts): the ClickHouse happy path with and without reads stored
// for the `cache` fallback. Target: settings.maxLoss, judged in its `verdict`.
import { type Extract, type Scenario, div, ms, num, parseVerdict, pct, quickNote } from '../model.js';

interface Summary {
  target: string;
  medianReqPerSec: number;
  medianBwCpuUsPerReq: number;
  medianP99Ms: number;
  medianStoresPerReq: number;
}
/** The fields of cache.bench.ts's results read here. */
interface CacheResults {
  settings?: { quick?: boolean; rounds?: number; maxLoss?: number };
  summary?: Summary[];
  verdict?: string;
}

function extract(json: unknown): Extract {
  const r = json as CacheResults;
  const list = r.summary ?? [];
  const share = div(list.find((s) => s.target === 'cache')?.medianReqPerSec, list.find((s) => s.target === 'no cache')?.medianReqPerSec);
  const maxLoss = r.settings?.maxLoss;
  return {
    title: 'Response cache on the happy path (`bench:cache`)',
    notes: quickNote(r.settings),
    tables: list.length
      ? [
          {
            caption: `\`wrk -t1 -c32\`, medians of ${r.settings?.rounds ?? '?'} interleaved rounds`,
            header: ['sidecar', 'req/s', 'p99', 'breakwater CPU µs/req', 'stores per request'],
            rows: list.map((s) => [s.target, num(s.medianReqPerSec), ms(s.medianP99Ms), num(s.medianBwCpuUsPerReq, 1), num(s.medianStoresPerReq, 3)]),
          },
        ]
      : [],
    charts: [],
    targets: [
      {
        what: 'req/s with reads stored ÷ without',
        target: maxLoss !== undefined ? `≥ ${pct(1 - maxLoss, 0)}` : '-',
        measured: share !== undefined ? pct(share) + (r.verdict?.includes('UNRELIABLE') ? '; UNRELIABLE: other work during some runs' : '') : '-',
        met: r.verdict ? parseVerdict(r.verdict).met : null,
      },
    ],
  };
}

export const cache: Scenario = { name: 'cache', optional: true, extract };
