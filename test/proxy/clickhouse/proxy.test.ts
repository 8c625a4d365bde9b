// @clickhouse/client as the unmodified application, through breakwater, to a real ClickHouse.
import t from 'tap';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { connect } from 'node:net';
import { request } from 'node:http';
import { freePort, poll, withClickHouse } from '../../services/index.js';
import { startBreakwater } from '../../support/breakwater.js';

const ch = await withClickHouse(t);
const port = await freePort();
const bw = await startBreakwater(
  t,
  `admin: { listen: "{{ADMIN}}", token: secret }
log: { level: debug }
startup: { waitFor: [clickhouse], timeout: 30s }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${port}
    upstream: ${ch.url}
    timeout: 10s
    required: true
    breaker: { failures: 3, openFor: 30s, halfOpenSuccesses: 3 }
    health: { interval: 1s }
    fallback:
      - match: { statement: read }
        use: [static]
`,
);
await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready');
const client = createClient({ url: `http://127.0.0.1:${port}`, request_timeout: 30_000, log: { level: ClickHouseLogLevel.OFF } });
t.teardown(() => client.close());

t.test('create, insert, select through breakwater', async (t) => {
  await client.command({ query: 'CREATE TABLE posts (id UInt64, title String) ENGINE = MergeTree ORDER BY id' });
  await client.insert({ table: 'posts', values: [{ id: 1, title: 'hello' }, { id: 2, title: 'wörld' }], format: 'JSONEachRow' });
  const rows = await (await client.query({ query: 'SELECT id, title FROM posts ORDER BY id', format: 'JSONEachRow' })).json();
  t.same(rows, [
    { id: '1', title: 'hello' },
    { id: '2', title: 'wörld' },
  ]);
  const json = await (await client.query({ query: 'SELECT count() AS n FROM posts', format: 'JSON' })).json<{ n: string }>();
  t.equal(json.data[0]!.n, '2');
});

t.test('a large result streams through', async (t) => {
  const rs = await client.query({ query: 'SELECT number, toString(number) AS s FROM system.numbers LIMIT 2000000', format: 'TabSeparated' });
  let bytes = 0;
  let lines = 0;
  for await (const chunk of rs.stream()) {
    for (const row of chunk) {
      bytes += row.text.length;
      lines++;
    }
  }
  t.equal(lines, 2_000_000, 'every row arrived');
  t.ok(bytes > 20_000_000, `about ${Math.round(bytes / 1e6)} MB streamed`);
});

t.test('a large INSERT streams through', async (t) => {
  await client.command({ query: 'CREATE TABLE big (n UInt64, s String) ENGINE = MergeTree ORDER BY n' });
  const { Readable } = await import('node:stream');
  let i = 0;
  const rows = new Readable({
    read() {
      for (let k = 0; k < 10_000 && i < 500_000; k++, i++) this.push(`${i}\tvalue-${i}\n`);
      if (i >= 500_000) this.push(null);
    },
  });
  await client.insert({ table: 'big', values: rows, format: 'TabSeparated' });
  const n = await (await client.query({ query: 'SELECT count() AS c, sum(n) AS s FROM big', format: 'JSONEachRow' })).json<{ c: string; s: string }>();
  t.same(n, [{ c: '500000', s: String((499_999 * 500_000) / 2) }]);
});

t.test('caller errors pass through unchanged and leave the breaker closed', async (t) => {
  const before = await bw.metric(/^breakwater_calls_total\{dependency="clickhouse",outcome="ignored"\}/);
  for (let i = 0; i < 5; i++) {
    await t.rejects(client.query({ query: 'SELEC 1' }), /Syntax error/);
    await t.rejects(client.query({ query: 'SELECT * FROM no_such_table' }), /no_such_table/);
  }
  const status = await bw.get('/status');
  t.equal(status.body.dependencies.clickhouse.breaker.state, 'closed');
  const after = await bw.metric(/^breakwater_calls_total\{dependency="clickhouse",outcome="ignored"\}/);
  t.equal((after ?? 0) - (before ?? 0), 10, 'ten caller errors counted as ignored');
  t.equal(await bw.metric(/^breakwater_calls_total\{dependency="clickhouse",outcome="failure"\}/), 0, 'no failures');
});

t.test('method, path, query string, headers and auth are kept', async (t) => {
  const res = await fetch(`http://127.0.0.1:${port}/?query=SELECT%20'via'%2C%20version()`, {
    headers: { 'x-clickhouse-user': 'default' },
  });
  t.equal(res.status, 200);
  t.match(await res.text(), /^via\t\d+\./);
  const wrongKey = await fetch(`http://127.0.0.1:${port}/?query=SELECT%201`, {
    headers: { 'x-clickhouse-user': 'default', 'x-clickhouse-key': 'wrong' },
  });
  t.not(wrongKey.status, 200, 'the auth headers reach ClickHouse');
  t.match(await wrongKey.text(), /password/i);
  const bad = await fetch(`http://127.0.0.1:${port}/?query=SELECT%201&user=nobody&password=x`);
  t.not(bad.status, 200, 'a wrong user is refused by ClickHouse itself');
  t.match(await bad.text(), /nobody|password|Unknown user/i);
  const ping = await fetch(`http://127.0.0.1:${port}/ping`);
  t.equal(await ping.text(), 'Ok.\n');
});

t.test('malformed HTTP gets a 400, is counted, and the listener keeps serving', async (t) => {
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('GARBAGE \x00\x01 / HTTP/9\r\n\r\n'));
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  t.match(reply, /^HTTP\/1\.1 400 Bad Request/);
  t.match(reply, /malformed HTTP request/);
  t.ok((await bw.metric(/^breakwater_bad_requests_total\{dependency="clickhouse",reason="malformed_http"\}/))! >= 1);
  const ok = await fetch(`http://127.0.0.1:${port}/?query=SELECT%2042`);
  t.equal(await ok.text(), '42\n');
});

t.test('a client that disconnects mid-stream aborts its upstream request', async (t) => {
  await new Promise<void>((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}/?query=SELECT%20number%20FROM%20system.numbers`, (res) => {
      let got = 0;
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got > 1_000_000) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.inFlight === 0, 'the aborted call to finish', 10_000);
  await bw.waitFor(
    async () => (await ch.query("SELECT count() FROM system.processes WHERE query LIKE '%system.numbers%' AND query NOT LIKE '%processes%'")).trim() === '0',
    'ClickHouse to stop the endless query',
    15_000,
  );
  t.ok((await bw.metric(/^breakwater_bad_requests_total\{dependency="clickhouse",reason="client_disconnect"\}/))! >= 1, 'counted');
  t.equal((await bw.get('/status')).body.dependencies.clickhouse.breaker.state, 'closed', 'not held against ClickHouse');
  const ok = await fetch(`http://127.0.0.1:${port}/?query=SELECT%207`);
  t.equal(await ok.text(), '7\n');
});

t.test('a client that disconnects mid-upload does not count against ClickHouse', async (t) => {
  await client.command({ query: 'CREATE TABLE up (s String) ENGINE = MergeTree ORDER BY s' });
  await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`POST /?query=INSERT%20INTO%20up%20FORMAT%20TabSeparated HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
      s.write('a\nb\n');
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 200);
    });
  });
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.inFlight === 0, 'the aborted upload to finish', 15_000);
  t.equal((await bw.get('/status')).body.dependencies.clickhouse.counts.failure, 0);
  // ClickHouse 18.16 itself commits the rows of a truncated upload (seen with a direct
  // connection too): breakwater passes the cut through as a cut, it does not make it worse.
  // ClickHouse commits them when it notices the cut, which can be after breakwater's side ended.
  const count = async () => (await ch.query('SELECT count() FROM up')).trim();
  await poll('ClickHouse to commit the truncated upload', 15_000, async () => ((await count()) === '2' ? true : undefined)).catch(() => undefined);
  t.equal(await count(), '2', 'the same as a direct connection');
});

t.test('status and metrics describe the dependency', async (t) => {
  const s = (await bw.get('/status')).body;
  t.equal(s.ready, true);
  t.equal(s.dependencies.clickhouse.healthy, true);
  t.ok(s.dependencies.clickhouse.counts.success > 5);
  t.equal(await bw.metric(/^breakwater_dependency_healthy\{dependency="clickhouse"\}/), 1);
  t.equal(await bw.metric(/^breakwater_breaker_state\{dependency="clickhouse",state="closed"\}/), 1);
  t.ok((await bw.metric(/^breakwater_call_duration_seconds_count\{dependency="clickhouse"\}/))! > 5);
  t.ok((await bw.metric(/^process_resident_memory_bytes/))! > 0, "Node's process metrics are there");
});

t.test('breaker control needs the token', async (t) => {
  t.equal((await bw.post('/breakers/clickhouse/force-open')).status, 401);
  t.equal((await bw.post('/breakers/nope/force-open', 'secret')).status, 404);
  const r = await bw.post('/breakers/clickhouse/force-open', 'secret');
  t.same(r.body, { dependency: 'clickhouse', from: 'closed', to: 'forced_open' });
  const res = await fetch(`http://127.0.0.1:${port}/?query=SELECT%201%20FORMAT%20JSON`);
  t.equal(res.headers.get('x-breakwater-fallback'), 'static');
  t.same(JSON.parse(await res.text()).data, []);
  const w = await fetch(`http://127.0.0.1:${port}/?query=INSERT%20INTO%20posts%20FORMAT%20TabSeparated`, { method: 'POST', body: '3\tx\n' });
  t.equal(w.status, 503, 'a write is never faked');
  t.equal(w.headers.get('x-breakwater-fallback'), 'fail');
  t.match(await w.json(), { dependency: 'clickhouse', state: 'forced_open', reason: 'forced_open' });
  t.equal((await bw.get('/readyz')).status, 503, 'forced open is not ready');
  t.same((await bw.post('/breakers/clickhouse/reset', 'secret')).body.to, 'closed');
  t.equal((await bw.get('/readyz')).status, 200);
});

t.test('SIGTERM drains and exits 0', async (t) => {
  const slow = fetch(`http://127.0.0.1:${port}/?query=SELECT%20sleep(1)%2C%20'done'`).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 200));
  const code = await bw.stop('SIGTERM');
  t.equal(code, 0);
  t.equal(await slow, "0\tdone\n", 'the in-flight request finished');
  t.ok(bw.logs.some((l) => l.msg === 'stopped'));
});
