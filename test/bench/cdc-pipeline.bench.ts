// End-to-end lag in the Debezium scenario: PostgreSQL changes at a fixed rate → Debezium (Kafka
// Connect) → Kafka → breakwater → ClickHouse. Reports, per batch setting, the event age when
// breakwater wrote the row (breakwater_cdc_event_age_seconds: source commit → ClickHouse ack +
// offset commit) and, from a plain kafkajs reader in the same run, how much of it is Debezium's
// (source commit → the message in Kafka). Never asserts.
// Build, then run: node dist/test/bench/cdc-pipeline.bench.js [--rate 2000] [--seconds 30]
import { parseArgs } from 'node:util';
import { kafkaClient } from '../cdc/helpers.js';
import { bucketQuantiles, histogramBuckets, startPipeline, Workload } from '../cdc/pipeline.js';
import { benchCommit, runMain, saveResults } from './support/results.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '30' },
    schemas: { type: 'boolean', default: false },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const BATCHES = ['{ rows: 10000, interval: 1s }', '{ rows: 10000, interval: 200ms }'];

interface CaseResult {
  batch: string;
  changes: number;
  seconds: number;
  changesPerSec: number;
  eventAgeSeconds: { p50: number; p99: number };
  debeziumSeconds: { p50: number; p99: number; samples: number };
}

const results: { startedAt: string; commit: string; rate: number; seconds: number; schemas: boolean; cases: CaseResult[]; error?: string } = {
  startedAt: new Date().toISOString(),
  commit: benchCommit(),
  rate: RATE,
  seconds: SECONDS,
  schemas: args.schemas,
  cases: [],
};

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const teardowns: (() => unknown)[] = [];
  const host = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  try {
    const p = await startPipeline(host, args.schemas);
    // Debezium's share: message timestamp in Kafka (set by Connect's producer) minus source.ts_ms.
    const debezium: number[] = [];
    const reader = kafkaClient(p.kafka.brokers).consumer({ groupId: `bench-reader-${Date.now()}` });
    await reader.connect();
    await reader.subscribe({ topics: ['cdc.posts', 'cdc.follows', 'cdc.comments', 'cdc.likes'], fromBeginning: false });
    let recording = false;
    await reader.run({
      eachBatch: async ({ batch }) => {
        if (!recording) return;
        for (const m of batch.messages) {
          if (m.value === null) continue;
          const v = JSON.parse(m.value.toString()) as { payload?: { source?: { ts_ms?: number } }; source?: { ts_ms?: number } };
          const at = (v.payload ?? v).source?.ts_ms;
          if (typeof at === 'number') debezium.push((Number(m.timestamp) - at) / 1000);
        }
      },
    });
    teardowns.push(() => reader.disconnect());
    const w = new Workload(p.pg);
    for (const batch of BATCHES) {
      const bw = await p.startSidecar(host, batch);
      await w.run(2000); // warm: JIT, connections, first batches
      await new Promise((r) => setTimeout(r, 3000));
      const before = histogramBuckets((await bw.get('/metrics')).body as string, 'breakwater_cdc_event_age_seconds');
      debezium.length = 0;
      recording = true;
      const t0 = Date.now();
      await w.run(RATE * SECONDS, { perTx: 10, ratePerSec: RATE });
      const seconds = (Date.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 5000)); // let the last changes arrive
      recording = false;
      const after = histogramBuckets((await bw.get('/metrics')).body as string, 'breakwater_cdc_event_age_seconds');
      const [p50, p99] = bucketQuantiles(after, [0.5, 0.99], before);
      const dz = [...debezium].sort((a, b) => a - b);
      results.cases.push({
        batch,
        changes: RATE * SECONDS,
        seconds,
        changesPerSec: (RATE * SECONDS) / seconds,
        eventAgeSeconds: { p50: p50!, p99: p99! },
        debeziumSeconds: { p50: quantile(dz, 0.5), p99: quantile(dz, 0.99), samples: dz.length },
      });
      await bw.stop('SIGTERM');
    }
  } finally {
    for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  }
}

const code = await runMain(main, results);
const lines = [
  `CDC end-to-end lag (PostgreSQL commit → ClickHouse), commit ${results.commit}, ${results.startedAt}`,
  `workload: mixed inserts/updates/deletes on posts, comments, likes, follows; ${RATE} changes/s for ${SECONDS} s, 10 per transaction; schemas ${args.schemas ? 'enabled' : 'disabled'}`,
  '',
  'batch                              changes/s   event age p50   p99      of which Debezium p50   p99',
  ...results.cases.map(
    (c) =>
      `${c.batch.padEnd(34)} ${c.changesPerSec.toFixed(0).padStart(9)}   ${c.eventAgeSeconds.p50.toFixed(3).padStart(9)} s ${c.eventAgeSeconds.p99.toFixed(3).padStart(7)} s   ${c.debeziumSeconds.p50.toFixed(3).padStart(12)} s ${c.debeziumSeconds.p99.toFixed(3).padStart(7)} s`,
  ),
  '',
  'event age: breakwater_cdc_event_age_seconds (histogram buckets, linear within a bucket), from source.ts_ms to the ClickHouse ack and offset commit.',
  'Debezium: Kafka message timestamp minus source.ts_ms, exact, from a separate reader.',
  ...(results.error ? ['', `FAILED: ${results.error.split('\n')[0]}`] : []),
];
saveResults('cdc-pipeline', results, lines.join('\n'));
process.exit(code);
