// The consumer's counters as plain numbers: the hot path bumps fields, metrics.ts and /status
// read them. Per-topic and per-table objects are created once, when the mapping is built.

export interface TopicCounts {
  c: number;
  u: number;
  d: number;
  r: number;
  tombstone: number;
}

export interface PartitionProgress {
  topic: string;
  partition: number;
  /** Next offset to be committed (all before it are written); -1 until known. */
  committed: number;
  /** The partition's high watermark as last seen; -1 until known. */
  highWatermark: number;
  /** Where a group with nothing committed starts (earliest or latest); -1 until known. */
  start: number;
}

export class CdcStats {
  readonly events = new Map<string, TopicCounts>();
  readonly rowsWritten = new Map<string, number>();
  /** reason → count, by source topic */
  readonly deadLettered = new Map<string, Map<string, number>>();
  readonly partitions = new Map<string, PartitionProgress>();
  batches = 0;
  writeFailures = 0;

  constructor(topics: Iterable<string>, tables: Iterable<string>) {
    for (const t of topics) {
      this.events.set(t, { c: 0, u: 0, d: 0, r: 0, tombstone: 0 });
      this.deadLettered.set(t, new Map());
    }
    for (const t of tables) this.rowsWritten.set(t, 0);
  }

  deadLetter(topic: string, reason: string): void {
    const m = this.deadLettered.get(topic) ?? new Map<string, number>();
    this.deadLettered.set(topic, m);
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  progress(topic: string, partition: number): PartitionProgress {
    const k = `${topic}\0${partition}`;
    let p = this.partitions.get(k);
    if (!p) this.partitions.set(k, (p = { topic, partition, committed: -1, highWatermark: -1, start: -1 }));
    return p;
  }

  static lagOf(p: PartitionProgress): number {
    if (p.highWatermark < 0) return 0;
    const from = p.committed >= 0 ? p.committed : Math.max(0, p.start);
    return Math.max(0, p.highWatermark - from);
  }

  totalLag(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += CdcStats.lagOf(p);
    return n;
  }
}
