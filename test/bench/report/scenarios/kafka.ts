// bench:kafka (test/bench/kafka.bench.ts): kafkajs produce and consume throughput direct vs
// through breakwater, produce latency at a fixed rate. Targets: `targets` and the `met` flags of
// its `summary`.
import { type Chart, type Extract, type Scenario, type Table, type Target, ms, num, ratio, signedMs } from '../model.js';

interface Throughput {
  size: number;
  directMsgPerSec: number;
  bwMsgPerSec: number;
  ratio: number;
  bwUsPerMsg: number;
  met: boolean;
}
/** The fields of kafka.bench.ts's `Results` read here. */
interface KafkaResults {
  settings?: { rounds?: number; rate?: number; sizes?: number[] };
  targets?: { produceRatio: number; consumeRatio: number; addedP99Ms: number };
  latencySummary?: { path: string; p50: number; p90: number; p99: number; p999: number }[];
  summary?: {
    produce: Throughput[];
    consume: Throughput[];
    latency?: { addedP50: number; addedP99: number; addedP999: number; bwUsPerSend: number; met: boolean };
  };
}

const size = (b: number): string => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

function extract(json: unknown): Extract {
  const r = json as KafkaResults;
  const t = r.targets;
  const s = r.summary ?? { produce: [], consume: [] };
  const tables: Table[] = [];
  const charts: Chart[] = [];
  const rows = [...s.produce.map((x) => ['produce', x] as const), ...s.consume.map((x) => ['consume', x] as const)];

  if (rows.length) {
    tables.push({
      caption: `kafkajs, medians over ${r.settings?.rounds ?? '?'} rounds (produce: acks=-1, 8 loops × 100 msgs/send; consume: a fresh group from the beginning)`,
      header: ['test', 'direct msg/s', 'breakwater msg/s', 'breakwater ÷ direct', 'breakwater CPU µs/msg'],
      rows: rows.map(([kind, x]) => [`${kind} ${size(x.size)}`, num(x.directMsgPerSec), num(x.bwMsgPerSec), ratio(x.ratio), num(x.bwUsPerMsg, 2)]),
    });
    charts.push({
      kind: 'bars',
      file: 'kafka-throughput.png',
      alt: 'bench:kafka throughput, breakwater relative to direct',
      title: 'Kafka listener: throughput relative to Kafka direct',
      subtitle: t ? `kafkajs; black line: the target, >= ${t.produceRatio}x direct` : 'kafkajs',
      yTitle: 'msg/s ÷ direct',
      bars: rows.map(([kind, x]) => ({ group: `${kind} ${size(x.size)}`, series: 'breakwater', value: x.ratio })),
      references: t ? rows.map(([kind, x]) => ({ group: `${kind} ${size(x.size)}`, value: kind === 'produce' ? t.produceRatio : t.consumeRatio })) : [],
    });
  }

  const lat = r.latencySummary ?? [];
  if (lat.length) {
    const sl = s.latency;
    tables.push({
      caption: `Produce latency: one 100 B message per send at ${num(r.settings?.rate ?? 500)} sends/s open loop, acks=-1, from the scheduled send time`,
      header: ['path', 'p50', 'p90', 'p99', 'p99.9'],
      rows: [
        ...lat.map((x) => [x.path, ms(x.p50), ms(x.p90), ms(x.p99), ms(x.p999)]),
        ...(sl ? [['breakwater added', signedMs(sl.addedP50), '', signedMs(sl.addedP99), signedMs(sl.addedP999)]] : []),
      ],
    });
    charts.push({
      kind: 'percentiles',
      file: 'kafka-latency.png',
      alt: 'bench:kafka produce latency percentiles',
      title: `Kafka listener: produce at ${num(r.settings?.rate ?? 500)} sends/s, latency`,
      subtitle: 'open loop, acks=-1, from the scheduled send time; lower is better',
      unit: 'ms',
      rows: lat.flatMap((x) => (['p50', 'p90', 'p99'] as const).map((p) => ({ target: x.path, percentile: p, value: x[p] }))),
    });
  }

  const targets: Target[] = [];
  for (const kind of ['produce', 'consume'] as const) {
    const want = kind === 'produce' ? t?.produceRatio : t?.consumeRatio;
    const list = s[kind];
    for (const sz of list.length ? list.map((x) => x.size) : (r.settings?.sizes ?? [100, 1024])) {
      const x = list.find((y) => y.size === sz);
      const target: Target = { what: `${kind} ${size(sz)}, breakwater ÷ direct msg/s`, target: want !== undefined ? `≥ ${want}×` : '-', measured: x ? ratio(x.ratio, 3) : '-', met: x ? x.met : null };
      if (x && want !== undefined) target.compare = { kind: 'ratio', label: `Kafka ${kind} ${size(sz)}`, value: x.ratio, target: want };
      targets.push(target);
    }
  }
  const sl = s.latency;
  targets.push({
    what: `added p99 produce latency at ${num(r.settings?.rate ?? 500)} sends/s`,
    target: t ? `≤ ${t.addedP99Ms} ms` : '-',
    measured: sl ? `${num(sl.addedP99, 3)} ms` : '-',
    met: sl ? sl.met : null,
    ...(sl && t ? { compare: { kind: 'addedMs' as const, label: 'Kafka', value: sl.addedP99, target: t.addedP99Ms } } : {}),
  });

  return { title: 'Kafka data path (`bench:kafka`)', notes: [], tables, charts, targets };
}

export const kafka: Scenario = { name: 'kafka', extract };
