// The CDC consumer against a real Kafka and a real ClickHouse: Debezium envelopes with and
// without the schema wrapper, every op, tombstones, poison messages to the dead-letter topic,
// offsets committed only for written rows, and what /status and /metrics say about it.
import t from 'tap';
import { freePort } from '../services/index.js';
import { TOKEN, cdcServices, cdcSidecar, countRows, expectedPosts, postEvent, postKey, postsInClickHouse, uuid, waitRunning, type PostRow } from './helpers.js';

t.setTimeout(240_000);

const { kafka, ch, client, producer } = await cdcServices(t);

const bw = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url }, await freePort());
await t.test('the consumer starts with the sidecar', async (t) => {
  const started = await waitRunning(bw);
  t.equal(started.state, 'running', 'the consumer joins its group at startup');
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, '/readyz 200 once ClickHouse is healthy and the consumer runs');
  t.pass('/readyz 200');
});

const posts = new Map<string, PostRow>();
let lsn = 1000;
const micros = (s: string): number => Date.parse(s + 'Z') * 1000 + 123;

async function send(op: 'c' | 'u' | 'd' | 'r', row: PostRow, schemas: boolean): Promise<void> {
  lsn += 8;
  await producer.send({ topic: 'cdc.posts', messages: [{ key: postKey(row.id, schemas), value: postEvent(op, row, lsn, schemas) }] });
  if (op === 'd') {
    posts.delete(row.id);
    await producer.send({ topic: 'cdc.posts', messages: [{ key: postKey(row.id, schemas), value: null }] }); // the tombstone
  } else posts.set(row.id, row);
}

async function untilPostsMatch(what: string): Promise<void> {
  let got: unknown;
  await bw.waitFor(async () => {
    got = await postsInClickHouse(ch);
    return JSON.stringify(got) === JSON.stringify(expectedPosts(posts.values()));
  }, what, 30_000).catch((err: Error) => {
    t.same(got, expectedPosts(posts.values()), what);
    throw err;
  });
  t.pass(what);
}

for (const schemas of [true, false]) {
  await t.test(`Debezium envelopes ${schemas ? 'with' : 'without'} the schema wrapper`, async (t) => {
    const a: PostRow = { id: uuid(), user_id: uuid(), caption: 'first "post" ✓', image_key: 'img/a.jpg', soft_delete: false, created_at: micros('2024-03-01T10:20:30.456') };
    const b: PostRow = { id: uuid(), user_id: uuid(), caption: null, image_key: null, soft_delete: true, created_at: micros('2023-12-31T23:59:59.999') };
    const c: PostRow = { id: uuid(), user_id: uuid(), caption: 'snapshot row', image_key: null, soft_delete: false, created_at: micros('2020-01-01T00:00:00') };
    await send('r', c, schemas);
    await send('c', a, schemas);
    await send('c', b, schemas);
    await send('u', { ...a, caption: 'edited' }, schemas);
    await send('u', { ...a, caption: 'edited twice', soft_delete: true }, schemas);
    await send('d', b, schemas);
    await untilPostsMatch('posts_cdc FINAL without deleted rows equals the source after c, r, u, u, d');
    const row = (await postsInClickHouse(ch)).find((r) => r.id === a.id)!;
    t.equal(row.caption, 'edited twice', 'the latest update wins (highest LSN)');
    t.equal(row.created_at, Date.parse('2024-03-01T10:20:30Z') / 1000, 'MicroTimestamp becomes the same wall-clock second in DateTime(UTC)');
    const deleted = await countRows(ch, `SELECT count() FROM posts_cdc FINAL WHERE id = '${b.id}' AND is_deleted = 1`);
    t.equal(deleted, 1, 'a delete is a row with is_deleted = 1');
  });
}

await t.test('metrics and status account for every event', async (t) => {
  const events = async (op: string): Promise<number> => (await bw.metric(new RegExp(`^breakwater_cdc_events_total\\{topic="cdc.posts",op="${op}"\\}`))) ?? -1;
  t.equal(await events('c'), 4, 'creates counted');
  t.equal(await events('u'), 4, 'updates counted');
  t.equal(await events('d'), 2, 'deletes counted');
  t.equal(await events('r'), 2, 'snapshot reads counted');
  t.equal(await events('tombstone'), 2, 'tombstones counted (and skipped)');
  t.equal(await bw.metric(/^breakwater_cdc_rows_written_total\{table="posts_cdc"\}/), 12, 'rows written: every c, u, d and r');
  await bw.waitFor(async () => (await bw.get('/status')).body.cdc.lag === 0, 'lag 0 once written', 10_000);
  const status = (await bw.get('/status')).body.cdc;
  t.equal(status.partitions.filter((p: any) => p.topic === 'cdc.posts').length, 3, '/status lists each partition of cdc.posts');
  t.ok(status.partitions.every((p: any) => p.lag === 0 && (p.highWatermark === 0 || p.committed === p.highWatermark)), `every partition committed up to its high watermark: ${JSON.stringify(status.partitions)}`);
  t.equal(await bw.metric(/^breakwater_cdc_running /), 1, 'breakwater_cdc_running 1');
  t.ok((await bw.metric(/^breakwater_cdc_batch_duration_seconds_count /))! >= 1, 'batch durations observed');
});

await t.test('poison messages go to the dead-letter topic with headers; nothing after them is lost', async (t) => {
  const good: PostRow = { id: uuid(), user_id: uuid(), caption: 'after the poison', image_key: null, soft_delete: false, created_at: micros('2024-05-05T05:05:05') };
  const noKey = JSON.parse(postEvent('c', good, 1, false)) as any;
  delete noKey.after.id;
  const nullInNotNullable = JSON.parse(postEvent('c', { ...good, id: uuid() }, 2, false)) as any;
  nullInNotNullable.after.user_id = null;
  await producer.send({
    topic: 'cdc.posts',
    messages: [
      { key: 'k1', value: 'this is not JSON' },
      { key: 'k2', value: JSON.stringify({ op: 'x', after: {} }) },
      { key: 'k3', value: JSON.stringify(noKey) },
      { key: 'k4', value: JSON.stringify(nullInNotNullable) },
    ].map((m) => ({ ...m, partition: 0 })),
  });
  lsn += 8;
  await producer.send({ topic: 'cdc.posts', messages: [{ key: postKey(good.id, false), value: postEvent('c', good, lsn, false), partition: 0 }] });
  posts.set(good.id, good);
  await untilPostsMatch('the good message after four poison ones is written');

  const dlq = client.consumer({ groupId: `dlq-reader-${Date.now()}` });
  await dlq.connect();
  await dlq.subscribe({ topics: ['cdc.dlq'], fromBeginning: true });
  const seen: { key: string; headers: Record<string, string> }[] = [];
  await dlq.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({ key: String(message.key), headers });
    },
  });
  await bw.waitFor(() => seen.length >= 4, 'four dead letters', 20_000);
  await dlq.disconnect();
  t.same(seen.map((s) => s.key).sort(), ['k1', 'k2', 'k3', 'k4'], 'each poison message is dead-lettered once, key preserved');
  for (const s of seen) {
    t.equal(s.headers['source.topic'], 'cdc.posts', `${s.key}: source.topic header`);
    t.equal(s.headers['source.partition'], '0', `${s.key}: source.partition header`);
    t.match(s.headers['source.offset'], /^\d+$/, `${s.key}: source.offset header`);
    t.ok((s.headers.error ?? '').length > 10, `${s.key}: error header says why: ${s.headers.error}`);
  }
  t.match(seen.find((s) => s.key === 'k1')!.headers['error.reason'], 'undecodable', 'not JSON: reason undecodable');
  t.match(seen.find((s) => s.key === 'k2')!.headers['error.reason'], 'unknown_op', 'unknown op: reason unknown_op');
  t.match(seen.find((s) => s.key === 'k3')!.headers.error, /id/, 'missing key field: the error names it');
  t.match(seen.find((s) => s.key === 'k4')!.headers.error, /user_id/, 'null into a non-Nullable column: the error names the column');
  const dead = (reason: string) => bw.metric(new RegExp(`^breakwater_cdc_dead_lettered_total\\{topic="cdc.posts",reason="${reason}"\\}`));
  t.equal(await dead('undecodable'), 1, 'dead letters counted by reason');
  t.equal(await dead('unmappable'), 2, 'unmappable ones counted');
});

await t.test('a composite key (follows): one row per key, deletes by the whole key', async (t) => {
  const follower = uuid();
  const following = uuid();
  const ev = (op: string, lsnValue: number) =>
    JSON.stringify({ before: op === 'd' ? { follower_id: follower, following_id: following, created_at: null } : null, after: op === 'd' ? null : { follower_id: follower, following_id: following, created_at: micros('2024-01-02T03:04:05') }, source: { lsn: lsnValue, ts_ms: 1 }, op, ts_ms: 1 });
  await producer.send({ topic: 'cdc.follows', messages: [{ key: follower, value: ev('c', 50_000) }] });
  await bw.waitFor(async () => (await countRows(ch, 'SELECT count() FROM follows_cdc FINAL WHERE is_deleted = 0')) === 1, 'the follow is written', 20_000);
  await producer.send({ topic: 'cdc.follows', messages: [{ key: follower, value: ev('d', 50_008) }] });
  await bw.waitFor(async () => (await countRows(ch, 'SELECT count() FROM follows_cdc FINAL WHERE is_deleted = 0')) === 0, 'the unfollow removes it', 20_000);
  t.equal(await countRows(ch, 'SELECT count() FROM follows_cdc FINAL'), 1, 'one row per composite key after FINAL');
});

await t.test('cdc.maxLag and cdc.stuckAfter: readiness fails while the lag exceeds it, then while writes stay blocked', async (t) => {
  const lagged = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url, groupId: 'lag-test', required: false, extraCdc: '  maxLag: 5\n  stuckAfter: 2s\n' }, await freePort());
  await waitRunning(lagged);
  await lagged.waitFor(async () => (await lagged.get('/readyz')).status === 200, 'ready once caught up', 30_000);
  // Writes refused: the breaker forced open pauses the consumer while changes keep coming.
  t.equal((await lagged.post('/breakers/clickhouse/force-open', TOKEN)).status, 200, 'breaker forced open');
  for (let i = 0; i < 20; i++) await send('c', { id: uuid(), user_id: uuid(), caption: `lag ${i}`, image_key: null, soft_delete: false, created_at: micros('2024-06-01T00:00:00') }, false);
  let reasons = '';
  await lagged.waitFor(async () => /cdc lag \d+ exceeds cdc.maxLag 5/.test((reasons = (await lagged.get('/readyz')).body.reasons.join('; '))), 'readiness to fail on lag', 30_000);
  t.pass(`/readyz 503: ${reasons}`);
  // The lag reason gives way to the stuck one once the batch has waited cdc.stuckAfter (2s here).
  await lagged.waitFor(async () => /cdc writes blocked for \d+s: ClickHouse breaker forced_open/.test((reasons = (await lagged.get('/readyz')).body.reasons.join('; '))), 'readiness to say the writes are stuck', 30_000);
  t.pass(`/readyz 503: ${reasons}`);
  t.equal((await lagged.post('/breakers/clickhouse/reset', TOKEN)).status, 200, 'breaker reset');
  await lagged.waitFor(async () => (await lagged.get('/readyz')).status === 200, 'ready again once the lag is written', 30_000);
  t.pass('ready again after catching up');
  await untilPostsMatch('the lagging rows are written after the breaker closes');
});

await t.test('a row ClickHouse refuses (the table changed under the consumer) is dead-lettered; the rest is written', async (t) => {
  await ch.query('CREATE TABLE likes_drift (user_id UUID, post_id String, created_at DateTime(\'UTC\'), cdc_timestamp UInt64, is_deleted UInt8) ENGINE = ReplacingMergeTree(cdc_timestamp) ORDER BY user_id');
  const topics = '    cdc.likes: { table: likes_drift, key: [user_id, post_id], version: cdc_timestamp }\n';
  const drift = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url, groupId: 'drift', topics }, await freePort());
  await waitRunning(drift);
  await ch.query('ALTER TABLE likes_drift MODIFY COLUMN post_id UInt64'); // after the startup check: only ClickHouse can tell
  const like = (postId: string, lsnValue: number) =>
    JSON.stringify({ before: null, after: { user_id: uuid(), post_id: postId, created_at: micros('2024-02-02T02:02:02') }, source: { lsn: lsnValue, ts_ms: Date.now() }, op: 'c', ts_ms: Date.now() });
  await producer.send({ topic: 'cdc.likes', messages: [{ key: 'bad', value: like(uuid(), 90_000), partition: 1 }, { key: 'good', value: like('12345', 90_008), partition: 1 }] });
  await drift.waitFor(async () => ((await drift.metric(/^breakwater_cdc_dead_lettered_total\{topic="cdc.likes",reason="clickhouse_refused"\}/)) ?? 0) >= 1, 'the refused row to be dead-lettered', 30_000);
  t.pass('dead-lettered with reason clickhouse_refused');
  await drift.waitFor(async () => (await drift.get('/status')).body.cdc.lag === 0, 'the partition to be committed past it (no stall)', 30_000);
  t.pass('the consumer did not stall on the refused row');
  const good = await countRows(ch, "SELECT count() FROM likes_drift WHERE post_id = 12345");
  const dead = (await drift.metric(/^breakwater_cdc_dead_lettered_total\{topic="cdc.likes",reason="clickhouse_refused"\}/)) ?? 0;
  t.equal(good + dead, 2, `each of the two rows is either written (${good}) or dead-lettered (${dead}); none lost`);
  t.match(drift.logs.find((l) => /dead-lettered cdc\.likes/.test(String(l.msg)))?.msg ?? '', /ClickHouse refused the row for likes_drift: Code: \d+/, 'the log line carries ClickHouse\'s error');
});
