// bench:neo4j (test/bench/neo4j.bench.ts): Bolt read-query throughput with neo4j-driver and with
// the lean client against Neo4j direct, HAProxy (mode tcp) and a Node pipe; latency at 200 q/s.
// Targets: its `verdicts` (TARGETS there; the lean client is the measure of the throughput target).
import { type Chart, type Extract, type Scenario, type Table, type Target, div, fromVerdicts, ms, num, quickNote, ratio, signedMs } from '../model.js';

type Pcts = { p50: number; p90: number; p99: number; p999: number };
interface ThroughputRow {
  target: string;
  qps: number;
  bwCpuUsPerQuery: number;
}
/** The fields of neo4j.bench.ts's `Results` read here. */
interface Neo4jResults {
  settings?: { quick?: boolean; concurrency?: number; only?: string[] };
  targets?: { throughputVsDirect: number; addedP99Ms: number };
  throughput?: { summary: ThroughputRow[] };
  throughputLean?: { summary: ThroughputRow[] };
  latency?: { rate: number; byTarget: Record<string, { latencyMs: Pcts; bwCpuUsPerQuery: number | null } | undefined>; addedMs?: Pcts };
  verdicts?: Record<string, string>;
}

function extract(json: unknown): Extract {
  const r = json as Neo4jResults;
  const t = r.targets;
  const tables: Table[] = [];
  const charts: Chart[] = [];
  const sections = [
    ['neo4j-driver', r.throughput?.summary ?? []],
    ['lean client', r.throughputLean?.summary ?? []],
  ] as const;

  if (sections.some(([, rows]) => rows.length)) {
    tables.push({
      caption: `\`MATCH (u:User {id: $id}) RETURN u.name\`, ${r.settings?.concurrency ?? 16} in flight, closed loop, median of the repetitions; proxy CPU µs/query`,
      header: ['client', 'target', 'queries/s', '× direct', 'proxy CPU µs/query'],
      rows: sections.flatMap(([client, rows]) => {
        const direct = rows.find((x) => x.target === 'direct')?.qps;
        return rows.map((x) => [client, x.target, num(x.qps), ratio(div(x.qps, direct)), x.target === 'direct' ? '' : num(x.bwCpuUsPerQuery)]);
      }),
    });
    charts.push({
      kind: 'bars',
      file: 'neo4j-throughput.png',
      alt: 'bench:neo4j throughput relative to Neo4j direct',
      title: 'Bolt listener: throughput relative to Neo4j direct',
      subtitle: t ? `black line: the target, breakwater >= ${t.throughputVsDirect}x direct (measured with the lean client)` : undefined,
      yTitle: 'queries/s ÷ direct',
      bars: sections.flatMap(([client, rows]) => {
        const direct = rows.find((x) => x.target === 'direct')?.qps;
        return rows.flatMap((x) => {
          const v = div(x.qps, direct);
          return x.target === 'direct' || v === undefined ? [] : [{ group: client, series: x.target, value: v }];
        });
      }),
      references: t ? sections.filter(([, rows]) => rows.length).map(([client]) => ({ group: client, value: t.throughputVsDirect })) : [],
    });
  }

  const l = r.latency;
  if (l) {
    const present = ['direct', 'breakwater'].filter((n) => l.byTarget[n]);
    tables.push({
      caption: `${num(l.rate)} queries/s open loop (neo4j-driver), from the scheduled start`,
      header: ['percentile', ...present, 'breakwater added'],
      rows: (['p50', 'p90', 'p99', 'p999'] as const).map((p) => [p.replace('p999', 'p99.9'), ...present.map((n) => ms(l.byTarget[n]!.latencyMs[p])), signedMs(l.addedMs?.[p])]),
    });
    charts.push({
      kind: 'percentiles',
      file: 'neo4j-latency.png',
      alt: 'bench:neo4j latency percentiles',
      title: `Bolt listener: ${num(l.rate)} queries/s, latency`,
      subtitle: 'open loop, neo4j-driver, from the scheduled start; lower is better',
      unit: 'ms',
      rows: present.flatMap((target) => (['p50', 'p90', 'p99'] as const).map((p) => ({ target, percentile: p, value: l.byTarget[target]!.latencyMs[p] }))),
    });
  }

  const v = r.verdicts;
  const want = t ? `≥ ${t.throughputVsDirect}×` : '-';
  const targets: Target[] = [
    fromVerdicts(v, /^throughput with the lean client/, 'throughput with the lean client, breakwater ÷ direct', want),
    fromVerdicts(v, /^throughput with neo4j-driver/, 'throughput with neo4j-driver, breakwater ÷ direct', want),
    fromVerdicts(v, /^added p99/, `added p99 latency at ${num(l?.rate ?? 200)} queries/s`, t ? `≤ ${t.addedP99Ms} ms` : '-'),
  ];
  sections.forEach(([client, rows], i) => {
    const value = div(rows.find((x) => x.target === 'breakwater')?.qps, rows.find((x) => x.target === 'direct')?.qps);
    const target = targets[i === 0 ? 1 : 0]!;
    if (t && value !== undefined && target.met !== null) target.compare = { kind: 'ratio', label: `Neo4j, ${client}`, value, target: t.throughputVsDirect };
  });
  if (t && l?.addedMs && targets[2]!.met !== null) targets[2]!.compare = { kind: 'addedMs', label: 'Neo4j', value: l.addedMs.p99, target: t.addedP99Ms };

  const only = r.settings?.only;
  const notes = [...quickNote(r.settings), ...(only && only.length < 2 ? [`Only \`${only.join(',')}\` was run (\`--only\`): the other sections are not in this file.`] : [])];
  return { title: 'Neo4j Bolt data path (`bench:neo4j`)', notes, tables, charts, targets };
}

export const neo4j: Scenario = { name: 'neo4j', extract };
