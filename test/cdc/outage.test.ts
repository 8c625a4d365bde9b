// Faults while change events stream in: ClickHouse killed (the breaker opens, the consumer
// pauses without a busy retry, and resumes when ClickHouse is back) and the sidecar SIGKILLed
// (a new one resumes from the committed offsets). At the end ClickHouse holds exactly the
// source's rows: nothing lost, nothing doubled under FINAL.
import t from 'tap';
import { freePort } from '../services/index.js';
import { cdcServices, cdcSidecar, countRows, expectedPosts, postEvent, postKey, postsInClickHouse, uuid, waitRunning, type PostRow } from './helpers.js';

t.setTimeout(280_000);

const { kafka, ch, producer } = await cdcServices(t);

const port = await freePort();
let bw = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url }, port);
await waitRunning(bw);

// The source: 600 posts, then rounds of updates and deletes, sent in small steady batches.
const posts = new Map<string, PostRow>();
let lsn = 10_000;
let sent = 0;
async function step(): Promise<void> {
  const messages: { key: string; value: string | null }[] = [];
  for (let i = 0; i < 50; i++) {
    lsn += 8;
    const n = sent++;
    if (n < 600 || n % 10 === 0 || posts.size < 50) {
      const row: PostRow = { id: uuid(), user_id: uuid(), caption: `post ${n}`, image_key: n % 3 === 0 ? null : `img/${n}.jpg`, soft_delete: false, created_at: 1_700_000_000_000_000 + n * 1_000_123 };
      posts.set(row.id, row);
      messages.push({ key: postKey(row.id, false), value: postEvent('c', row, lsn, false) });
    } else if (n % 10 === 5) {
      const victim = [...posts.values()][n % posts.size]!;
      posts.delete(victim.id);
      messages.push({ key: postKey(victim.id, false), value: postEvent('d', victim, lsn, false) }, { key: postKey(victim.id, false), value: null });
    } else {
      const target = [...posts.values()][(n * 7) % posts.size]!;
      const row = { ...target, caption: `edit ${n}`, soft_delete: n % 2 === 0 };
      posts.set(row.id, row);
      messages.push({ key: postKey(row.id, false), value: postEvent('u', row, lsn, false) });
    }
  }
  await producer.send({ topic: 'cdc.posts', acks: -1, messages });
}
async function sendFor(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await step();
    await new Promise((r) => setTimeout(r, 40));
  }
}

await sendFor(2000);

await t.test('ClickHouse killed: the breaker opens, the consumer pauses, and catches up after', async (t) => {
  const failuresBefore = (await bw.metric(/^breakwater_cdc_write_failures_total /)) ?? 0;
  await ch.kill();
  const during = sendFor(8000);
  await bw.waitFor(async () => (await bw.metric(/^breakwater_breaker_state\{dependency="clickhouse",state="open"\}/)) === 1, 'the ClickHouse breaker opens', 15_000);
  await bw.waitFor(async () => (await bw.metric(/^breakwater_cdc_paused /)) === 1, 'the consumer pauses', 15_000);
  t.pass('breaker open and consumer paused while ClickHouse is down');
  const status = (await bw.get('/status')).body.cdc;
  t.match(status.lastError?.message ?? '', /ClickHouse|breaker/i, `/status shows the last error: ${status.lastError?.message}`);
  await during;
  const failures = ((await bw.metric(/^breakwater_cdc_write_failures_total /)) ?? 0) - failuresBefore;
  t.ok(failures <= 40, `no busy retry: ${failures} failed write attempts in ~8 s of outage (backoff, and none while the breaker is open)`);
  await ch.restart();
  await bw.waitFor(async () => (await bw.metric(/^breakwater_cdc_paused /)) === 0, 'the consumer resumes', 30_000);
  t.pass('resumed after ClickHouse came back');
});

await t.test('the sidecar SIGKILLed mid-stream: a new one resumes from the committed offsets', async (t) => {
  const during = sendFor(3000);
  await new Promise((r) => setTimeout(r, 1000));
  await bw.stop('SIGKILL');
  await during;
  bw = await cdcSidecar(t, { brokers: kafka.brokers, clickhouse: ch.url }, port);
  await waitRunning(bw);
  await sendFor(1500);
  let got: unknown[] = [];
  await bw
    .waitFor(async () => {
      got = await postsInClickHouse(ch);
      return JSON.stringify(got) === JSON.stringify(expectedPosts(posts.values()));
    }, 'ClickHouse to equal the source', 60_000)
    .catch(() => undefined);
  t.equal(got.length, posts.size, `posts_cdc FINAL has ${posts.size} live rows, as the source`);
  t.same(got, expectedPosts(posts.values()), 'every live row equals the source row (no loss, latest version wins)');
  const finalRows = await countRows(ch, 'SELECT count() FROM posts_cdc FINAL');
  const distinct = await countRows(ch, 'SELECT uniqExact(id) FROM posts_cdc');
  t.equal(finalRows, distinct, 'FINAL leaves one row per id: replayed batches did not double anything');
  t.ok(sent > 1000, `${sent} change events sent through the faults`);
});
