// A list of upstream replicas is used round-robin among the healthy ones.
import t from 'tap';
import { freePort, withClickHouse } from '../../services/index.js';
import { startBreakwater } from '../../support/breakwater.js';

const a = await withClickHouse(t);
const b = await withClickHouse(t);
await a.query("CREATE TABLE whoami ENGINE = TinyLog AS SELECT 'a' AS name");
await b.query("CREATE TABLE whoami ENGINE = TinyLog AS SELECT 'b' AS name");
const port = await freePort();
const bw = await startBreakwater(
  t,
  `admin: { listen: "{{ADMIN}}" }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${port}
    upstream: [${a.url}, ${b.url}]
    required: true
    breaker: { failures: 3 }
    health: { interval: 200ms, timeout: 500ms, unhealthyThreshold: 1 }
`,
);
await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.checks.every((c: { state: string }) => c.state === 'healthy'), 'both healthy');

const who = async (): Promise<string> => (await (await fetch(`http://127.0.0.1:${port}/?query=SELECT%20name%20FROM%20whoami`)).text()).trim();

t.test('round-robin across healthy replicas', async (t) => {
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(await who());
  t.same([...new Set(seen)].sort(), ['a', 'b'], `both replicas answered: ${seen.join('')}`);
  t.equal(seen.filter((s) => s === 'a').length, 3, 'evenly');
});

t.test('an unhealthy replica is skipped; the dependency stays ready', async (t) => {
  await a.kill();
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.checks[0].state === 'unhealthy', 'replica a unhealthy', 5000);
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(await who());
  t.same(seen, ['b', 'b', 'b', 'b', 'b', 'b']);
  const s = (await bw.get('/status')).body;
  t.equal(s.dependencies.clickhouse.healthy, true, 'one healthy replica is enough');
  t.equal(s.dependencies.clickhouse.breaker.state, 'closed');
  t.equal((await bw.get('/readyz')).status, 200);
  await a.restart();
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.checks[0].state === 'healthy', 'replica a back', 10_000);
  const again: string[] = [];
  for (let i = 0; i < 4; i++) again.push(await who());
  t.ok(again.includes('a'), `a is used again: ${again.join('')}`);
});
