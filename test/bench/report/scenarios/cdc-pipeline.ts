// bench:cdc-pipeline (test/bench/cdc-pipeline.bench.ts): end-to-end lag PostgreSQL → Debezium →
// Kafka → breakwater → ClickHouse per batch setting. It states no target.
import { type Extract, type Scenario, num } from '../model.js';

/** The fields of cdc-pipeline.bench.ts's results read here. */
interface PipelineResults {
  rate?: number;
  seconds?: number;
  cases?: { batch: string; changesPerSec: number; eventAgeSeconds: { p50: number; p99: number }; debeziumSeconds: { p50: number; p99: number } }[];
}

const sec = (x: number | undefined): string => (x === undefined ? '-' : `${num(x, 2)} s`);

function extract(json: unknown): Extract {
  const r = json as PipelineResults;
  const cases = r.cases ?? [];
  return {
    title: 'CDC end-to-end lag, PostgreSQL → ClickHouse (`bench:cdc-pipeline`)',
    notes: [],
    tables: cases.length
      ? [
          {
            caption: `${num(r.rate)} mixed changes/s for ${num(r.seconds)} s; event age from the commit in PostgreSQL to the row written with its offset committed`,
            header: ['batch', 'changes/s', 'event age p50', 'event age p99', 'Debezium share p50', 'Debezium share p99'],
            rows: cases.map((c) => [c.batch, num(c.changesPerSec), sec(c.eventAgeSeconds.p50), sec(c.eventAgeSeconds.p99), sec(c.debeziumSeconds.p50), sec(c.debeziumSeconds.p99)]),
          },
        ]
      : [],
    charts: [],
    targets: [],
  };
}

export const cdcPipeline: Scenario = { name: 'cdc-pipeline', optional: true, extract };
