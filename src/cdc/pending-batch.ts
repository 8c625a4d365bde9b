// The rows read since the last write, per table, with where each came from (to dead-letter a
// row ClickHouse refuses) and the offset each partition may be committed to once written.
// A batch belongs to one group generation: after a rebalance it is dropped, not written, and
// its partitions are read again from the committed offsets by whoever owns them now.
import type { DeadLetter } from './dead-letter.js';

export interface RowSource {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface TableRows {
  lines: string[];
  sources: RowSource[];
  /** Rows ClickHouse refused and that went to the dead-letter topic (their line is emptied). */
  refused: number;
}

export class PendingBatch {
  readonly tables = new Map<string, TableRows>();
  readonly deadLetters: DeadLetter[] = [];
  /** `topic\0partition` → next offset to commit */
  readonly offsets = new Map<string, { topic: string; partition: number; offset: string }>();
  /** source.ts_ms of each row (the commit in the source database), for the event-age histogram. */
  readonly committedAt: number[] = [];
  rows = 0;
  bytes = 0;
  /** When the first row (or dead letter) arrived; 0 while empty. */
  startedAt = 0;
  /** Tables already written by an earlier attempt of this batch. */
  readonly written = new Set<string>();
  deadLettersSent = false;

  constructor(readonly generation: number) {}

  get empty(): boolean {
    return this.offsets.size === 0;
  }

  add(table: string, line: string, source: RowSource, committedAt: number | undefined): void {
    if (committedAt !== undefined) this.committedAt.push(committedAt);
    let t = this.tables.get(table);
    if (!t) this.tables.set(table, (t = { lines: [], sources: [], refused: 0 }));
    t.lines.push(line);
    t.sources.push(source);
    this.rows++;
    // What the batch holds: the line and the message it came from (kept for dead letters).
    this.bytes += line.length + (source.value?.length ?? 0) + (source.key?.length ?? 0);
    if (this.startedAt === 0) this.startedAt = Date.now();
  }

  deadLetter(d: DeadLetter): void {
    this.deadLetters.push(d);
    if (this.startedAt === 0) this.startedAt = Date.now();
  }

  /** Everything up to `next` (exclusive) in this partition is in the batch. */
  advance(topic: string, partition: number, next: string): void {
    this.offsets.set(`${topic}\0${partition}`, { topic, partition, offset: next });
    if (this.startedAt === 0) this.startedAt = Date.now();
  }
}
