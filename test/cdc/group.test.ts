// Two sidecars (two pods) in one consumer group split the partitions; when one leaves, the
// other takes its partitions over from the committed offsets, and nothing is lost.
import t from 'tap';
import { freePort } from '../services/index.js';
import { TOKEN, cdcServices, cdcSidecar, expectedPosts, postEvent, postKey, postsInClickHouse, uuid, waitRunning, type PostRow } from './helpers.js';

t.setTimeout(240_000);

const { kafka, ch, producer } = await cdcServices(t, ['cdc.posts'], 4);

const topics = '    cdc.posts: { table: posts_cdc, key: [id], version: cdc_timestamp }\n';
const a = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url, topics }, await freePort());
const b = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url, topics }, await freePort());
await Promise.all([waitRunning(a), waitRunning(b)]);

const owned = async (bw: typeof a): Promise<number[]> => ((await bw.get('/status')).body.cdc.partitions as { partition: number }[]).map((p) => p.partition).sort();

const posts = new Map<string, PostRow>();
let lsn = 1;
async function produce(n: number): Promise<void> {
  const messages = [];
  for (let i = 0; i < n; i++) {
    const row: PostRow = { id: uuid(), user_id: uuid(), caption: `c${i}`, image_key: null, soft_delete: false, created_at: 1_600_000_000_000_000 + i };
    posts.set(row.id, row);
    messages.push({ key: postKey(row.id, false), value: postEvent('c', row, (lsn += 8), false) });
  }
  await producer.send({ topic: 'cdc.posts', messages });
}

await t.test('two sidecars split the partitions', async (t) => {
  let pa: number[] = [];
  let pb: number[] = [];
  await a.waitFor(async () => {
    [pa, pb] = await Promise.all([owned(a), owned(b)]);
    return pa.length + pb.length === 4 && pa.length > 0 && pb.length > 0;
  }, 'both sidecars to own partitions', 60_000);
  t.same([...pa, ...pb].sort(), [0, 1, 2, 3], `disjoint and complete: A owns ${pa}, B owns ${pb}`);
  await produce(2000);
  await a.waitFor(async () => (await postsInClickHouse(ch)).length === posts.size, 'all rows written', 60_000);
  const wa = (await a.metric(/^breakwater_cdc_rows_written_total\{table="posts_cdc"\}/)) ?? 0;
  const wb = (await b.metric(/^breakwater_cdc_rows_written_total\{table="posts_cdc"\}/)) ?? 0;
  t.ok(wa > 0 && wb > 0, `both wrote rows (A ${wa}, B ${wb})`);
  t.equal(wa + wb, 2000, 'each row written once between them');
});

await t.test('one sidecar leaves: the other takes over every partition', async (t) => {
  t.equal(await b.stop('SIGTERM'), 0, 'B drains and exits 0 on SIGTERM');
  await a.waitFor(async () => (await owned(a)).length === 4, 'A to own all 4 partitions', 60_000);
  t.pass('A owns all partitions after B left');
  await produce(1000);
  let got: unknown[] = [];
  await a.waitFor(async () => (got = await postsInClickHouse(ch)).length === posts.size, 'all rows written', 60_000).catch(() => undefined);
  t.same(got, expectedPosts(posts.values()), 'ClickHouse equals the source after the hand-over');
});

await t.test('a paused sidecar (writes refused) resumes after a rebalance and writes what it owns', async (t) => {
  t.equal((await a.post('/breakers/clickhouse/force-open', TOKEN)).status, 200, 'A\'s ClickHouse breaker forced open');
  await produce(500);
  await a.waitFor(async () => (await a.metric(/^breakwater_cdc_paused /)) === 1, 'A to pause', 30_000);
  const c = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url, topics }, await freePort());
  await waitRunning(c);
  await a.waitFor(async () => (await owned(a)).length + (await owned(c)).length === 4 && (await owned(c)).length > 0, 'the rebalance to split the partitions', 60_000);
  t.equal((await a.post('/breakers/clickhouse/reset', TOKEN)).status, 200, 'A\'s breaker reset');
  let got: unknown[] = [];
  await a.waitFor(async () => (got = await postsInClickHouse(ch)).length === posts.size, 'every row written', 60_000).catch(() => undefined);
  t.same(got, expectedPosts(posts.values()), 'ClickHouse equals the source: A was not left paused by the rebalance');
  t.equal(await a.metric(/^breakwater_cdc_paused /), 0, 'A is not paused');
});
