// The resilience scenario (test/bench/resilience.bench.ts): ClickHouse hangs (SIGSTOP) under a
// steady request rate, once behind each target (direct, nginx, breakwater); what the application
// sees second by second, and how fast answers are fresh again after SIGCONT.
// Its results carry no targets of their own; a `verdicts` map (as bench:http/redis/neo4j keep)
// is reported when present.
import { type Chart, type Extract, type Scenario, type Target, ms, num, parseVerdict, pct } from '../model.js';

interface Second {
  t: number;
  requests: number;
  withinShare: number;
  okShare: number;
  fallbackShare: number;
  p50Ms: number;
  p99Ms: number;
  upstreamRequests: number;
}
/** The results of resilience.bench.ts (its `ResilienceResults`). */
interface ResilienceResults {
  settings?: { rate: number; hangSec: number; beforeSec: number; afterSec: number; answeredWithinMs: number; clientTimeoutMs: number };
  targets?: {
    target: string;
    what: string;
    hang: { startSec: number; endSec: number };
    timeline: Second[];
    /** the seconds before the hang (added by the bench after the brief's shape: optional) */
    steady?: { p50Ms: number; p99Ms: number };
    duringHang: { requests: number; withinShare: number; okShare: number; fallbackShare?: number; p99Ms: number; upstreamRequests: number; upstreamQueries?: number; upstreamHealthChecks?: number };
    recoverySec: number | null;
    statusCodes: Record<string, number>;
    errors?: string[];
    rssMiB?: { idle: number; peak: number };
  }[];
  verdicts?: Record<string, string>;
}

function extract(json: unknown): Extract {
  const r = json as ResilienceResults;
  const s = r.settings;
  const list = r.targets ?? [];
  const within = s ? `${s.answeredWithinMs} ms` : 'the limit';

  // one band per distinct hang window; named by target only when the targets' windows differ
  const windows = new Map<string, { start: number; end: number; targets: string[] }>();
  for (const x of list) {
    // windows within half a second of each other are the same hang as drawn (one band, one label)
    const key = `${Math.round(x.hang.startSec * 2) / 2}-${Math.round(x.hang.endSec * 2) / 2}`;
    const w = windows.get(key) ?? { start: x.hang.startSec, end: x.hang.endSec, targets: [] };
    w.targets.push(x.target);
    windows.set(key, w);
  }
  const bands = [...windows.values()].map((w) => ({ start: w.start, end: w.end, label: windows.size > 1 ? `hang (${w.targets.join(', ')})` : 'ClickHouse hung (SIGSTOP)' }));

  const charts: Chart[] = list.length
    ? [
        {
          kind: 'timeline',
          file: 'resilience-within.png',
          alt: `share of requests answered 2xx within ${within}, per second`,
          title: `ClickHouse hangs: share of requests answered 2xx within ${within}`,
          subtitle: s ? `${num(s.rate)} req/s; shaded: ClickHouse stopped for ${s.hangSec} s; higher is better` : undefined,
          yTitle: `2xx within ${within}`,
          share: true,
          points: list.flatMap((x) => x.timeline.map((p) => ({ t: p.t, series: x.target, value: p.requests > 0 ? p.withinShare : null }))),
          bands,
        },
        {
          kind: 'timeline',
          file: 'resilience-p99.png',
          alt: 'p99 latency per second, log scale',
          title: 'ClickHouse hangs: p99 latency per second (log scale)',
          subtitle: s ? `${num(s.rate)} req/s; the client gives up after ${num(s.clientTimeoutMs)} ms; lower is better` : undefined,
          yTitle: 'p99 latency (ms, log scale)',
          logY: true,
          points: list.flatMap((x) => x.timeline.map((p) => ({ t: p.t, series: x.target, value: p.requests > 0 ? p.p99Ms : null }))),
          bands,
        },
      ]
    : [];

  const tables = list.length
    ? [
        {
          caption: `During the hang (${s ? `${s.hangSec} s at ${num(s.rate)} req/s` : '?'}), and the recovery after SIGCONT`,
          header: ['target', 'p99 before', `2xx within ${within}`, '2xx', 'not fresh (cached, stale, empty)', 'p99', 'requests', 'reached ClickHouse', 'recovery after SIGCONT', 'status codes (whole run)'],
          rows: list.map((x) => [
            x.target,
            ms(x.steady?.p99Ms, 1),
            pct(x.duringHang.withinShare),
            pct(x.duringHang.okShare),
            pct(x.duringHang.fallbackShare),
            ms(x.duringHang.p99Ms, 1),
            num(x.duringHang.requests),
            num(x.duringHang.upstreamRequests) +
              (x.duringHang.upstreamHealthChecks ? ` (${num(x.duringHang.upstreamQueries)} queries, ${num(x.duringHang.upstreamHealthChecks)} health checks)` : ''),
            x.recoverySec === null ? 'not within the run' : `${num(x.recoverySec, 1)} s`,
            Object.entries(x.statusCodes)
              .map(([code, n]) => `${code}: ${num(n)}`)
              .join(', '),
          ]),
        },
        {
          caption: 'How each target is configured',
          header: ['target', 'configuration', 'RSS idle / peak', 'most frequent client errors'],
          rows: list.map((x) => [x.target, x.what, x.rssMiB ? `${num(x.rssMiB.idle, 1)} / ${num(x.rssMiB.peak, 1)} MiB` : '-', (x.errors ?? []).slice(0, 2).join('; ') || '-']),
        },
      ]
    : [];

  const targets: Target[] = Object.entries(r.verdicts ?? {}).map(([k, v]) => ({ what: k, target: 'as stated', ...parseVerdict(v) }));
  const notes = s
    ? [
        `${num(s.rate)} req/s for ${s.beforeSec} s, then ClickHouse stopped (SIGSTOP) for ${s.hangSec} s, then ${s.afterSec} s after SIGCONT, once per target; the client times out after ${num(s.clientTimeoutMs)} ms.`,
      ]
    : [];
  if (!r.verdicts) notes.push('resilience-latest.json states no targets (no `verdicts`): the figures are reported, not judged.');
  return { title: 'A hung ClickHouse (`resilience`)', notes, tables, charts, targets };
}

export const resilience: Scenario = { name: 'resilience', extract };
