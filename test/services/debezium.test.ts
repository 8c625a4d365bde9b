// Self-test of the CDC source harness: a real PostgreSQL (wal_level=logical),
// Kafka Connect standalone with the Debezium PostgreSQL connector (pgoutput,
// topic prefix nova, RegexRouter nova.public.X -> cdc.X, JsonConverter) and a
// real Kafka broker. Snapshot reads, inserts, updates, deletes + tombstones on
// posts, inserts on follows/comments/likes and a table of typed columns,
// checked message by message, with schemas.enable on and off. The broker runs
// with auto.create.topics.enable=false: Connect creates the cdc.* topics.
//
// With BREAKWATER_WRITE_CDC_FIXTURES=1 the messages are also written to
// test/cdc/fixtures/*.json (topic, key and value as the UTF-8 text Kafka
// holds; value null for a tombstone) for the decoder's unit tests.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Consumer, Kafka as KafkaClient } from 'kafkajs';
import {
  CONNECT_VERSION,
  DEBEZIUM_VERSION,
  SOCIAL_SCHEMA_SQL,
  poll,
  withDebezium,
  withKafka,
  withPostgres,
  type DebeziumServer,
  type KafkaServer,
  type PostgresServer,
} from './index.js';
import { fileTimeoutAtLeast } from '../support/file-timeout.js';

const { Kafka, logLevel } = kafkajs;

// Per subtest: a broker and PostgreSQL (in parallel, ~6 s), Connect (~5 s),
// 10k changes; about 60 s for the file on an idle 2-core machine.
fileTimeoutAtLeast(t, 240_000);

const WRITE_FIXTURES = process.env.BREAKWATER_WRITE_CDC_FIXTURES === '1';
const FIXTURE_DIR = fileURLToPath(new URL('../../../test/cdc/fixtures/', import.meta.url));

const TABLES = ['posts', 'follows', 'comments', 'likes', 'typed_samples'];

const TYPED_SAMPLES_SQL = `
CREATE TABLE typed_samples (
  id uuid PRIMARY KEY,
  label text,
  flag boolean,
  amount numeric(12,3),
  ratio numeric,
  day date,
  at_local timestamp,
  at_local_ms timestamp(3),
  at_tz timestamptz,
  qty integer,
  big bigint,
  score double precision
);`;

// fixed ids and times: the fixtures differ between runs only in ts_ms/ts_us/ts_ns, txId and lsn
const ID = {
  snapPost: '11111111-1111-4111-8111-111111111111',
  post: '22222222-2222-4222-8222-222222222222',
  user: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  user2: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
  comment: '33333333-3333-4333-8333-333333333333',
  typed: '44444444-4444-4444-8444-444444444444',
  typedNeg: '55555555-5555-4555-8555-555555555555',
  afterRestart: '66666666-6666-4666-8666-666666666666',
};
const CREATED_AT = '2024-02-29 12:34:56.789012';
// 2024-02-29T12:34:56.789012 as microseconds since the epoch (timestamp without time zone)
const CREATED_AT_US = 1709210096789012;

interface Captured {
  topic: string;
  offset: string;
  key: string | null;
  value: string | null;
}

function client(kafka: KafkaServer): KafkaClient {
  return new Kafka({
    clientId: 'breakwater-debezium-selftest',
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/** Collects every message of `topics` from the beginning; wait for counts with waitFor(). */
class Collector {
  readonly byTopic = new Map<string, Captured[]>();
  #consumer: Consumer;
  #failure: unknown;

  constructor(kafka: KafkaClient, groupId: string) {
    this.#consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100, maxBytes: 50 * 1024 * 1024 });
  }

  async start(topics: string[]): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics, fromBeginning: true });
    this.#consumer
      .run({
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          const list = this.byTopic.get(batch.topic) ?? [];
          this.byTopic.set(batch.topic, list);
          for (const m of batch.messages) {
            list.push({
              topic: batch.topic,
              offset: m.offset,
              key: m.key === null ? null : m.key.toString('utf8'),
              value: m.value === null ? null : m.value.toString('utf8'),
            });
          }
        },
      })
      .catch((err: unknown) => {
        this.#failure = err;
      });
  }

  messages(topic: string): Captured[] {
    return this.byTopic.get(topic) ?? [];
  }

  async waitFor(topic: string, n: number, timeoutMs = 60_000): Promise<Captured[]> {
    return poll(`${n} messages on ${topic}`, timeoutMs, () => {
      if (this.#failure) throw this.#failure;
      const got = this.messages(topic);
      return got.length >= n ? got : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}; got ${this.messages(topic).length}: ${JSON.stringify(this.messages(topic).slice(-3))}`);
    });
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect();
  }
}

type Json = Record<string, unknown>;

/** A BigInteger's toByteArray(): minimal big-endian two's complement, as base64 (Connect's Decimal in JSON). */
function unscaledBase64(v: bigint): string {
  const bytes: number[] = [];
  for (;;) {
    const b = Number(BigInt.asUintN(8, v));
    bytes.unshift(b);
    v >>= 8n;
    if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes).toString('base64');
}

function parse(text: string | null): Json {
  if (text === null) throw new Error('expected a JSON message, got a tombstone (null)');
  return JSON.parse(text) as Json;
}

/** The payload of a message: the whole JSON without schemas, its `payload` with them. */
function payloadOf(text: string | null, schemas: boolean): Json {
  const j = parse(text);
  return schemas ? (j.payload as Json) : j;
}

interface SchemaField {
  field: string;
  type: string;
  optional: boolean;
  name?: string;
  version?: number;
  parameters?: Record<string, string>;
  fields?: SchemaField[];
}

function fieldSchema(schema: { fields?: SchemaField[] }, ...names: string[]): SchemaField | undefined {
  let cur: { fields?: SchemaField[] } | undefined = schema;
  let found: SchemaField | undefined;
  for (const n of names) {
    found = cur?.fields?.find((f) => f.field === n);
    cur = found;
  }
  return found;
}

function writeFixture(name: string, m: Captured): void {
  if (!WRITE_FIXTURES) return;
  fs.mkdirSync(FIXTURE_DIR, { recursive: true });
  fs.writeFileSync(path.join(FIXTURE_DIR, name), `${JSON.stringify({ topic: m.topic, key: m.key, value: m.value }, null, 2)}\n`);
}

async function topicsExist(kafka: KafkaClient, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await poll(`topics ${topics.join(', ')} created by Connect`, 60_000, async () => {
      const have = new Set(await admin.listTopics());
      return topics.every((x) => have.has(x)) ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
}

t.test('the installer and debezium.ts agree on the versions', async (t) => {
  const installer = fileURLToPath(new URL('../../../test/services/debezium-install.sh', import.meta.url));
  const text = fs.readFileSync(installer, 'utf8');
  t.equal(/^DEBEZIUM_VERSION=(\S+)$/m.exec(text)?.[1], DEBEZIUM_VERSION, `DEBEZIUM_VERSION in ${installer}`);
  t.equal(/^CONNECT_VERSION=(\S+)$/m.exec(text)?.[1], CONNECT_VERSION, `CONNECT_VERSION in ${installer}`);
});

for (const schemas of [false, true]) {
  const tag = schemas ? 'schemas-on' : 'schemas-off';
  t.test(`Debezium PostgreSQL -> Kafka, JsonConverter schemas.enable=${schemas}`, async (t) => {
    const t0 = Date.now();
    const [kafka, pgs] = await Promise.all([
      withKafka(t, { properties: { 'auto.create.topics.enable': false } }),
      (async (): Promise<PostgresServer> => {
        const s0 = Date.now();
        const s = await withPostgres(t);
        t.comment(`PostgreSQL ${s.version} started in ${Date.now() - s0} ms`);
        return s;
      })(),
    ]);
    t.comment(`Kafka + PostgreSQL ready after ${Date.now() - t0} ms`);
    await pgs.query(SOCIAL_SCHEMA_SQL + TYPED_SAMPLES_SQL);
    // committed before the connector starts: a snapshot read (op r)
    await pgs.query(`INSERT INTO posts (id, user_id, caption, image_key, created_at) VALUES ($1, $2, 'snapshot row', 'img/s.jpg', $3)`, [
      ID.snapPost,
      ID.user,
      CREATED_AT,
    ]);

    const d0 = Date.now();
    const dbz: DebeziumServer = await withDebezium(t, {
      bootstrap: kafka.brokers[0] as string,
      postgres: pgs,
      tables: TABLES,
      schemasEnable: schemas,
    });
    t.comment(`Kafka Connect ${CONNECT_VERSION} + Debezium ${DEBEZIUM_VERSION} streaming ${Date.now() - d0} ms after start`);
    const st = await dbz.status();
    t.equal(st.connector.state, 'RUNNING', 'connector RUNNING');
    t.same(
      st.tasks.map((x) => x.state),
      ['RUNNING'],
      'one task, RUNNING',
    );
    t.same(dbz.topics, TABLES.map((x) => `cdc.${x}`));

    // streamed changes
    await pgs.query(`INSERT INTO posts (id, user_id, caption, image_key, created_at) VALUES ($1, $2, 'hello', 'img/1.jpg', $3)`, [ID.post, ID.user, CREATED_AT]);
    await pgs.query(`UPDATE posts SET caption = 'hello, edited', soft_delete = true WHERE id = $1`, [ID.post]);
    await pgs.query(`DELETE FROM posts WHERE id = $1`, [ID.post]);
    await pgs.query(`INSERT INTO follows (follower_id, following_id, created_at) VALUES ($1, $2, $3)`, [ID.user, ID.user2, CREATED_AT]);
    await pgs.query(`INSERT INTO comments (id, post_id, user_id, content, created_at) VALUES ($1, $2, $3, 'nice', $4)`, [ID.comment, ID.snapPost, ID.user2, CREATED_AT]);
    await pgs.query(`INSERT INTO likes (user_id, post_id, created_at) VALUES ($1, $2, $3)`, [ID.user2, ID.snapPost, CREATED_AT]);
    await pgs.query(
      `INSERT INTO typed_samples VALUES ($1, 'héllo "q" ✓', true, 1234.5, 3.14159265358979, '2024-02-29',
         '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789012+02', 42, 9007199254740993, 0.1)`,
      [ID.typed],
    );
    await pgs.query(
      `INSERT INTO typed_samples VALUES ($1, NULL, false, -0.001, -12345678901234567890.123456789, '1969-12-31',
         '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00', '1969-12-31 23:59:59.5-08', -2147483648, -9223372036854775808, -1.5e300)`,
      [ID.typedNeg],
    );

    const kc = client(kafka);
    await topicsExist(kc, dbz.topics);
    const col = new Collector(kc, `debezium-selftest-${tag}`);
    t.teardown(() => col.stop());
    await col.start(dbz.topics);

    // --- posts: r, c, u, d, tombstone -----------------------------------------
    const posts = await col.waitFor('cdc.posts', 5);
    t.equal(posts.length, 5, 'cdc.posts: exactly 5 messages so far');
    const [snap, ins, upd, del, tomb] = posts as [Captured, Captured, Captured, Captured, Captured];

    const keyOf = (m: Captured): Json => payloadOf(m.key, schemas);
    t.same(keyOf(snap), { id: ID.snapPost }, 'snapshot key: the primary key');
    t.same(keyOf(ins), { id: ID.post }, 'insert key');
    t.same(keyOf(tomb), { id: ID.post }, 'tombstone key');
    t.equal(tomb.value, null, 'a tombstone (null value) follows the delete');

    const rowAfter = { id: ID.post, user_id: ID.user, caption: 'hello', image_key: 'img/1.jpg', soft_delete: false, created_at: CREATED_AT_US };
    const ps = payloadOf(snap.value, schemas);
    t.equal(ps.op, 'r', 'snapshot: op r');
    t.equal(ps.before, null, 'snapshot: before null');
    t.same(ps.after, { ...rowAfter, id: ID.snapPost, caption: 'snapshot row', image_key: 'img/s.jpg' }, 'snapshot: after is the row');
    const snapSource = ps.source as Json;
    t.ok(['first', 'true', 'last', 'first_in_data_collection', 'last_in_data_collection'].includes(String(snapSource.snapshot)), `snapshot source.snapshot=${String(snapSource.snapshot)}`);

    const pc = payloadOf(ins.value, schemas);
    t.equal(pc.op, 'c');
    t.equal(pc.before, null, 'insert: before null');
    t.same(pc.after, rowAfter, 'insert: after: uuid strings, boolean, created_at as int64 microseconds');
    const src = pc.source as Json;
    t.match(
      src,
      {
        connector: 'postgresql',
        name: 'nova',
        db: pgs.database,
        schema: 'public',
        table: 'posts',
        snapshot: 'false',
        version: DEBEZIUM_VERSION,
        ts_ms: Number,
        txId: Number,
        lsn: Number,
      },
      'source block',
    );
    t.type(pc.ts_ms, 'number', 'envelope ts_ms');

    const pu = payloadOf(upd.value, schemas);
    t.equal(pu.op, 'u');
    t.equal(pu.before, null, 'update with REPLICA IDENTITY DEFAULT: before is null');
    t.same(pu.after, { ...rowAfter, caption: 'hello, edited', soft_delete: true }, 'update: after is the new row');

    const pd = payloadOf(del.value, schemas);
    t.equal(pd.op, 'd');
    t.equal(pd.after, null, 'delete: after null');
    t.same(
      pd.before,
      { id: ID.post, user_id: '', caption: null, image_key: null, soft_delete: false, created_at: 0 },
      'delete with REPLICA IDENTITY DEFAULT: before has the key; NOT NULL columns get their DEFAULT (soft_delete false) or a placeholder (uuid "", timestamp 0), nullable ones null',
    );

    if (schemas) {
      const env = parse(ins.value) as { schema: { name: string; type: string; fields: SchemaField[] } };
      t.equal(env.schema.name, 'nova.public.posts.Envelope', 'envelope schema name keeps the original topic name');
      t.equal(fieldSchema(env.schema, 'after', 'id')?.name, 'io.debezium.data.Uuid');
      t.equal(fieldSchema(env.schema, 'after', 'created_at')?.name, 'io.debezium.time.MicroTimestamp');
      t.equal(fieldSchema(env.schema, 'after', 'created_at')?.type, 'int64');
      t.equal(fieldSchema(env.schema, 'after', 'soft_delete')?.type, 'boolean');
      const key = parse(ins.key) as { schema: { name: string } };
      t.equal(key.schema.name, 'nova.public.posts.Key', 'key schema name');
    } else {
      t.notOk('schema' in parse(ins.value), 'no {schema, payload} wrapper');
    }

    writeFixture(`posts.snapshot.${tag}.json`, snap);
    writeFixture(`posts.insert.${tag}.json`, ins);
    writeFixture(`posts.update.${tag}.json`, upd);
    writeFixture(`posts.delete.${tag}.json`, del);
    writeFixture(`posts.tombstone.${tag}.json`, tomb);

    // --- follows, comments, likes ---------------------------------------------
    const [follow] = await col.waitFor('cdc.follows', 1);
    t.same(keyOf(follow as Captured), { follower_id: ID.user, following_id: ID.user2 }, 'follows key: the composite primary key');
    t.same(payloadOf((follow as Captured).value, schemas).after, { follower_id: ID.user, following_id: ID.user2, created_at: CREATED_AT_US });
    const [comment] = await col.waitFor('cdc.comments', 1);
    t.same(payloadOf((comment as Captured).value, schemas).after, { id: ID.comment, post_id: ID.snapPost, user_id: ID.user2, content: 'nice', created_at: CREATED_AT_US });
    const [like] = await col.waitFor('cdc.likes', 1);
    t.same(keyOf(like as Captured), { user_id: ID.user2, post_id: ID.snapPost });
    t.same(payloadOf((like as Captured).value, schemas).after, { user_id: ID.user2, post_id: ID.snapPost, created_at: CREATED_AT_US });
    writeFixture(`follows.insert.${tag}.json`, follow as Captured);
    writeFixture(`comments.insert.${tag}.json`, comment as Captured);
    writeFixture(`likes.insert.${tag}.json`, like as Captured);

    // --- typed columns ------------------------------------------------------------
    const [typed, typedNeg] = (await col.waitFor('cdc.typed_samples', 2)) as [Captured, Captured];
    const ta = payloadOf(typed.value, schemas).after as Json;
    t.equal(ta.id, ID.typed, 'uuid: string');
    t.equal(ta.label, 'héllo "q" ✓', 'text: string');
    t.equal(ta.flag, true, 'boolean');
    // 1234.500 = unscaled 1234500 = 0x12D644 (big-endian two's complement)
    t.equal(ta.amount, unscaledBase64(1234500n), 'numeric(12,3): base64 of the unscaled value, scale 3 in the schema');
    // 3.14159265358979 = 314159265358979 * 10^-14
    t.same(ta.ratio, { scale: 14, value: unscaledBase64(314159265358979n) }, 'numeric: VariableScaleDecimal {scale, value}');
    t.equal(ta.day, 19782, 'date: days since the epoch');
    t.equal(ta.at_local, 1709210096789012, 'timestamp: int64 microseconds (MicroTimestamp)');
    t.equal(ta.at_local_ms, 1709210096789, 'timestamp(3): int64 milliseconds (Timestamp)');
    t.equal(ta.at_tz, '2024-02-29T10:34:56.789012Z', 'timestamptz: ISO string in UTC (ZonedTimestamp)');
    t.equal(ta.qty, 42, 'integer');
    t.match(typed.value as string, /"big":9007199254740993\b/, 'bigint: a JSON number with all digits (beyond 2^53)');
    t.equal(ta.score, 0.1, 'double precision');

    const tn = payloadOf(typedNeg.value, schemas).after as Json;
    t.equal(tn.label, null, 'NULL text: null');
    t.equal(tn.amount, Buffer.from([0xff]).toString('base64'), 'numeric(12,3) -0.001: unscaled -1 = 0xff');
    t.equal(tn.day, -1, 'date before the epoch: negative days');
    t.equal(tn.at_local, -1, 'timestamp 1969-12-31 23:59:59.999999: -1 µs');
    t.same(tn.ratio, { scale: 9, value: unscaledBase64(-12345678901234567890123456789n) }, 'numeric: negative VariableScaleDecimal');
    t.equal(tn.at_tz, '1970-01-01T07:59:59.500000Z', 'timestamptz: UTC, the fraction with 6 digits');
    t.equal(tn.qty, -2147483648);
    t.match(typedNeg.value as string, /"big":-9223372036854775808\b/, 'bigint min as a JSON number');
    t.equal(tn.score, -1.5e300);

    if (schemas) {
      const env = parse(typed.value) as { schema: { fields: SchemaField[] } };
      const f = (name: string): SchemaField | undefined => fieldSchema(env.schema, 'after', name);
      t.match(f('amount'), { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '3', 'connect.decimal.precision': '12' } });
      t.match(f('ratio'), { type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' });
      t.match(f('day'), { type: 'int32', name: 'io.debezium.time.Date' });
      t.match(f('at_local'), { type: 'int64', name: 'io.debezium.time.MicroTimestamp' });
      t.match(f('at_local_ms'), { type: 'int64', name: 'io.debezium.time.Timestamp' });
      t.match(f('at_tz'), { type: 'string', name: 'io.debezium.time.ZonedTimestamp' });
      t.match(f('id'), { type: 'string', name: 'io.debezium.data.Uuid' });
      t.match(f('qty'), { type: 'int32' });
      t.match(f('big'), { type: 'int64' });
      t.match(f('score'), { type: 'double' });
      t.match(f('flag'), { type: 'boolean' });
    }
    writeFixture(`typed_samples.insert.${tag}.json`, typed);
    writeFixture(`typed_samples.insert-negative-null.${tag}.json`, typedNeg);

    if (!schemas) {
      // --- throughput: 10k inserts in one transaction, then 10k in 100 transactions ---
      for (const [what, sql] of [
        ['10000 inserts in 1 transaction', `INSERT INTO posts (id, user_id, caption) SELECT gen_random_uuid(), gen_random_uuid(), 'bulk ' || g FROM generate_series(1, 10000) g`],
        [
          '10000 inserts in 100 transactions',
          `DO $$ BEGIN FOR i IN 1..100 LOOP INSERT INTO posts (id, user_id, caption) SELECT gen_random_uuid(), gen_random_uuid(), 'tx ' || g FROM generate_series(1, 100) g; COMMIT; END LOOP; END $$`,
        ],
      ] as const) {
        const before = col.messages('cdc.posts').length;
        const b0 = Date.now();
        await pgs.query(sql);
        const committed = Date.now() - b0;
        await col.waitFor('cdc.posts', before + 10_000, 120_000);
        t.comment(`${what}: committed in ${committed} ms, all 10000 on cdc.posts ${Date.now() - b0} ms after the first statement`);
        t.equal(col.messages('cdc.posts').length, before + 10_000, `${what}: 10000 messages`);
      }
    } else {
      // --- restart Connect: it resumes from its offsets file and the slot ---------
      const before = col.messages('cdc.posts').length;
      const r0 = Date.now();
      await dbz.restart();
      t.comment(`Connect restarted (streaming again) in ${Date.now() - r0} ms`);
      await pgs.query(`INSERT INTO posts (id, user_id, caption, created_at) VALUES ($1, $2, 'after restart', $3)`, [ID.afterRestart, ID.user, CREATED_AT]);
      const all = await poll('the insert after the restart on cdc.posts', 60_000, () => {
        const m = col.messages('cdc.posts');
        return m.slice(before).some((x) => x.value !== null && (payloadOf(x.value, schemas).after as Json | null)?.id === ID.afterRestart) ? m : undefined;
      });
      const extra = all.slice(before);
      t.comment(`messages on cdc.posts after the restart: ${extra.length} (re-sent before the new insert: ${extra.length - 1})`);
      t.equal(payloadOf((extra[extra.length - 1] as Captured).value, schemas).op, 'c', 'the new insert streams after the restart');
    }

    await col.stop();
    // Connect first (it flushes to Kafka and closes its slot connection), then the servers (teardown)
    await dbz.stop();
    t.comment(`subtest done after ${Date.now() - t0} ms`);
  });
}
