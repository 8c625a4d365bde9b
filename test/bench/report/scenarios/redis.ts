// bench:redis (test/bench/redis.bench.ts): redis-benchmark throughput against Redis direct and
// twemproxy, GET latency at a fixed rate. Targets: its `verdicts` (TARGETS there).
import { type Chart, type Extract, type Scenario, type Table, type Target, div, fromVerdicts, ms, num, quickNote, ratio, signedMs } from '../model.js';

type Pcts = { p50: number; p90: number; p99: number; p999: number };
interface ThroughputRow {
  target: string;
  pipeline: number;
  test: 'SET' | 'GET';
  reqPerSec: number;
  serverCpuUsPerReq: number;
  p99Ms: number;
}
/** The fields of redis.bench.ts's `Results` read here. */
interface RedisResults {
  settings?: { quick?: boolean };
  host?: { listener?: string };
  targets?: { p1VsTwemproxy: number; p16VsTwemproxy: number; addedP99Ms: number };
  throughput?: { summary: ThroughputRow[] };
  latency?: { rate: number; byTarget: Record<string, { latencyMs: Pcts; serverCpuUsPerReq: number } | undefined>; addedMs?: Pcts; twemproxyAddedMs?: Pcts };
  verdicts?: Record<string, string>;
}

const TARGET_NAMES = ['direct', 'breakwater', 'twemproxy'];

function extract(json: unknown): Extract {
  const r = json as RedisResults;
  const t = r.targets;
  const tables: Table[] = [];
  const charts: Chart[] = [];
  const summary = r.throughput?.summary ?? [];
  const groups = [...new Set(summary.map((x) => `${x.test} -P ${x.pipeline}`))];
  const row = (g: string, target: string): ThroughputRow | undefined => summary.find((x) => `${x.test} -P ${x.pipeline}` === g && x.target === target);

  if (groups.length) {
    tables.push({
      caption: '`redis-benchmark`, 50 clients, median of the repetitions; CPU µs/req of the server under test',
      header: ['test', 'target', 'req/s', '× direct', '× twemproxy', 'p99', 'CPU µs/req'],
      rows: groups.flatMap((g) =>
        TARGET_NAMES.flatMap((name) => {
          const x = row(g, name);
          return x ? [[g, name, num(x.reqPerSec), ratio(div(x.reqPerSec, row(g, 'direct')?.reqPerSec)), ratio(div(x.reqPerSec, row(g, 'twemproxy')?.reqPerSec)), ms(x.p99Ms), num(x.serverCpuUsPerReq, 1)]] : [];
        }),
      ),
    });
    // bars against direct; each test's target (>= x twemproxy) drawn where it lands in those units
    charts.push({
      kind: 'bars',
      file: 'redis-throughput.png',
      alt: 'bench:redis throughput relative to Redis direct',
      title: 'Redis listener: throughput relative to Redis direct',
      subtitle: t ? `redis-benchmark, 50 clients; black line: the target, breakwater >= ${t.p1VsTwemproxy}x twemproxy at -P 1, >= ${t.p16VsTwemproxy}x at -P 16` : 'redis-benchmark, 50 clients',
      yTitle: 'req/s ÷ direct',
      bars: groups.flatMap((g) =>
        ['breakwater', 'twemproxy'].flatMap((name) => {
          const v = div(row(g, name)?.reqPerSec, row(g, 'direct')?.reqPerSec);
          return v === undefined ? [] : [{ group: g, series: name, value: v }];
        }),
      ),
      references: t
        ? groups.flatMap((g) => {
            const tw = div(row(g, 'twemproxy')?.reqPerSec, row(g, 'direct')?.reqPerSec);
            const want = g.endsWith('-P 1') ? t.p1VsTwemproxy : t.p16VsTwemproxy;
            return tw === undefined ? [] : [{ group: g, value: want * tw }];
          })
        : [],
    });
  }

  const l = r.latency;
  if (l) {
    const present = TARGET_NAMES.filter((n) => l.byTarget[n]);
    tables.push({
      caption: `GET at ${num(l.rate)} ops/s open loop, from the scheduled send time`,
      header: ['percentile', ...present, 'breakwater added', 'twemproxy added'],
      rows: (['p50', 'p90', 'p99', 'p999'] as const).map((p) => [p.replace('p999', 'p99.9'), ...present.map((n) => ms(l.byTarget[n]!.latencyMs[p])), signedMs(l.addedMs?.[p]), signedMs(l.twemproxyAddedMs?.[p])]),
    });
    charts.push({
      kind: 'percentiles',
      file: 'redis-latency.png',
      alt: 'bench:redis latency percentiles',
      title: `Redis listener: GET at ${num(l.rate)} ops/s, latency`,
      subtitle: 'open loop, from the scheduled send time; lower is better',
      unit: 'ms',
      rows: present.flatMap((target) => (['p50', 'p90', 'p99'] as const).map((p) => ({ target, percentile: p, value: l.byTarget[target]!.latencyMs[p] }))),
    });
  }

  const v = r.verdicts;
  const targets: Target[] = [];
  // every test the bench judges, measured in this run or not (--only p1 leaves -P 16 out)
  for (const g of ['GET -P 1', 'SET -P 1', 'GET -P 16', 'SET -P 16']) {
    const want = g.endsWith('-P 1') ? t?.p1VsTwemproxy : t?.p16VsTwemproxy;
    const target = fromVerdicts(v, new RegExp(`^${g}: breakwater >=`), `${g}, breakwater ÷ twemproxy req/s`, want !== undefined ? `≥ ${want}×` : '-');
    const value = div(row(g, 'breakwater')?.reqPerSec, row(g, 'twemproxy')?.reqPerSec);
    if (want !== undefined && value !== undefined && target.met !== null) target.compare = { kind: 'ratio', label: `Redis ${g} ÷ twemproxy`, value, target: want };
    targets.push(target);
  }
  const added = fromVerdicts(v, /^added p99/, `added p99 latency, GET at ${num(l?.rate ?? 5000)} ops/s`, t ? `≤ ${t.addedP99Ms} ms` : '-');
  if (t && l?.addedMs && added.met !== null) added.compare = { kind: 'addedMs', label: 'Redis', value: l.addedMs.p99, target: t.addedP99Ms };
  targets.push(added);

  const notes = [...quickNote(r.settings), ...(r.host?.listener ? [`Listener in this build: ${r.host.listener}.`] : [])];
  return { title: 'Redis data path (`bench:redis`)', notes, tables, charts, targets };
}

export const redis: Scenario = { name: 'redis', extract };
