// bench:http (test/bench/http.bench.ts): added latency at 1,000 req/s, saturation req/s against
// nginx and other proxies, RSS. Targets: its `verdicts` (TARGETS there).
import { type Chart, type Extract, type Scenario, type Table, type Target, div, fromVerdicts, ms, num, quickNote, ratio, signedMs } from '../model.js';

type Pcts = { p50: number; p90: number; p99: number; p999: number | null };
interface SaturationRow {
  target: string;
  what: string;
  best: { reqPerSec: number; latencyMs: { p50: number; p99: number }; serverCpuUsPerReq: number; otherCpuPct: number };
}
/** The fields of http.bench.ts's `Results` read here. */
interface HttpResults {
  settings?: { rate?: number; quick?: boolean };
  targets?: { addedP99Ms: number; vsNginx: number; idleRssMiB: number };
  latency?: { direct: { latencyMs: Pcts }; breakwater: { latencyMs: Pcts }; nginx?: { latencyMs: Pcts }; haproxy?: { latencyMs: Pcts }; addedMs: Pcts; nginxAddedMs?: Pcts; haproxyAddedMs?: Pcts; breakwaterCpuUsPerReq?: number };
  /** the 1 KiB file at the same fixed rate, per target */
  staticLatency?: { byTarget: Record<string, { latencyMs: Pcts }>; addedMs: Record<string, Pcts> };
  saturation?: { static: SaturationRow[]; clickhouse: SaturationRow[] };
  rss?: Record<string, { rssMiB: number; hwmMiB: number }>;
  breaker?: { policy: string; opsPerSec: number }[];
  verdicts?: Record<string, string>;
}

const PCTS = ['p50', 'p90', 'p99', 'p999'] as const;

function extract(json: unknown): Extract {
  const r = json as HttpResults;
  const t = r.targets;
  const rate = r.settings?.rate ?? 1000;
  const tables: Table[] = [];
  const charts: Chart[] = [];

  const l = r.latency;
  if (l) {
    const cols = [['direct', l.direct], ['breakwater', l.breakwater], ...(l.nginx ? [['nginx', l.nginx] as const] : []), ...(l.haproxy ? [['haproxy', l.haproxy] as const] : [])] as const;
    tables.push({
      caption: `Added latency: \`SELECT 1\` at ${num(rate)} req/s open loop (vegeta), merged rounds`,
      header: ['percentile', ...cols.map(([n]) => n), 'breakwater added', ...(l.nginxAddedMs ? ['nginx added'] : []), ...(l.haproxyAddedMs ? ['haproxy added'] : [])],
      rows: PCTS.map((p) => [
        p.replace('p999', 'p99.9'),
        ...cols.map(([, v]) => ms(v.latencyMs[p])),
        signedMs(l.addedMs[p]),
        ...(l.nginxAddedMs ? [signedMs(l.nginxAddedMs[p])] : []),
        ...(l.haproxyAddedMs ? [signedMs(l.haproxyAddedMs[p])] : []),
      ]),
    });
    charts.push({
      kind: 'percentiles',
      file: 'http-latency.png',
      alt: 'bench:http latency percentiles',
      title: `ClickHouse HTTP: SELECT 1 at ${num(rate)} req/s, latency`,
      subtitle: 'open loop (vegeta); lower is better',
      unit: 'ms',
      rows: cols.flatMap(([target, v]) => (['p50', 'p90', 'p99'] as const).map((p) => ({ target, percentile: p, value: v.latencyMs[p] }))),
    });
  }

  const sl = r.staticLatency;
  if (sl) {
    const names = Object.keys(sl.byTarget);
    tables.push({
      caption: `1 KiB file at ${num(rate)} req/s open loop (vegeta), merged rounds; pinned`,
      header: ['percentile', ...names, ...names.filter((n) => sl.addedMs[n]).map((n) => `${n} added`)],
      rows: PCTS.map((p) => [
        p.replace('p999', 'p99.9'),
        ...names.map((n) => ms(sl.byTarget[n]!.latencyMs[p])),
        ...names.filter((n) => sl.addedMs[n]).map((n) => signedMs(sl.addedMs[n]![p])),
      ]),
    });
    charts.push({
      kind: 'percentiles',
      file: 'http-static-latency.png',
      alt: 'bench:http 1 KiB file latency percentiles at a fixed rate',
      title: `1 KiB file at ${num(rate)} req/s, latency`,
      subtitle: 'open loop (vegeta); lower is better',
      unit: 'ms',
      rows: names.flatMap((target) => (['p50', 'p90', 'p99'] as const).map((p) => ({ target, percentile: p, value: sl.byTarget[target]!.latencyMs[p] }))),
    });
  }

  const sat = r.saturation;
  if (sat && (sat.static.length || sat.clickhouse.length)) {
    const groups = [
      ['1 KiB static file', sat.static],
      ['SELECT 1 (ClickHouse)', sat.clickhouse],
    ] as const;
    const rows: string[][] = [];
    for (const [name, list] of groups) {
      const direct = list.find((x) => x.target === 'direct');
      const nginx = list.find((x) => x.target === 'nginx');
      for (const x of list) rows.push([name, x.target, num(x.best.reqPerSec), ratio(div(x.best.reqPerSec, direct?.best.reqPerSec)), ratio(div(x.best.reqPerSec, nginx?.best.reqPerSec)), ms(x.best.latencyMs.p99), num(x.best.serverCpuUsPerReq, 1), x.what]);
    }
    tables.push({
      caption: 'Saturation: `wrk -t1 -c32`, best round; CPU µs/req of the server under test',
      header: ['upstream', 'target', 'req/s', '× direct', '× nginx', 'p99', 'CPU µs/req', 'what'],
      rows,
    });
    // bars against direct; the target (>= x nginx) drawn where it lands in those units
    const nginxStatic = div(sat.static.find((x) => x.target === 'nginx')?.best.reqPerSec, sat.static.find((x) => x.target === 'direct')?.best.reqPerSec);
    charts.push({
      kind: 'bars',
      file: 'http-throughput.png',
      alt: 'bench:http saturation throughput relative to direct',
      title: 'ClickHouse HTTP listener: saturation throughput relative to direct',
      subtitle: t && nginxStatic !== undefined ? `wrk -t1 -c32; black line: the target, breakwater >= ${t.vsNginx}x nginx` : 'wrk -t1 -c32',
      yTitle: 'req/s ÷ direct',
      bars: groups.flatMap(([group, list]) => {
        const direct = list.find((x) => x.target === 'direct')?.best.reqPerSec;
        return list.flatMap((x) => {
          const v = div(x.best.reqPerSec, direct);
          return v === undefined ? [] : [{ group, series: x.target, value: v }];
        });
      }),
      references: t && nginxStatic !== undefined ? [{ group: '1 KiB static file', value: t.vsNginx * nginxStatic }] : [],
    });
  }

  const rss = Object.entries(r.rss ?? {});
  if (rss.length) tables.push({ caption: 'RSS of breakwater', header: ['moment', 'RSS', 'peak (VmHWM)'], rows: rss.map(([k, v]) => [k, `${num(v.rssMiB, 1)} MiB`, `${num(v.hwmMiB, 1)} MiB`]) });
  if (r.breaker?.length) tables.push({ caption: 'Breaker microbenchmark, `acquire()` + `success()` (bench:http step 4)', header: ['trip policy', 'ops/s'], rows: r.breaker.map((b) => [b.policy, num(b.opsPerSec)]) });

  const v = r.verdicts;
  const vsNginx = r.saturation ? div(r.saturation.static.find((x) => x.target === 'breakwater')?.best.reqPerSec, r.saturation.static.find((x) => x.target === 'nginx')?.best.reqPerSec) : undefined;
  const targets: Target[] = [
    fromVerdicts(v, /^added p99/, `added p99 latency, SELECT 1 at ${num(rate)} req/s`, t ? `≤ ${t.addedP99Ms} ms` : '-'),
    fromVerdicts(v, /nginx/, 'saturation req/s, 1 KiB file, breakwater ÷ nginx', t ? `≥ ${t.vsNginx}×` : '-'),
    fromVerdicts(v, /idle RSS/, 'idle RSS', t ? `≤ ${t.idleRssMiB} MB` : '-'),
  ];
  if (t && l && targets[0]!.met !== null) targets[0]!.compare = { kind: 'addedMs', label: 'HTTP', value: l.addedMs.p99, target: t.addedP99Ms };
  if (t && vsNginx !== undefined && targets[1]!.met !== null) targets[1]!.compare = { kind: 'ratio', label: 'HTTP 1 KiB ÷ nginx', value: vsNginx, target: t.vsNginx };

  return { title: 'ClickHouse HTTP data path (`bench:http`)', notes: quickNote(r.settings), tables, charts, targets };
}

export const http: Scenario = { name: 'http', extract };
