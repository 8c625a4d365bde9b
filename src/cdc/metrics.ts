// breakwater_cdc_* families (DESIGN.md "Interfaces"), read from CdcStats at scrape time.
// Labels are topics, tables, partitions and reasons: bounded by the config, never by data.
import type { Registry } from 'prom-client';
import { CollectedFamily, HistogramCells } from '../metrics/collected.js';
import { CdcStats } from './stats.js';

const BATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const AGE_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 900, 3600];

export class CdcMetrics {
  readonly batchSeconds = new HistogramCells(BATCH_BUCKETS);
  readonly eventAge = new HistogramCells(AGE_BUCKETS);

  constructor(
    registry: Registry,
    private readonly stats: CdcStats,
    private readonly state: () => { running: boolean; paused: boolean },
  ) {
    const families = [
      new CollectedFamily('breakwater_cdc_events_total', 'Change events read from Kafka, by topic and Debezium op (c, u, d, r = snapshot; tombstone = the null value after a delete, skipped).', 'counter', () =>
        [...this.stats.events].flatMap(([topic, c]) => (['c', 'u', 'd', 'r', 'tombstone'] as const).map((op) => ({ labels: { topic, op }, value: c[op] }))),
      ),
      new CollectedFamily('breakwater_cdc_rows_written_total', 'Rows ClickHouse acknowledged, by table.', 'counter', () =>
        [...this.stats.rowsWritten].map(([table, value]) => ({ labels: { table }, value })),
      ),
      new CollectedFamily('breakwater_cdc_batch_duration_seconds', 'Time to write one batch: the dead letters, one INSERT per table, and the offset commit.', 'histogram', () =>
        this.batchSeconds.samples('breakwater_cdc_batch_duration_seconds', {}),
      ),
      new CollectedFamily('breakwater_cdc_event_age_seconds', 'End-to-end freshness: time from the commit in the source database (Debezium source.ts_ms) until ClickHouse acknowledged the row and its offset was committed.', 'histogram', () =>
        this.eventAge.samples('breakwater_cdc_event_age_seconds', {}),
      ),
      new CollectedFamily('breakwater_cdc_lag', 'Messages in a partition not yet written to ClickHouse (high watermark minus committed offset).', 'gauge', () =>
        [...this.stats.partitions.values()].map((p) => ({ labels: { topic: p.topic, partition: p.partition }, value: CdcStats.lagOf(p) })),
      ),
      new CollectedFamily('breakwater_cdc_dead_lettered_total', 'Messages sent to the dead-letter topic, by source topic and reason.', 'counter', () =>
        [...this.stats.deadLettered].flatMap(([topic, m]) => [...m].map(([reason, value]) => ({ labels: { topic, reason }, value }))),
      ),
      new CollectedFamily('breakwater_cdc_write_failures_total', 'Batch writes that failed and were retried (ClickHouse down, breaker open, timeouts).', 'counter', () => [
        { labels: {}, value: this.stats.writeFailures },
      ]),
      new CollectedFamily('breakwater_cdc_running', '1 while the consumer is in its group and consuming; 0 while it starts, restarts or failed.', 'gauge', () => [
        { labels: {}, value: this.state().running ? 1 : 0 },
      ]),
      new CollectedFamily('breakwater_cdc_paused', '1 while writes wait for ClickHouse (breaker open or writes failing) and consumption is paused.', 'gauge', () => [
        { labels: {}, value: this.state().paused ? 1 : 0 },
      ]),
    ];
    for (const f of families) registry.registerMetric(f as never);
  }
}
