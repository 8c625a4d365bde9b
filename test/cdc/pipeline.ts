// The real pipeline, end to end: PostgreSQL (wal_level=logical) → Debezium's PostgreSQL connector
// in Kafka Connect standalone (RegexRouter to cdc.<table>) → Kafka → breakwater → ClickHouse.
// A workload of mixed inserts, updates and deletes on the original schema, and a comparison of
// each ClickHouse table (FINAL, is_deleted = 0) with its PostgreSQL table by content hash.
import { createHash, randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { freePort, withClickHouse, withDebezium, withKafka, withPostgres, type ClickHouseServer, type DebeziumServer, type KafkaServer, type PostgresServer } from '../services/index.js';
import { SOCIAL_SCHEMA_SQL } from '../services/postgres.js';
import type { Breakwater, TeardownHost } from '../support/breakwater.js';
import { applyShippedDdl, cdcSidecar, createTopics, kafkaClient, waitRunning } from './helpers.js';

export const TABLES = ['posts', 'follows', 'comments', 'likes'] as const;
export type Table = (typeof TABLES)[number];

export interface Pipeline {
  kafka: KafkaServer;
  ch: ClickHouseServer;
  pg: PostgresServer;
  debezium: DebeziumServer;
  listenPort: number;
  startSidecar(t: TeardownHost, batch?: string): Promise<Breakwater>;
}

export async function startPipeline(t: TeardownHost, schemasEnable: boolean): Promise<Pipeline> {
  const [kafka, ch, pg] = await Promise.all([withKafka(t), withClickHouse(t), withPostgres(t)]);
  await pg.query(SOCIAL_SCHEMA_SQL);
  await applyShippedDdl(ch);
  const admin = kafkaClient(kafka.brokers).admin();
  await admin.connect();
  await createTopics(admin, TABLES.map((x) => `cdc.${x}`), 3);
  await admin.disconnect();
  const debezium = await withDebezium(t, { bootstrap: kafka.brokers.join(','), postgres: pg, tables: [...TABLES], schemasEnable });
  const listenPort = await freePort();
  return {
    kafka,
    ch,
    pg,
    debezium,
    listenPort,
    async startSidecar(t, batch = '{ rows: 10000, interval: 500ms }') {
      const bw = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url, batch, logLevel: 'warn' }, listenPort);
      await waitRunning(bw, 90_000);
      return bw;
    },
  };
}

// --- the workload ----------------------------------------------------------------------------

const WEIRD = ['plain', 'with "quotes" and \\backslashes\\', 'line\nbreak\tand tab', 'émoji 🚀 ünïcödé', "it's", '', '{"json":"looking"}'];

/** Mixed inserts, updates and deletes on the four tables, sent in multi-statement transactions. */
export class Workload {
  private readonly posts: string[] = [];
  private readonly users: string[] = Array.from({ length: 200 }, () => randomUUID());
  private readonly follows = new Map<string, [string, string]>();
  private readonly comments: string[] = [];
  private readonly likes = new Map<string, [string, string]>();
  ops = 0;
  private seq = 0;

  constructor(private readonly pg: PostgresServer) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(Math.random() * xs.length)]!;
  }
  private ts(): string {
    // timestamp without time zone with microseconds, 2020..2025
    const ms = Date.UTC(2020, 0, 1) + Math.floor(Math.random() * 5 * 365 * 86_400_000);
    return `'${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}'`;
  }
  private text(): string {
    const s = `${this.pick(WEIRD)} #${this.seq++}`;
    return `'${s.replace(/'/g, "''")}'`;
  }
  private nullableText(): string {
    return Math.random() < 0.2 ? 'NULL' : this.text();
  }

  /** One statement; the op mix is about 60% insert, 25% update, 15% delete. */
  private statement(): string {
    const r = Math.random();
    const table: Table = r < 0.4 ? 'posts' : r < 0.65 ? 'comments' : r < 0.85 ? 'likes' : 'follows';
    const op = Math.random();
    switch (table) {
      case 'posts': {
        if (op < 0.6 || this.posts.length < 20) {
          const id = randomUUID();
          this.posts.push(id);
          return `INSERT INTO posts VALUES ('${id}', '${this.pick(this.users)}', ${this.nullableText()}, ${this.nullableText()}, ${Math.random() < 0.1}, ${this.ts()})`;
        }
        const i = Math.floor(Math.random() * this.posts.length);
        const id = this.posts[i]!;
        if (op < 0.85) return `UPDATE posts SET caption = ${this.nullableText()}, soft_delete = ${Math.random() < 0.3}, created_at = ${this.ts()} WHERE id = '${id}'`;
        this.posts.splice(i, 1);
        return `DELETE FROM posts WHERE id = '${id}'`;
      }
      case 'comments': {
        if (op < 0.6 || this.comments.length < 20) {
          const id = randomUUID();
          this.comments.push(id);
          return `INSERT INTO comments VALUES ('${id}', '${this.posts.length ? this.pick(this.posts) : randomUUID()}', '${this.pick(this.users)}', ${this.text()}, ${this.ts()})`;
        }
        const i = Math.floor(Math.random() * this.comments.length);
        const id = this.comments[i]!;
        if (op < 0.85) return `UPDATE comments SET content = ${this.text()} WHERE id = '${id}'`;
        this.comments.splice(i, 1);
        return `DELETE FROM comments WHERE id = '${id}'`;
      }
      case 'likes':
      case 'follows': {
        const m = table === 'likes' ? this.likes : this.follows;
        const [a, b] = table === 'likes' ? ['user_id', 'post_id'] : ['follower_id', 'following_id'];
        if (op < 0.6 || m.size < 20) {
          const k: [string, string] = [this.pick(this.users), randomUUID()];
          m.set(k.join('/'), k);
          return `INSERT INTO ${table} VALUES ('${k[0]}', '${k[1]}', ${this.ts()})`;
        }
        const key = this.pick([...m.keys()].slice(-500));
        const [x, y] = m.get(key)!;
        if (op < 0.85) return `UPDATE ${table} SET created_at = ${this.ts()} WHERE ${a} = '${x}' AND ${b} = '${y}'`;
        m.delete(key);
        return `DELETE FROM ${table} WHERE ${a} = '${x}' AND ${b} = '${y}'`;
      }
    }
  }

  /** Runs `n` more statements, `perTx` per transaction, at most `ratePerSec` statements a second. */
  async run(n: number, opts: { perTx?: number; ratePerSec?: number } = {}): Promise<void> {
    const perTx = opts.perTx ?? 50;
    const started = Date.now();
    const startOps = this.ops;
    for (let done = 0; done < n; ) {
      const k = Math.min(perTx, n - done);
      const stmts = Array.from({ length: k }, () => this.statement());
      await this.pg.query(`BEGIN; ${stmts.join('; ')}; COMMIT`);
      done += k;
      this.ops += k;
      if (opts.ratePerSec) {
        const due = started + ((this.ops - startOps) / opts.ratePerSec) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}

// --- comparing the two sides -------------------------------------------------------------------

const PG_ROWS: Record<Table, string> = {
  posts: `SELECT id::text AS a, user_id::text AS b, caption AS c, image_key AS d, (CASE WHEN soft_delete THEN 1 ELSE 0 END) AS e, floor(extract(epoch FROM created_at))::bigint::text AS f FROM posts`,
  comments: `SELECT id::text AS a, post_id::text AS b, user_id::text AS c, content AS d, floor(extract(epoch FROM created_at))::bigint::text AS e FROM comments`,
  likes: `SELECT user_id::text AS a, post_id::text AS b, floor(extract(epoch FROM created_at))::bigint::text AS c FROM likes`,
  follows: `SELECT follower_id::text AS a, following_id::text AS b, floor(extract(epoch FROM created_at))::bigint::text AS c FROM follows`,
};
const CH_ROWS: Record<Table, string> = {
  posts: `SELECT toString(id) AS a, toString(user_id) AS b, caption AS c, image_key AS d, soft_delete AS e, toString(toUnixTimestamp(created_at)) AS f FROM posts_cdc FINAL WHERE is_deleted = 0`,
  comments: `SELECT toString(id) AS a, toString(post_id) AS b, toString(user_id) AS c, content AS d, toString(toUnixTimestamp(created_at)) AS e FROM comments_cdc FINAL WHERE is_deleted = 0`,
  likes: `SELECT toString(user_id) AS a, toString(post_id) AS b, toString(toUnixTimestamp(created_at)) AS c FROM likes_cdc FINAL WHERE is_deleted = 0`,
  follows: `SELECT toString(follower_id) AS a, toString(following_id) AS b, toString(toUnixTimestamp(created_at)) AS c FROM follows_cdc FINAL WHERE is_deleted = 0`,
};

export interface TableDigest {
  rows: number;
  sha256: string;
}

function digest(rows: Record<string, unknown>[]): TableDigest {
  // Canonical: each row as a JSON array of its values (numbers as numbers), sorted as text.
  const lines = rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => (typeof r[k] === 'string' && /^\d+$/.test(r[k] as string) ? Number(r[k]) : r[k])))).sort();
  return { rows: lines.length, sha256: createHash('sha256').update(lines.join('\n')).digest('hex') };
}

export async function postgresDigest(pg: PostgresServer, table: Table): Promise<TableDigest> {
  return digest(await pg.query(PG_ROWS[table]));
}

export async function clickhouseDigest(ch: ClickHouseServer, table: Table): Promise<TableDigest> {
  const text = await ch.query(`${CH_ROWS[table]} FORMAT JSONEachRow`);
  return digest(
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

/** Waits until every table's digests match (or the deadline), and returns the last digests. */
export async function converge(p: Pipeline, timeoutMs: number): Promise<Record<Table, { pg: TableDigest; ch: TableDigest }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = {} as Record<Table, { pg: TableDigest; ch: TableDigest }>;
    for (const table of TABLES) out[table] = { pg: await postgresDigest(p.pg, table), ch: await clickhouseDigest(p.ch, table) };
    if (TABLES.every((x) => out[x].pg.sha256 === out[x].ch.sha256) || Date.now() > deadline) return out;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Messages in the dead-letter topic (sum of high watermarks; it is created empty). */
export async function deadLetterCount(kafka: KafkaServer): Promise<number> {
  const admin = kafkaClient(kafka.brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets('cdc.dlq');
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

export function histogramBuckets(metrics: string, name: string): [number, number][] {
  const buckets: [number, number][] = [];
  for (const line of metrics.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)`).exec(line);
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  return buckets;
}

/** p50/p99 from a Prometheus histogram's cumulative buckets (linear within a bucket). */
export function histogramQuantiles(metrics: string, name: string, qs: number[]): number[] {
  return bucketQuantiles(histogramBuckets(metrics, name), qs);
}

/** Quantiles from cumulative [le, count] buckets; `since` (an earlier read) is subtracted first. */
export function bucketQuantiles(buckets: [number, number][], qs: number[], since: [number, number][] = []): number[] {
  buckets = buckets.map(([le, c], i) => [le, c - (since[i]?.[1] ?? 0)]);
  const total = buckets.at(-1)?.[1] ?? 0;
  return qs.map((q) => {
    const want = q * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const [le, count] of buckets) {
      if (count >= want) {
        if (le === Infinity) return prevLe;
        const span = count - prevCount;
        return span === 0 ? le : prevLe + ((want - prevCount) / span) * (le - prevLe);
      }
      prevLe = le;
      prevCount = count;
    }
    return NaN;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The scenario: 100,000 mixed changes in PostgreSQL; midway ClickHouse is killed for
 * 20 s and breakwater is SIGKILLed once; at the end every table matches by content hash and
 * the dead-letter topic is empty.
 */
export async function faultScenario(t: Test, schemasEnable: boolean, total = 100_000): Promise<void> {
  const p = await startPipeline(t, schemasEnable);
  let bw = await p.startSidecar(t);
  const w = new Workload(p.pg);
  const t0 = Date.now();

  await w.run(Math.round(total * 0.35));
  t.comment(`${w.ops} changes made in ${((Date.now() - t0) / 1000).toFixed(1)} s; killing ClickHouse for 20 s`);
  await p.ch.kill();
  const during = w.run(Math.round(total * 0.25), { ratePerSec: Math.round((total * 0.25) / 20) });
  await bw.waitFor(async () => (await bw.metric(/^breakwater_cdc_paused /)) === 1, 'the consumer to pause while ClickHouse is down', 30_000);
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 503, '/readyz 503', 10_000);
  t.pass('paused, and not ready while ClickHouse (required) is down');
  await sleep(20_000 - 1000);
  await p.ch.restart();
  await during;
  t.comment(`${w.ops} changes; ClickHouse back; SIGKILLing breakwater in the middle of the next ${Math.round(total * 0.2)}`);

  const more = w.run(Math.round(total * 0.2), { ratePerSec: Math.round((total * 0.2) / 8) });
  await sleep(3000);
  await bw.stop('SIGKILL');
  await sleep(1000);
  bw = await p.startSidecar(t);
  await more;
  await w.run(total - w.ops);
  t.equal(w.ops, total, `${total} changes made in PostgreSQL`);

  const result = await converge(p, 180_000);
  t.comment(`converged ${((Date.now() - t0) / 1000).toFixed(1)} s after the first change`);
  for (const table of TABLES) {
    const { pg, ch } = result[table];
    t.ok(pg.rows > 0, `${table}: PostgreSQL has ${pg.rows} rows`);
    t.equal(ch.rows, pg.rows, `${table}: ClickHouse FINAL (is_deleted = 0) has as many rows`);
    t.equal(ch.sha256, pg.sha256, `${table}: the content hashes are equal`);
  }
  t.equal(await deadLetterCount(p.kafka), 0, 'nothing in the dead-letter topic');
  const metrics = (await bw.get('/metrics')).body as string;
  const [p50, p99] = histogramQuantiles(metrics, 'breakwater_cdc_event_age_seconds', [0.5, 0.99]);
  t.comment(`event age (PostgreSQL commit to ClickHouse write) since the restart: p50 ${p50!.toFixed(2)} s, p99 ${p99!.toFixed(2)} s (histogram buckets)`);
}
