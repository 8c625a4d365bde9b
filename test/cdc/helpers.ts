// Shared pieces of the CDC consumer tests: a sidecar whose cdc section reads a real Kafka and
// writes a real ClickHouse, the shipped DDL applied, Debezium-shaped messages (the envelope the
// PostgreSQL connector writes, with or without the {schema, payload} wrapper), and reads back.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { withClickHouse, withKafka, type ClickHouseServer, type KafkaServer } from '../services/index.js';
import { startBreakwater, type Breakwater, type TeardownHost } from '../support/breakwater.js';

export const TOKEN = 'secret-token';

/** The shipped ClickHouse DDL (config/cdc/clickhouse.sql), statement by statement. */
export async function applyShippedDdl(ch: ClickHouseServer): Promise<void> {
  const sql = readFileSync('config/cdc/clickhouse.sql', 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('--'))
    .join('\n');
  for (const stmt of sql.split(';').map((s) => s.trim()).filter((s) => s !== '')) await ch.query(stmt);
}

export const DEFAULT_TOPICS = `    cdc.posts:    { table: posts_cdc,    key: [id],                        version: cdc_timestamp }
    cdc.follows:  { table: follows_cdc,  key: [follower_id, following_id], version: cdc_timestamp }
    cdc.comments: { table: comments_cdc, key: [id],                        version: cdc_timestamp }
    cdc.likes:    { table: likes_cdc,    key: [user_id, post_id],          version: cdc_timestamp }
`;

export interface CdcSidecarOptions {
  brokers: readonly string[];
  clickhouse: string;
  topics?: string;
  groupId?: string;
  batch?: string;
  breaker?: string;
  startup?: string;
  extraCdc?: string;
  logLevel?: string;
  /** dependencies.clickhouse.required (default true) */
  required?: boolean;
}

export function cdcYaml(o: CdcSidecarOptions, listenPort: number): string {
  return `admin: { listen: "{{ADMIN}}", token: ${TOKEN} }
log: { level: ${o.logLevel ?? 'info'} }
startup: ${o.startup ?? '{ timeout: 60s, onTimeout: serve-unready }'}
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${listenPort}
    upstream: ${o.clickhouse}
    required: ${o.required ?? true}
    fedByCdc: true
    breaker: ${o.breaker ?? '{ failures: 2, openFor: 2s, halfOpenSuccesses: 1 }'}
    health: { interval: 500ms, timeout: 1s, unhealthyThreshold: 2 }
cdc:
  brokers: [${o.brokers.join(', ')}]
  clickhouse: clickhouse
  groupId: ${o.groupId ?? 'breakwater-cdc'}
  deadLetterTopic: cdc.dlq
  batch: ${o.batch ?? '{ rows: 5000, interval: 200ms }'}
  sessionTimeout: 10s
  lagInterval: 500ms
  retryBackoff: 1s
${o.extraCdc ?? ''}  topics:
${o.topics ?? DEFAULT_TOPICS}`;
}

export async function cdcSidecar(t: TeardownHost, o: CdcSidecarOptions, listenPort: number): Promise<Breakwater> {
  return startBreakwater(t, cdcYaml(o, listenPort));
}

/** Waits until /status says the consumer runs (joined its group). */
export async function waitRunning(bw: Breakwater, timeoutMs = 60_000): Promise<any> {
  let status: any;
  await bw.waitFor(
    async () => {
      status = (await bw.get('/status')).body;
      return status?.cdc?.state === 'running';
    },
    'the CDC consumer to run',
    timeoutMs,
  );
  return status.cdc;
}

export function kafkaClient(brokers: readonly string[]): Kafka {
  return new Kafka({ clientId: 'cdc-test', brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 200 } });
}

export async function createTopics(admin: Admin, topics: string[], numPartitions = 3): Promise<void> {
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions })), waitForLeaders: true });
}

export const ORIGINAL_TOPICS = ['cdc.posts', 'cdc.follows', 'cdc.comments', 'cdc.likes'];

export interface CdcServices {
  kafka: KafkaServer;
  ch: ClickHouseServer;
  client: Kafka;
  admin: Admin;
  producer: Producer;
}

/** A real Kafka with `topics` created and a real ClickHouse with the shipped DDL, torn down with `t`. */
export async function cdcServices(t: TeardownHost, topics = ORIGINAL_TOPICS, partitions = 3): Promise<CdcServices> {
  const [kafka, ch] = await Promise.all([withKafka(t), withClickHouse(t)]);
  await applyShippedDdl(ch);
  const client = kafkaClient(kafka.brokers);
  const admin = client.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await createTopics(admin, topics, partitions);
  const producer = client.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  return { kafka, ch, client, admin, producer };
}

// --- Debezium-shaped messages ---------------------------------------------------------------

export interface PostRow {
  id: string;
  user_id: string;
  caption: string | null;
  image_key: string | null;
  soft_delete: boolean;
  /** microseconds since the epoch (MicroTimestamp), the wall clock as if UTC */
  created_at: number;
}

const POST_FIELDS = [
  { type: 'string', optional: false, name: 'io.debezium.data.Uuid', version: 1, field: 'id' },
  { type: 'string', optional: false, name: 'io.debezium.data.Uuid', version: 1, field: 'user_id' },
  { type: 'string', optional: true, field: 'caption' },
  { type: 'string', optional: true, field: 'image_key' },
  { type: 'boolean', optional: false, default: false, field: 'soft_delete' },
  { type: 'int64', optional: false, name: 'io.debezium.time.MicroTimestamp', version: 1, field: 'created_at' },
];

function envelopeSchema(table: string, fields: unknown[]): unknown {
  return {
    type: 'struct',
    fields: [
      { type: 'struct', fields, optional: true, name: `nova.public.${table}.Value`, field: 'before' },
      { type: 'struct', fields, optional: true, name: `nova.public.${table}.Value`, field: 'after' },
      { type: 'struct', fields: [{ type: 'string', optional: false, field: 'version' }, { type: 'int64', optional: true, field: 'lsn' }], optional: false, name: 'io.debezium.connector.postgresql.Source', field: 'source' },
      { type: 'string', optional: false, field: 'op' },
      { type: 'int64', optional: true, field: 'ts_ms' },
    ],
    optional: false,
    name: `nova.public.${table}.Envelope`,
    version: 2,
  };
}

/** A change event for `posts` as Debezium's PostgreSQL connector writes it. */
export function postEvent(op: 'c' | 'u' | 'd' | 'r', row: PostRow, lsn: number, schemas: boolean): string {
  const keyOnly = { id: row.id, user_id: null, caption: null, image_key: null, soft_delete: null, created_at: null };
  const tsMs = Math.floor(Date.now());
  const payload = {
    before: op === 'd' ? keyOnly : null,
    after: op === 'd' ? null : row,
    source: { version: '3.6.1.Final', connector: 'postgresql', name: 'nova', ts_ms: tsMs, snapshot: op === 'r' ? 'true' : 'false', db: 'app', schema: 'public', table: 'posts', txId: 1000 + lsn, lsn },
    transaction: null,
    op,
    ts_ms: tsMs,
  };
  return JSON.stringify(schemas ? { schema: envelopeSchema('posts', POST_FIELDS), payload } : payload);
}

export function postKey(id: string, schemas: boolean): string {
  return JSON.stringify(schemas ? { schema: { type: 'struct', fields: [{ type: 'string', optional: false, name: 'io.debezium.data.Uuid', field: 'id' }], optional: false, name: 'nova.public.posts.Key' }, payload: { id } } : { id });
}

let uuidCounter = 0;
/** Deterministic distinct UUIDs for a test run. */
export function uuid(seed = ++uuidCounter): string {
  const h = seed.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${h}`;
}

/** posts_cdc as ClickHouse holds it now: FINAL, without deleted rows, ordered by id. */
export async function postsInClickHouse(ch: ClickHouseServer): Promise<Record<string, unknown>[]> {
  const text = await ch.query('SELECT id, user_id, caption, image_key, soft_delete, toUnixTimestamp(created_at) AS created_at FROM posts_cdc FINAL WHERE is_deleted = 0 ORDER BY id FORMAT JSONEachRow');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** What postsInClickHouse should return for these PostgreSQL-side rows. */
export function expectedPosts(rows: Iterable<PostRow>): Record<string, unknown>[] {
  return [...rows]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => ({ id: r.id, user_id: r.user_id, caption: r.caption, image_key: r.image_key, soft_delete: r.soft_delete ? 1 : 0, created_at: Math.floor(r.created_at / 1e6) }));
}

export async function countRows(ch: ClickHouseServer, sql: string): Promise<number> {
  return Number((await ch.query(sql)).trim());
}
