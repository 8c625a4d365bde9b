// Forwards what the spool holds to the cluster, oldest first, once the breaker lets requests
// through: asks Metadata for the partition leaders, then sends waves of Produce requests
// (acks=all), one per leader with the next spooled batch of each of its partitions, and
// acknowledges the spool only up to the first entry not yet accepted. Delivery is at least once: a crash between
// the cluster's acknowledgement and the spool's sends those batches again.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { KafkaDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { Logger } from '../../log/logger.js';
import type { Spool, SpoolEntry } from '../../store/spool/spool.js';
import { API_PRODUCE } from './api-keys.js';
import { KafkaClientConnection } from './client.js';
import type { KafkaCluster, Upstream } from './cluster.js';
import { KafkaErrorCode, errorName } from './messages/errors.js';
import { parseMetadataResponse } from './messages/metadata.js';
import { encodeProduceRequest, parseProduceResponse } from './messages/produce.js';
import { API_METADATA } from './rewrite.js';
import { Writer } from './wire.js';

const PRODUCE_VERSION = 7;
const METADATA_VERSION = 4;
const PEEK_BYTES = 4 * 1024 * 1024;
const PEEK_ENTRIES = 10_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;

/** The cluster will never take these batches: they are set aside (rejected.log), not retried forever. */
const FATAL: ReadonlySet<number> = new Set([
  KafkaErrorCode.CORRUPT_MESSAGE,
  KafkaErrorCode.MESSAGE_TOO_LARGE,
  KafkaErrorCode.RECORD_LIST_TOO_LARGE,
  KafkaErrorCode.INVALID_TIMESTAMP,
  KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED,
  KafkaErrorCode.POLICY_VIOLATION,
  KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
  KafkaErrorCode.INVALID_RECORD,
]);
const TROUBLE: ReadonlySet<number> = new Set([
  KafkaErrorCode.REQUEST_TIMED_OUT,
  KafkaErrorCode.BROKER_NOT_AVAILABLE,
  KafkaErrorCode.NOT_ENOUGH_REPLICAS,
  KafkaErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  KafkaErrorCode.KAFKA_STORAGE_ERROR,
]);

export interface ForwarderOptions {
  dep: Dependency;
  config: KafkaDependencyConfig;
  log: Logger;
  cluster: KafkaCluster;
  spool: Spool;
  /** Where batches the cluster refuses for good are written (rejected.log). */
  dir: string;
  onReplayed(records: number): void;
  onRejected(reason: string, records: number): void;
}

export function parseStream(stream: string): { topic: string; partition: number } {
  const i = stream.lastIndexOf(':');
  return { topic: stream.slice(0, i), partition: Number(stream.slice(i + 1)) };
}

export class SpoolForwarder {
  private running = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private backoff = BACKOFF_MIN_MS;
  private readonly done = new Set<number>();
  private readonly conns = new Map<string, KafkaClientConnection>();
  private nextBootstrap = 0;
  private lastWarn = 0;

  constructor(private readonly o: ForwarderOptions) {}

  /** Something may be forwardable (an append, a breaker change): run if idle, wake if waiting. */
  kick(): void {
    if (this.closed) return;
    if (this.wake !== undefined) {
      this.wake();
      return;
    }
    if (this.running) return;
    this.running = true;
    void this.loop()
      .catch((err: unknown) => this.o.log.error({ err: String(err) }, `spool forwarder stopped: ${String(err)}`))
      .finally(() => {
        this.running = false;
      });
  }

  private async loop(): Promise<void> {
    while (!this.closed && this.o.spool.depth.entries > 0) {
      const waitMs = await this.step();
      if (waitMs > 0 && !this.closed) await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    }).finally(() => {
      this.wake = undefined;
    });
  }

  /** One round; resolves with how long to wait before the next (0: go on). */
  private async step(): Promise<number> {
    const { spool, dep } = this.o;
    const state = dep.breaker.state;
    if (state === 'open' || state === 'forced_open') return Math.max(250, Math.min(dep.breaker.retryAfterMs() || 1000, 5000));
    const peeked = await spool.peek(PEEK_BYTES, PEEK_ENTRIES);
    let todo = peeked.filter((e) => !this.done.has(e.seq));
    if (todo.length > 0) {
      let leaders: Map<string, Upstream & { nodeId: number }>;
      try {
        leaders = await this.leaders([...new Set(todo.map((e) => parseStream(e.stream).topic))]);
      } catch (err) {
        return this.failed(`spool forwarder: partition leaders unknown: ${String((err as Error).message ?? err)}`);
      }
      // Kafka takes exactly one record batch per partition in a Produce (INVALID_RECORD
      // otherwise), and a spool entry is one batch: waves of one entry per partition, each wave
      // acknowledged before the next, keep the order per partition.
      while (todo.length > 0 && !this.closed) {
        const groups = new Map<string, { to: Upstream; entries: SpoolEntry[] }>();
        const inWave = new Set<string>();
        const unled = new Set<string>();
        for (const e of todo) {
          if (inWave.has(e.stream)) continue;
          inWave.add(e.stream);
          const l = leaders.get(e.stream);
          if (l === undefined) {
            unled.add(e.stream);
            continue;
          }
          const key = `${l.host}:${l.port}`;
          let g = groups.get(key);
          if (g === undefined) groups.set(key, (g = { to: l, entries: [] }));
          g.entries.push(e);
        }
        const results = await Promise.all([...groups.values()].map((g) => this.produce(g.to, g.entries)));
        const problem = results.find((r) => r !== undefined) ?? (unled.size > 0 ? `no leader known for ${[...unled].slice(0, 5).join(', ')}` : undefined);
        if (problem !== undefined) {
          await this.ackPrefix(peeked);
          return this.failed(problem);
        }
        todo = todo.filter((e) => !this.done.has(e.seq));
      }
    }
    await this.ackPrefix(peeked);
    this.backoff = BACKOFF_MIN_MS;
    return 0;
  }

  private failed(message: string): number {
    const now = Date.now();
    if (now - this.lastWarn > 5000) {
      this.lastWarn = now;
      this.o.log.warn({ spool: this.o.spool.depth }, `${message}; retrying in ${this.backoff}ms`);
    }
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    return wait;
  }

  /** Acknowledges the spool through the last entry of the done prefix. */
  private async ackPrefix(peeked: readonly SpoolEntry[]): Promise<void> {
    let through = -1;
    let records = 0;
    for (const e of peeked) {
      if (!this.done.has(e.seq)) break;
      through = e.seq;
      records += e.count;
    }
    if (through < 0) return;
    // Counted as Kafka accepted them: the spool's depth drops at ack() already, before its fsync.
    this.o.onReplayed(records);
    await this.o.spool.ack(through);
    for (const e of peeked) {
      if (e.seq > through) break;
      this.done.delete(e.seq);
    }
  }

  /** One Produce to one leader; resolves with a problem description, or undefined. */
  private async produce(to: Upstream, entries: SpoolEntry[]): Promise<string | undefined> {
    const { dep, config } = this.o;
    const token = dep.admit();
    if (typeof token !== 'number') return `breaker ${dep.breaker.state}`;
    // One entry (one record batch) per partition: the caller makes the waves.
    const byStream = new Map<string, SpoolEntry[]>();
    const byTopic = new Map<string, { index: number; records: Buffer }[]>();
    for (const e of entries) {
      byStream.set(e.stream, [e]);
      const { topic, partition } = parseStream(e.stream);
      let t = byTopic.get(topic);
      if (t === undefined) byTopic.set(topic, (t = []));
      t.push({ index: partition, records: e.payload });
    }
    const started = performance.now();
    const body = encodeProduceRequest(PRODUCE_VERSION, {
      transactionalId: null,
      acks: -1,
      timeoutMs: config.timeout,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    });
    let res;
    try {
      res = parseProduceResponse(PRODUCE_VERSION, await this.conn(to).request(API_PRODUCE, PRODUCE_VERSION, body, config.timeout + 5000));
    } catch (err) {
      const message = `spool forwarder: Produce to ${to.host}:${to.port}: ${String((err as Error).message ?? err)}`;
      dep.failure(token, performance.now() - started, message);
      return message;
    }
    let problem: string | undefined;
    let trouble: number | undefined;
    for (const t of res.topics) {
      for (const p of t.partitions) {
        const list = byStream.get(`${t.name}:${p.index}`);
        if (list === undefined) continue;
        if (p.errorCode === KafkaErrorCode.NONE) {
          for (const e of list) this.done.add(e.seq);
        } else if (FATAL.has(p.errorCode)) {
          await this.setAside(list, p.errorCode, p.errorMessage);
          for (const e of list) this.done.add(e.seq);
        } else {
          if (TROUBLE.has(p.errorCode)) trouble = p.errorCode;
          problem ??= `spool forwarder: ${t.name}[${p.index}] answered ${errorName(p.errorCode)}`;
        }
      }
    }
    const ms = performance.now() - started;
    if (trouble !== undefined) dep.failure(token, ms, `spool forwarder: Produce answered ${errorName(trouble)}`);
    else dep.success(token, ms);
    return problem;
  }

  /** Batches the cluster refuses for good: kept on disk with the reason, counted, logged. */
  private async setAside(list: SpoolEntry[], code: number, message: string | null): Promise<void> {
    const file = path.join(this.o.dir, 'rejected.log');
    const lines = list.map((e) =>
      JSON.stringify({ at: new Date().toISOString(), stream: e.stream, seq: e.seq, records: e.count, appendedAt: e.appendedAt, error: errorName(code), message, payload: e.payload.toString('base64') }),
    );
    await fsp.appendFile(file, lines.join('\n') + '\n');
    const records = list.reduce((n, e) => n + e.count, 0);
    this.o.onRejected(errorName(code), records);
    this.o.log.error({ stream: list[0]!.stream, records, error: errorName(code), file }, `Kafka refused ${records} spooled records of ${list[0]!.stream} for good (${errorName(code)}): kept in ${file}`);
  }

  /** Leader address per stream ("topic:partition"), from a fresh Metadata request. */
  private async leaders(topics: string[]): Promise<Map<string, Upstream & { nodeId: number }>> {
    const { dep, config, cluster } = this.o;
    const token = dep.admit();
    if (typeof token !== 'number') throw new Error(`breaker ${dep.breaker.state}`);
    const ups = config.upstream;
    const bootstrap = ups[this.nextBootstrap++ % ups.length]!;
    const i = bootstrap.lastIndexOf(':');
    const to = { host: bootstrap.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(bootstrap.slice(i + 1)) };
    const w = new Writer(64).arrayLength(topics.length);
    for (const t of topics) w.string(t);
    w.bool(false);
    const started = performance.now();
    let model;
    try {
      model = parseMetadataResponse(METADATA_VERSION, await this.conn(to).request(API_METADATA, METADATA_VERSION, w.view(), config.timeout));
      dep.success(token, performance.now() - started);
    } catch (err) {
      dep.failure(token, performance.now() - started, `spool forwarder: Metadata from ${bootstrap}: ${String((err as Error).message ?? err)}`);
      throw err;
    }
    cluster.learnMetadata(model, false);
    const brokers = new Map(model.brokers.map((b) => [b.nodeId, b]));
    await cluster.ensure(model.brokers);
    const out = new Map<string, Upstream & { nodeId: number }>();
    for (const t of model.topics) {
      if (t.errorCode !== 0 || t.name === null) continue;
      for (const p of t.partitions) {
        const b = brokers.get(p.leaderId);
        if (p.errorCode === 0 && b !== undefined) out.set(`${t.name}:${p.partitionIndex}`, { host: b.host, port: b.port, nodeId: b.nodeId });
      }
    }
    return out;
  }

  private conn(to: Upstream): KafkaClientConnection {
    const key = `${to.host}:${to.port}`;
    let c = this.conns.get(key);
    if (c === undefined || c.dead) {
      c = new KafkaClientConnection(to.host, to.port, this.o.config.connectTimeout, this.o.config.maxFrameBytes);
      this.conns.set(key, c);
    }
    return c;
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}
