// The CDC consumer: Debezium change events from Kafka into ClickHouse, in batches, committing
// offsets only after ClickHouse acknowledged the rows. It writes through the ClickHouse
// dependency's breaker: while the breaker refuses, consumption pauses and the batch waits
// (no busy retry). Always on when configured: it keeps trying to start until it runs.
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type LogEntry, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { CdcConfig } from '../config/schema.js';
import type { Dependency } from '../dependency/dependency.js';
import type { Logger } from '../log/logger.js';
import { ClickHouseWriteError, ClickHouseWriter } from './clickhouse-writer.js';
import { DeadLetters, type DeadLetter } from './dead-letter.js';
import { decodeChange } from './debezium.js';
import { CdcError } from './errors.js';
import { CdcMetrics } from './metrics.js';
import { PendingBatch, type RowSource, type TableRows } from './pending-batch.js';
import { compileRowEncoder } from './row-encoder.js';
import { CdcStartupError } from './startup-error.js';
import { CdcStats } from './stats.js';
import { buildMapping, describeTable } from './table-check.js';
import type { ChangeEvent } from './change-event.js';

export type CdcState = 'starting' | 'running' | 'failed' | 'stopped';

interface TopicRoute {
  table: string;
  encode: (ev: ChangeEvent) => string;
}

const FIRST_BACKOFF_MS = 250;
const HEARTBEAT_EVERY_MS = 2000;

export class CdcConsumer {
  state: CdcState = 'starting';
  paused = false;
  lastError: { message: string; at: string } | undefined;
  /** What startup is doing now, for /readyz while it has not failed yet. */
  private phase = 'starting';
  readonly stats: CdcStats;
  readonly metrics: CdcMetrics;
  private readonly writer: ClickHouseWriter;
  private readonly kafka: Kafka;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private consumer: Consumer | undefined;
  private deadLetters: DeadLetters | undefined;
  private routes = new Map<string, TopicRoute>();
  private generation = 0;
  private pending = new PendingBatch(0);
  private flushChain: Promise<void> = Promise.resolve();
  private assigned = new Map<string, number[]>();
  private stopping = false;
  /** stop() was called: not ready from then on, while the last batch is written. */
  private closing = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly wakers = new Set<() => void>();
  private startLoop: Promise<void> | undefined;
  /** Writes in flight (0 or 1): the time-based flush waits for it instead of queueing more. */
  private writing = 0;
  /** When the batch being written first failed; 0 while writes succeed. */
  private failingSince = 0;
  /** Why the batch being written waits (breaker, failing writes). */
  private blockedBy = '';
  /** Next offset each owned partition must be read from (`topic\0partition`), for this generation. */
  private expected = new Map<string, bigint>();
  private expectedLoaded: Promise<void> = Promise.resolve();
  /** Partitions sent back to their expected offset by a seek since the last join. */
  private sought = new Set<string>();
  /** Aborts in-flight INSERTs when shutdown's drain deadline passes. */
  private readonly abort = new AbortController();

  constructor(
    readonly config: CdcConfig,
    private readonly clickhouse: Dependency,
    registry: Registry,
    private readonly log: Logger,
  ) {
    this.stats = new CdcStats(
      Object.keys(config.topics),
      Object.values(config.topics).map((t) => t.table),
    );
    this.metrics = new CdcMetrics(registry, this.stats, () => ({ running: this.running, paused: this.paused }));
    this.writer = new ClickHouseWriter(clickhouse.config.upstream, config.writeTimeout, this.abort.signal);
    const kafkaLog = log.child({ component: 'kafkajs' });
    this.kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      connectionTimeout: 3000,
      requestTimeout: 30_000,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, level, log: entry }: LogEntry) => {
          const { message, ...rest } = entry;
          if (level <= logLevel.ERROR) kafkaLog.warn({ namespace, ...rest }, `kafkajs: ${message}`);
          else kafkaLog.debug({ namespace, ...rest }, `kafkajs: ${message}`);
        },
    });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Starts in the background and keeps trying until it runs or stop() is called. */
  start(): void {
    this.startLoop ??= this.keepStarting();
  }

  /** Why the consumer is not running, with the fix; undefined while it runs. */
  notRunningReason(): string | undefined {
    if (this.closing) return 'cdc consumer stopping';
    if (this.running) return undefined;
    if (this.state === 'starting') return `cdc consumer starting: ${this.phase}`;
    return `cdc consumer ${this.state}${this.lastError ? `: ${this.lastError.message}` : ''}`;
  }

  /** Readiness: a batch that has been failing this long means the consumer is stuck, running or not. */
  stuckReason(now = Date.now()): string | undefined {
    if (this.failingSince === 0 || now - this.failingSince < this.config.stuckAfter) return undefined;
    return `cdc writes blocked for ${Math.round((now - this.failingSince) / 1000)}s: ${this.blockedBy}${this.lastError ? `; last error: ${this.lastError.message}` : ''}`;
  }

  private async keepStarting(): Promise<void> {
    let wait = 1000;
    while (!this.stopping) {
      try {
        await this.setup();
        return;
      } catch (err) {
        this.failed(err);
        await this.teardown();
        await this.sleep(wait);
        wait = Math.min(wait * 2, 15_000);
      }
    }
  }

  private failed(err: unknown): void {
    const message = err instanceof CdcStartupError || err instanceof CdcError ? err.message : `${(err as Error).name ?? 'Error'}: ${(err as Error).message ?? String(err)}`;
    if (this.lastError?.message !== message) this.log.error({ err: message }, `cdc consumer cannot run: ${message}`);
    this.lastError = { message, at: new Date().toISOString() };
    if (this.state !== 'stopped') this.state = 'failed';
  }

  private async setup(): Promise<void> {
    const topics = Object.keys(this.config.topics);
    const brokers = this.config.brokers.join(', ');
    // ClickHouse side first: a table problem is a config problem and says so.
    const routes = new Map<string, TopicRoute>();
    for (const [topic, t] of Object.entries(this.config.topics)) {
      this.phase = `checking ClickHouse table ${t.table} at ${this.writer.upstream}`;
      let rows;
      try {
        rows = await describeTable((sql) => this.writer.select(sql), t.table);
      } catch (err) {
        throw new CdcStartupError(
          'clickhouse_unreachable',
          `cannot read the columns of ClickHouse table ${t.table} at ${err instanceof ClickHouseWriteError ? err.upstream : this.writer.upstream} (dependency ${this.clickhouse.name}): ${(err as Error).message}. Check that ClickHouse is running and dependencies.${this.clickhouse.name}.upstream is right.`,
        );
      }
      const mapping = buildMapping(topic, t, rows);
      routes.set(topic, { table: t.table, encode: compileRowEncoder(mapping) });
    }
    this.routes = routes;

    this.phase = `connecting to Kafka at ${brokers}`;
    // Few retries: the start loop retries, and /readyz should say why soon.
    const admin = (this.admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1000 } }));
    try {
      await admin.connect();
    } catch (err) {
      throw new CdcStartupError('kafka_unreachable', `cannot reach Kafka at ${brokers} (cdc.brokers): ${(err as Error).message}. Check that Kafka is running and cdc.brokers lists reachable brokers (direct addresses, not a breakwater listener).`);
    }
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new CdcStartupError(
        'topic_missing',
        `CDC topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist on ${brokers}. Check that Debezium runs and its RegexRouter writes cdc.<table> topics, or fix cdc.topics.`,
      );
    }
    if (!existing.has(this.config.deadLetterTopic)) {
      try {
        await admin.createTopics({ topics: [{ topic: this.config.deadLetterTopic }], waitForLeaders: true });
        this.log.info({ topic: this.config.deadLetterTopic }, `created the dead-letter topic ${this.config.deadLetterTopic}`);
      } catch (err) {
        if (!(await admin.listTopics()).includes(this.config.deadLetterTopic)) {
          throw new CdcStartupError('dead_letter_topic', `the dead-letter topic ${this.config.deadLetterTopic} (cdc.deadLetterTopic) does not exist and could not be created: ${(err as Error).message}. Create it, or name an existing topic.`);
        }
      }
    }

    this.phase = `joining consumer group ${this.config.groupId}`;
    const producer = (this.producer = this.kafka.producer({ allowAutoTopicCreation: false, idempotent: false }));
    await producer.connect();
    this.deadLetters = new DeadLetters(producer, this.config.deadLetterTopic);

    const consumer = (this.consumer = this.kafka.consumer({
      groupId: this.config.groupId,
      sessionTimeout: this.config.sessionTimeout,
      heartbeatInterval: Math.min(3000, Math.floor(this.config.sessionTimeout / 3)),
      rebalanceTimeout: Math.max(60_000, this.config.sessionTimeout),
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000, restartOnFailure: async () => !this.stopping },
    }));
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.joined(e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => {
      this.failed(e.payload.error);
      if (e.payload.restart) {
        this.log.warn('cdc consumer crashed; kafkajs restarts it');
        return;
      }
      // kafkajs gives up on non-retriable errors: start over (teardown, checks, join).
      this.log.error({ err: e.payload.error }, 'cdc consumer crashed and kafkajs will not restart it; starting it again');
      if (!this.stopping) this.startLoop = this.teardown().then(() => this.keepStarting());
    });
    consumer.on(consumer.events.STOP, () => {
      if (!this.stopping) this.state = 'failed';
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: this.config.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (p) => this.onBatch(p),
    });
    const tick = Math.max(50, Math.min(250, Math.floor(this.config.batch.interval / 4)));
    this.timers.push(setInterval(() => this.maybeFlushByTime(), tick).unref());
    this.timers.push(setInterval(() => void this.refreshLag(), this.config.lagInterval).unref());
    this.log.info({ topics, groupId: this.config.groupId, brokers: this.config.brokers }, `cdc consumer started: ${topics.join(', ')} -> ClickHouse via ${this.clickhouse.name}`);
  }

  private joined(assignment: Record<string, number[]>): void {
    if (this.stopping) return;
    this.generation++;
    this.pending = new PendingBatch(this.generation);
    this.assigned = new Map(Object.entries(assignment));
    // kafkajs keeps a pause across a rejoin and drops it on a restart: start unpaused either way;
    // the next failing write pauses again.
    if (this.paused) {
      this.paused = false;
      this.tryConsumer((c) => c.resume(this.topicList()));
    }
    this.expected = new Map();
    this.sought = new Set();
    this.expectedLoaded = this.loadExpected(this.generation);
    for (const [k, p] of this.stats.partitions) {
      if (!this.assigned.get(p.topic)?.includes(p.partition)) this.stats.partitions.delete(k);
    }
    this.state = 'running';
    this.log.info({ assignment, generation: this.generation }, `cdc consumer joined group ${this.config.groupId}: ${Object.entries(assignment).map(([t, ps]) => `${t}[${ps.join(',')}]`).join(' ') || 'no partitions'}`);
    void this.refreshLag();
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    await this.expectedLoaded;
    const key = `${topic}\0${partition}`;
    if (!this.assigned.get(topic)?.includes(partition)) return; // fetched before a rebalance took it away
    const want = this.expected.get(key);
    const fetched = BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    // Once per partition and join: after our seek, a fetch still ahead means Kafka no longer has
    // those offsets (retention; kafkajs reset to the start) and there is nothing to read again.
    const sought = this.sought.delete(key);
    if (want !== undefined && fetched > want && !sought) {
      // A fetch built before the last rejoin, past rows this generation has not written: drop it
      // and read again from where this generation stands (a lower offset only means re-reads).
      this.log.warn({ topic, partition, fetched: String(fetched), expected: String(want) }, `cdc: dropped a batch of ${topic}[${partition}] fetched from ${fetched} before a rejoin; reading again from ${want}`);
      if (this.tryConsumer((c) => c.seek({ topic, partition, offset: String(want) }))) this.sought.add(key);
      return;
    }
    const route = this.routes.get(topic)!;
    const counts = this.stats.events.get(topic)!;
    const pending = this.pending;
    let last: string | undefined;
    let all = true;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) {
        all = false;
        break;
      }
      last = m.offset;
      let ev: ChangeEvent | null;
      try {
        ev = decodeChange(m.value);
        if (ev === null) {
          counts.tombstone++;
          continue;
        }
        counts[ev.op]++;
        const source: RowSource = { topic, partition, offset: m.offset, key: m.key, value: m.value };
        const committedAt = ev.source.ts_ms;
        pending.add(route.table, route.encode(ev), source, typeof committedAt === 'number' ? committedAt : undefined);
      } catch (err) {
        // A CdcError is the message's fault. Anything else is a bug here: the message still goes
        // to the dead-letter topic (it can be replayed from there) instead of crash-looping.
        const known = err instanceof CdcError;
        if (!known) this.log.error({ err, topic, partition, offset: m.offset }, `cdc: decoding ${topic}[${partition}]@${m.offset} failed unexpectedly`);
        pending.deadLetter({ topic, partition, offset: m.offset, key: m.key, value: m.value, reason: known ? err.reason : 'internal_error', error: known ? err.message : `internal error: ${(err as Error).message}` });
      }
    }
    if (last === undefined) return;
    // The whole batch read: next is after its last offset (control records included).
    const next = (all ? BigInt(batch.lastOffset()) : BigInt(last)) + 1n;
    this.expected.set(key, next);
    pending.advance(topic, partition, String(next));
    resolveOffset(last);
    const progress = this.stats.progress(topic, partition);
    progress.highWatermark = Number(batch.highWatermark);
    if (pending.rows >= this.config.batch.rows || pending.bytes >= this.config.batch.bytes) {
      // Double buffering: wait for the write before this one, then start this one and keep
      // reading while it runs. At most one batch is being written and one filled.
      await this.withHeartbeat(this.flushChain, heartbeat);
      void this.flush();
    }
  }

  private maybeFlushByTime(): void {
    const p = this.pending;
    // While a write runs, rows keep collecting here (onBatch waits once the batch is full).
    if (this.writing === 0 && !p.empty && Date.now() - p.startedAt >= this.config.batch.interval) void this.flush();
  }

  /** Writes what is pending; flushes run one at a time, in order. */
  flush(): Promise<void> {
    const batch = this.pending;
    if (batch.empty) return this.flushChain;
    this.pending = new PendingBatch(batch.generation);
    this.writing++;
    this.flushChain = this.flushChain
      .then(() => this.write(batch))
      .catch((err: unknown) => this.log.error({ err }, `cdc: a batch write failed unexpectedly: ${(err as Error).message}`))
      .finally(() => this.writing--);
    return this.flushChain;
  }

  /** Keeps the group membership alive while an eachBatch waits for a write. */
  private async withHeartbeat(work: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
    let done = false;
    const finished = work.finally(() => (done = true));
    while (!done) {
      await Promise.race([finished, new Promise((r) => setTimeout(r, HEARTBEAT_EVERY_MS).unref())]);
      if (!done) await heartbeat(); // throws when the group rebalances: kafkajs rejoins, the batch is dropped
    }
    await finished;
  }

  private stale(batch: PendingBatch): boolean {
    return this.stopping || batch.generation !== this.generation;
  }

  /** One batch, retried until written (or dropped by a rebalance or shutdown). Never throws. */
  private async write(batch: PendingBatch): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    const started = Date.now();
    while (!this.stale(batch)) {
      const token = this.clickhouse.admit();
      if (typeof token !== 'number') {
        this.failingSince ||= Date.now();
        this.blockedBy = token === 'bulkhead' ? `dependencies.${this.clickhouse.name}.maxConcurrent reached` : `ClickHouse breaker ${this.clickhouse.breaker.state}`;
        this.pause(this.blockedBy);
        await this.sleep(Math.max(100, Math.min(this.clickhouse.breaker.retryAfterMs() || backoff, this.config.retryBackoff)));
        backoff = Math.min(backoff * 2, this.config.retryBackoff);
        continue;
      }
      const t0 = performance.now();
      try {
        if (!batch.deadLettersSent) {
          await this.sendDeadLetters(batch.deadLetters);
          batch.deadLettersSent = true;
        }
        for (const [table, rows] of batch.tables) {
          if (batch.written.has(table)) continue;
          await this.insertRows(table, rows, 0, rows.lines.length);
          batch.written.add(table);
          this.stats.rowsWritten.set(table, (this.stats.rowsWritten.get(table) ?? 0) + rows.lines.length - rows.refused);
        }
        this.clickhouse.success(token, performance.now() - t0);
      } catch (err) {
        const e = err instanceof ClickHouseWriteError ? err : undefined;
        if (e?.kind === 'outage') this.clickhouse.failure(token, performance.now() - t0, e.message);
        else this.clickhouse.ignored(token, performance.now() - t0);
        this.stats.writeFailures++;
        this.failingSince ||= Date.now();
        this.writeFailed(err);
        this.blockedBy = err instanceof ClickHouseWriteError ? 'writes to ClickHouse failing' : 'writes to the dead-letter topic failing';
        this.pause(this.blockedBy);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.config.retryBackoff);
        continue;
      }
      this.failingSince = 0;
      if (!(await this.commit(batch))) return;
      const now = Date.now();
      this.metrics.batchSeconds.observe((now - started) / 1000);
      for (const at of batch.committedAt) this.metrics.eventAge.observe(Math.max(0, now - at) / 1000);
      this.stats.batches++;
      this.resume();
      return;
    }
    this.failingSince = 0; // dropped by a rebalance or shutdown: whatever failed is no longer this batch's
  }

  /** INSERT rows [from, to); a row ClickHouse cannot parse is found by halving and dead-lettered. */
  private async insertRows(table: string, rows: TableRows, from: number, to: number): Promise<void> {
    try {
      await this.writer.insert(table, from === 0 && to === rows.lines.length ? rows.lines.join('') : rows.lines.slice(from, to).join(''));
    } catch (err) {
      if (!(err instanceof ClickHouseWriteError) || err.kind !== 'data') throw err;
      if (to - from === 1) {
        const s = rows.sources[from]!;
        await this.sendDeadLetters([{ ...s, reason: 'clickhouse_refused', error: `ClickHouse refused the row for ${table}: ${err.message}` }]);
        // Out of the batch: a retry after a later failure neither sends nor dead-letters it again.
        rows.lines[from] = '';
        rows.refused++;
        return;
      }
      const mid = from + Math.floor((to - from) / 2);
      await this.insertRows(table, rows, from, mid);
      await this.insertRows(table, rows, mid, to);
    }
  }

  private async sendDeadLetters(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    try {
      await this.deadLetters!.send(letters);
    } catch (err) {
      throw new Error(`cannot write to the dead-letter topic ${this.config.deadLetterTopic}: ${(err as Error).message}`);
    }
    for (const l of letters) {
      this.stats.deadLetter(l.topic, l.reason);
      this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason }, `cdc: dead-lettered ${l.topic}[${l.partition}]@${l.offset}: ${l.error}`);
    }
  }

  /** True when committed in the batch's own generation. */
  private async commit(batch: PendingBatch): Promise<boolean> {
    const offsets = [...batch.offsets.values()];
    let backoff = FIRST_BACKOFF_MS;
    while (!this.stale(batch)) {
      try {
        if (!this.consumer) throw new Error('the Kafka consumer is restarting');
        await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
        // kafkajs resolves without committing while it rejoins: only count what is still ours.
        if (this.stale(batch) || !this.running) return false;
        for (const o of offsets) this.stats.progress(o.topic, o.partition).committed = Number(o.offset);
        return true;
      } catch (err) {
        // Rows are written; a lost commit only means they are written again (same rows, same
        // versions: FINAL keeps one). A rebalance makes the batch stale and ends the loop.
        this.log.warn({ err: (err as Error).message }, `cdc: committing offsets failed; retrying: ${(err as Error).message}`);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.config.retryBackoff);
      }
    }
    return false;
  }

  private writeFailed(err: unknown): void {
    const message =
      err instanceof ClickHouseWriteError ? `writing to ClickHouse (${err.upstream}) failed: ${err.message}` : `writing the batch's dead letters failed: ${(err as Error).message}`;
    if (this.lastError?.message !== message) this.log.warn({ err: (err as Error).message }, `cdc: ${message}; retrying`);
    this.lastError = { message, at: new Date().toISOString() };
  }

  private topicList(): { topic: string }[] {
    return Object.keys(this.config.topics).map((topic) => ({ topic }));
  }

  /** kafkajs throws from pause/resume/seek while it restarts a crashed consumer: that is not ours to crash on. */
  private tryConsumer(fn: (c: Consumer) => void): boolean {
    if (!this.consumer) return false;
    try {
      fn(this.consumer);
      return true;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cdc: the Kafka consumer is restarting');
      return false;
    }
  }

  private pause(why: string): void {
    if (this.paused) return;
    if (!this.tryConsumer((c) => c.pause(this.topicList()))) return;
    this.paused = true;
    this.log.warn(`cdc consumer paused: ${why}; the batch waits and is written when that is fixed`);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.tryConsumer((c) => c.resume(this.topicList()));
    this.log.info('cdc consumer resumed: the batch is written');
  }

  /** The committed offsets of this generation's partitions: where each must be read from. */
  private async loadExpected(generation: number): Promise<void> {
    const admin = this.admin;
    if (!admin) return;
    try {
      const committed = await admin.fetchOffsets({ groupId: this.config.groupId, topics: [...this.assigned.keys()] });
      for (const { topic, partitions } of committed) {
        const lows = this.config.fromBeginning ? new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.low])) : undefined;
        for (const p of partitions) {
          const from = Number(p.offset) >= 0 ? p.offset : lows?.get(p.partition);
          const key = `${topic}\0${p.partition}`;
          if (from !== undefined && generation === this.generation && !this.expected.has(key)) this.expected.set(key, BigInt(from));
        }
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cdc: reading the committed offsets after a join failed');
    }
  }

  private async refreshLag(): Promise<void> {
    const admin = this.admin;
    if (!admin || this.assigned.size === 0) return;
    try {
      const committed = await admin.fetchOffsets({ groupId: this.config.groupId, topics: [...this.assigned.keys()] });
      for (const { topic, partitions } of committed) {
        const mine = this.assigned.get(topic) ?? [];
        for (const p of partitions) {
          if (!mine.includes(p.partition)) continue;
          const pr = this.stats.progress(topic, p.partition);
          const c = Number(p.offset);
          if (c > pr.committed) pr.committed = c;
        }
      }
      for (const topic of this.assigned.keys()) {
        const mine = this.assigned.get(topic) ?? [];
        for (const o of await admin.fetchTopicOffsets(topic)) {
          if (!mine.includes(o.partition)) continue;
          const pr = this.stats.progress(topic, o.partition);
          pr.highWatermark = Number(o.high);
          pr.start = Number(this.config.fromBeginning ? o.low : o.high);
        }
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cdc: reading the lag failed');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      t.unref();
      this.wakers.add(wake);
    });
  }

  status(): Record<string, unknown> {
    return {
      state: this.state,
      paused: this.paused,
      groupId: this.config.groupId,
      brokers: this.config.brokers,
      deadLetterTopic: this.config.deadLetterTopic,
      lastError: this.lastError ?? null,
      pendingRows: this.pending.rows,
      batchesWritten: this.stats.batches,
      lag: this.stats.totalLag(),
      partitions: [...this.stats.partitions.values()]
        .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
        .map((p) => ({ topic: p.topic, partition: p.partition, committed: p.committed, highWatermark: p.highWatermark, lag: CdcStats.lagOf(p) })),
    };
  }

  private async teardown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const c = this.consumer;
    const p = this.producer;
    const a = this.admin;
    this.consumer = this.producer = this.admin = undefined;
    await Promise.allSettled([c?.disconnect(), p?.disconnect(), a?.disconnect()]);
  }

  /** Writes what it can before `deadline`, then leaves the group. Unwritten rows stay uncommitted. */
  async stop(deadline: number): Promise<void> {
    if (this.state === 'stopped') return;
    const until = (p: Promise<unknown>): Promise<unknown> => Promise.race([p, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    this.closing = true;
    await until(this.running ? this.flush() : Promise.resolve());
    this.stopping = true;
    this.state = 'stopped';
    this.abort.abort(); // an INSERT still running past the deadline: its rows stay uncommitted
    for (const w of [...this.wakers]) w();
    await until(this.startLoop?.catch(() => undefined) ?? Promise.resolve());
    await Promise.race([this.teardown(), new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.writer.close();
  }
}
