// The consumer is never silently off: when it cannot start (Kafka unreachable, a topic missing,
// a table missing or incompatible) startup fails with what is wrong and how to fix it — exit
// non-zero, or serve unready, as startup.onTimeout says.
import t, { type Test } from 'tap';
import { freePort, withClickHouse, withKafka } from '../services/index.js';
import { startBreakwater } from '../support/breakwater.js';
import { applyShippedDdl, cdcYaml, createTopics, kafkaClient, waitRunning } from './helpers.js';

t.setTimeout(240_000);

const kafka = await withKafka(t);
const ch = await withClickHouse(t);
const admin = kafkaClient(kafka.brokers).admin();
await admin.connect();
t.teardown(() => admin.disconnect());
await createTopics(admin, ['cdc.posts', 'cdc.follows', 'cdc.comments', 'cdc.likes'], 1);

const exitFast = '{ timeout: 4s, onTimeout: exit }';

async function exitsWith(t: Test, yaml: string, pattern: RegExp, what: string): Promise<void> {
  const bw = await startBreakwater(t, yaml, { waitLive: false });
  const code = await Promise.race([bw.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
  t.equal(code, 1, `${what}: exits 1`);
  t.match(bw.stderr(), pattern, `${what}: stderr says what and how to fix it`);
}

await t.test('a missing ClickHouse table fails startup, naming the table and the DDL', async (t) => {
  await exitsWith(t, cdcYaml({ brokers: kafka.brokers, clickhouse: ch.url, startup: exitFast }, await freePort()), /startup failed: cdc.*posts_cdc.*does not exist.*config\/cdc\/clickhouse\.sql/s, 'missing table');
});

await t.test('a table with incompatible columns fails startup, listing every problem', async (t) => {
  await applyShippedDdl(ch);
  await ch.query('CREATE TABLE wrong_cdc (id String, cdc_timestamp String) ENGINE = MergeTree ORDER BY id');
  const topics = '    cdc.posts: { table: wrong_cdc, key: [id, user_id], version: cdc_timestamp }\n';
  await exitsWith(
    t,
    cdcYaml({ brokers: kafka.brokers, clickhouse: ch.url, startup: exitFast, topics }, await freePort()),
    /wrong_cdc cannot take cdc\.posts: .*version column cdc_timestamp is String.*no deleted column is_deleted.*no key column user_id/s,
    'incompatible table',
  );
});

await t.test('a missing topic fails startup, naming it', async (t) => {
  const topics = '    cdc.posts: { table: posts_cdc, key: [id], version: cdc_timestamp }\n    cdc.reposts: { table: posts_cdc, key: [id], version: cdc_timestamp }\n';
  await exitsWith(t, cdcYaml({ brokers: kafka.brokers, clickhouse: ch.url, startup: exitFast, topics }, await freePort()), /CDC topic cdc\.reposts does not exist.*RegexRouter/s, 'missing topic');
});

await t.test('Kafka unreachable with serve-unready: up, not ready, and the reason says why', async (t) => {
  const deadPort = await freePort();
  const bw = await startBreakwater(t, cdcYaml({ brokers: [`127.0.0.1:${deadPort}`], clickhouse: ch.url, startup: '{ timeout: 2s, onTimeout: serve-unready }' }, await freePort()));
  await bw.waitFor(async () => (await bw.get('/startupz')).status === 200, 'the startup gate to give up and serve', 30_000);
  await bw.waitFor(async () => /cannot reach Kafka/.test(JSON.stringify((await bw.get('/readyz')).body)), 'the reason to name Kafka', 30_000);
  const ready = await bw.get('/readyz');
  t.equal(ready.status, 503, '/readyz 503 while the consumer cannot run');
  t.match(ready.body.reasons.join(' '), /cdc consumer failed: cannot reach Kafka at 127\.0\.0\.1:\d+ \(cdc\.brokers\)/, `the reason names Kafka and the key: ${ready.body.reasons.join('; ')}`);
  t.equal(await bw.metric(/^breakwater_cdc_running /), 0, 'breakwater_cdc_running 0');
  t.match(bw.logs.find((l) => l.level === 'error' && /cdc consumer cannot run/.test(String(l.msg))) ?? {}, { msg: /cannot reach Kafka/ }, 'an error log line, not a warning');
});

await t.test('everything in place: the gate waits for the consumer, then ready', async (t) => {
  const bw = await startBreakwater(t, cdcYaml({ brokers: kafka.brokers, clickhouse: ch.url, startup: '{ waitFor: [clickhouse], timeout: 60s, onTimeout: exit }' }, await freePort()));
  await waitRunning(bw);
  await bw.waitFor(async () => (await bw.get('/startupz')).status === 200 && (await bw.get('/readyz')).status === 200, 'started and ready', 30_000);
  t.pass('startupz and readyz pass once the consumer runs');
  t.ok(bw.logs.some((l) => /startup gate passed: clickhouse, cdc/.test(String(l.msg))), 'the gate waited for clickhouse and cdc');
});
