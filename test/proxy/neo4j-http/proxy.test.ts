// The Neo4j HTTP API through breakwater, on a real Neo4j 5.26 (auth on): requests and answers
// relayed unchanged, Neo4j's errors-inside-a-200 classified (a ClientError is the caller's and
// does not count; a TransientError does), explicit transactions and discovery through the guard,
// bad input (not JSON, no statements, oversized, a client that goes away), and the health check
// (401 without credentials counts as up; a wrong password makes /readyz 503).
import { connect } from 'node:net';
import t from 'tap';
import { withNeo4j } from '../../services/index.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';
import { AUTH, commit, comparable, depStatus, metricOf, send, sidecar } from './helpers.js';

fileTimeoutAtLeast(t, 120_000);

// A lock wait ends after 1 s with a TransientError (LockAcquisitionTimeout): a real one, on demand.
const neo4j = await withNeo4j(t, { extra: { 'db.lock.acquisition.timeout': '1s' } });
await neo4j.query('MERGE (:Lock {id: 1}) MERGE (:Person {id: 1, name: "Ada"}) MERGE (:Person {id: 2, name: "Grace"})');

const { bw, url } = await sidecar(t, {
  upstream: neo4j.httpUrl,
  health: `{ interval: 500ms, timeout: 1s, user: neo4j, password: ${neo4j.password} }`,
  fallback: '[{ match: { statement: read }, use: [static] }, { use: [fail] }]',
});
await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready');

t.test('statements with parameters are relayed unchanged', async (t) => {
  const statements = [
    { statement: 'RETURN $list AS list, $map AS map, $s AS s', parameters: { list: [1, 2.5, 'ä€😀', null, true], map: { a: { b: [1] } }, s: 'it\'s "quoted"\n' } },
    { statement: 'MATCH (p:Person) WHERE p.id IN $ids RETURN p.name AS name ORDER BY name', parameters: { ids: [1, 2] }, includeStats: true },
    { statement: 'UNWIND range(1, $n) AS i RETURN i, toString(i) AS s', parameters: { n: 30_000 } },
  ];
  const direct = await commit(neo4j.httpUrl, statements);
  const proxied = await commit(url, statements);
  t.equal(proxied.status, direct.status);
  t.equal(proxied.headers['content-type'], direct.headers['content-type']);
  t.equal(proxied.headers['x-breakwater-fallback'], undefined, 'not a fallback');
  t.same(comparable(proxied.json), comparable(direct.json), 'the same answer, byte for byte apart from the bookmark');
  t.equal(proxied.json.results[0].data[0].row[2], 'it\'s "quoted"\n');
  t.equal(proxied.json.results[2].data.length, 30_000, 'a large (chunked) answer streams through');
  t.same(proxied.json.errors, []);
  const jolt = await commit(url, [{ statement: 'RETURN 1 AS a' }], { headers: { accept: 'application/vnd.neo4j.jolt-v2' } });
  t.match(jolt.headers['content-type'], /jolt/, 'Jolt answers pass through too');
  t.match(jolt.text, /"header":\{"fields":\["a"\]\}/);
});

t.test('a Cypher syntax error is passed through and does not count against the breaker', async (t) => {
  const before = await depStatus(bw);
  const direct = await commit(neo4j.httpUrl, [{ statement: 'RETRN 1' }]);
  for (let i = 0; i < 5; i++) {
    const r = await commit(url, [{ statement: 'RETRN 1' }]);
    t.equal(r.status, 200, 'Neo4j reports it inside a 200');
    t.same(r.json, direct.json);
    t.equal(r.json.errors[0].code, 'Neo.ClientError.Statement.SyntaxError');
  }
  // An error after some rows were sent: still the caller's.
  const mid = await commit(url, [{ statement: 'UNWIND range(1, 20000) AS i RETURN i, 100 / (19000 - i) AS x' }]);
  t.equal(mid.json.errors[0].code, 'Neo.ClientError.Statement.ArithmeticError');
  t.ok(mid.json.results[0].data.length > 1000, 'after rows');
  const after = await depStatus(bw);
  t.equal(after.counts.ignored - before.counts.ignored, 6, 'recorded as ignored (the caller\'s error)');
  t.equal(after.counts.failure, before.counts.failure, 'no failure recorded');
  t.equal(after.breaker.state, 'closed', 'six in a row did not open it (failures: 3)');
  t.equal(await metricOf(bw, 'breakwater_calls_total{dependency="neo4j",outcome="failure"}'), before.counts.failure);
  const wrongPassword = await commit(url, [{ statement: 'RETURN 1' }], { headers: { authorization: `Basic ${Buffer.from('neo4j:wrong').toString('base64')}` } });
  t.equal(wrongPassword.status, 401);
  t.equal(wrongPassword.json.errors[0].code, 'Neo.ClientError.Security.Unauthorized');
  const unknownDb = await commit(url, [{ statement: 'RETURN 1' }], { path: '/db/nosuchdb/tx/commit' });
  t.equal(unknownDb.status, 404);
  t.equal(unknownDb.json.errors[0].code, 'Neo.ClientError.Database.DatabaseNotFound');
  t.equal((await depStatus(bw)).counts.failure, before.counts.failure, '401 and 404 are the caller\'s too');
});

t.test('a TransientError inside a 200 counts against the breaker and is passed through', async (t) => {
  // Hold the lock in an explicit transaction, directly on Neo4j.
  const open = await commit(neo4j.httpUrl, [{ statement: 'MATCH (n:Lock {id: 1}) SET n.x = 1' }], { path: '/db/neo4j/tx' });
  t.equal(open.status, 201);
  const txPath = new URL(open.headers.location!).pathname;
  t.teardown(() => send(neo4j.httpUrl, { method: 'DELETE', path: txPath }).catch(() => undefined));
  const before = await depStatus(bw);
  const r = await commit(url, [{ statement: 'MATCH (n:Lock {id: 1}) SET n.x = 2' }]);
  t.equal(r.status, 200, 'a 200, as Neo4j sent it');
  t.match(r.json.errors[0].code, /^Neo\.TransientError\./, `the client sees Neo4j's error (${r.json.errors[0].code})`);
  t.equal(r.headers['x-breakwater-fallback'], undefined, 'already streamed: no fallback replaces it');
  const after = await depStatus(bw);
  t.equal(after.counts.failure - before.counts.failure, 1, 'recorded as a failure');
  t.match(after.lastError.message, /TransientError/, 'with the code in /status');
  t.equal(after.breaker.state, 'closed', 'one failure does not open it');
  await send(neo4j.httpUrl, { method: 'DELETE', path: txPath });
  // The next success resets the consecutive count.
  t.equal((await commit(url, [{ statement: 'RETURN 1' }])).status, 200);
});

t.test('explicit transactions and discovery go through the guard unchanged', async (t) => {
  const disc = await send(url, { method: 'GET', path: '/', headers: {} });
  t.equal(disc.status, 200);
  t.equal(disc.json.neo4j_version, neo4j.version);
  t.equal(disc.json.transaction, `${url}/db/{databaseName}/tx`, 'Neo4j builds the URLs from the Host header: they point at breakwater');
  const before = await depStatus(bw);
  const open = await commit(url, [{ statement: 'CREATE (p:Person {id: 10, name: $n}) RETURN p.name AS name', parameters: { n: 'Edsger' } }], { path: '/db/neo4j/tx' });
  t.equal(open.status, 201);
  t.match(open.headers.location, new RegExp(`^${url}/db/neo4j/tx/\\d+$`), 'Location points at breakwater');
  const txPath = new URL(open.headers.location!).pathname;
  const more = await commit(url, [{ statement: 'MATCH (p:Person {id: 10}) SET p.seen = true RETURN p.seen AS seen' }], { path: txPath });
  t.equal(more.status, 200);
  t.same(more.json.results[0].data[0].row, [true]);
  const done = await commit(url, [], { path: `${txPath}/commit` });
  t.equal(done.status, 200);
  t.same(done.json.errors, []);
  t.same(await neo4j.query('MATCH (p:Person {id: 10}) RETURN p.name AS name, p.seen AS seen'), [{ name: 'Edsger', seen: true }], 'committed');
  const after = await depStatus(bw);
  t.equal(after.counts.success - before.counts.success, 3, 'each request was one guarded call');
});

t.test('bad input', async (t) => {
  const notJson = await send(url, { body: 'hello' });
  t.equal(notJson.status, 200);
  t.equal(notJson.json.errors[0].code, 'Neo.ClientError.Request.InvalidFormat', 'not JSON: relayed, Neo4j answers');
  const none = await send(url, { body: '{}' });
  t.equal(none.json.errors[0].code, 'Neo.ClientError.Request.InvalidFormat', 'no statements: relayed');
  const empty = await send(url, { body: '{"statements":[]}' });
  t.same(empty.json.results, [], 'an empty statement list: relayed');

  const big = Buffer.from(JSON.stringify({ statements: [{ statement: 'RETURN size($s) AS n', parameters: { s: 'x'.repeat(1_100_000) } }] }));
  const before = await metricOf(bw, 'breakwater_bad_requests_total{dependency="neo4j",reason="oversized_body"}');
  for (const chunked of [false, true]) {
    const r = await send(url, { body: big, chunked });
    t.equal(r.status, 413, `oversized (${chunked ? 'chunked' : 'Content-Length'}): 413`);
    t.equal(r.json.errors[0].code, 'Neo.ClientError.Request.Invalid', 'in Neo4j\'s error shape');
    t.match(r.json.errors[0].message, /larger than 1048576 bytes.*smaller batches/);
    t.same(r.json.results, []);
  }
  t.equal(await metricOf(bw, 'breakwater_bad_requests_total{dependency="neo4j",reason="oversized_body"}'), before + 2);
  const underLimit = Buffer.from(JSON.stringify({ statements: [{ statement: 'RETURN size($s) AS n', parameters: { s: 'x'.repeat(900_000) } }] }));
  t.same((await send(url, { body: underLimit })).json.results[0].data[0].row, [900_000], 'just under the bound: relayed');
  // An explicit transaction's body is not read, so it has no bound.
  const bigTx = await send(url, { path: '/db/neo4j/tx', body: big });
  t.equal(bigTx.status, 201, 'explicit transactions stream through whatever their size');
  await send(url, { method: 'DELETE', path: new URL(bigTx.headers.location!).pathname });

  // Expect: 100-continue (curl sends it for larger bodies): breakwater waits for the body, so it says go on.
  const continued = await new Promise<string>((resolve, reject) => {
    const u = new URL(url);
    const body = JSON.stringify({ statements: [{ statement: 'RETURN 7 AS seven' }] });
    let got = '';
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`POST /db/neo4j/tx/commit HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      if (got === '' && d.startsWith('HTTP/1.1 100')) s.write(body);
      got += d;
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    setTimeout(() => (s.destroy(), reject(new Error(`no answer: ${got}`))), 5000);
  });
  t.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\n/, '100 Continue first');
  t.match(continued, /HTTP\/1\.1 200 OK[\s\S]*"row":\[7\]/, 'then the answer');

  // Clients that go away: mid-body, and while Neo4j works on the answer.
  const gone = await metricOf(bw, 'breakwater_bad_requests_total{dependency="neo4j",reason="client_disconnect"}');
  await new Promise<void>((resolve) => {
    const u = new URL(url);
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`POST /db/neo4j/tx/commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"statements":[`);
      setTimeout(() => (s.destroy(), resolve()), 100);
    });
  });
  await new Promise<void>((resolve) => {
    const u = new URL(url);
    const body = JSON.stringify({ statements: [{ statement: 'CALL { RETURN 1 } RETURN reduce(s = 0, i IN range(1, 3000000) | s + i) AS x' }] });
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`POST /db/neo4j/tx/commit HTTP/1.1\r\nHost: x\r\nAuthorization: ${'Basic ' + Buffer.from(`neo4j:${neo4j.password}`).toString('base64')}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      setTimeout(() => (s.destroy(), resolve()), 50);
    });
  });
  await bw.waitFor(async () => (await metricOf(bw, 'breakwater_bad_requests_total{dependency="neo4j",reason="client_disconnect"}')) >= gone + 2, 'both disconnects counted', 10_000);
  t.equal((await commit(url, [{ statement: 'RETURN 1 AS one' }])).json.results[0].data[0].row[0], 1, 'the sidecar serves on');
  t.equal(bw.proc.exitCode, null, 'and did not crash');
  t.equal((await depStatus(bw)).inFlight, 0, 'nothing left in flight');
});

t.test('health: without credentials a 401 is up; a wrong password makes /readyz 503', async (t) => {
  const anon = await sidecar(t, { upstream: neo4j.httpUrl, health: '{ interval: 300ms, timeout: 1s }' });
  await anon.bw.waitFor(async () => (await anon.bw.get('/readyz')).status === 200, 'ready without credentials', 10_000);
  t.equal((await depStatus(anon.bw)).checks[0].state, 'healthy');
  const wrong = await sidecar(t, { upstream: neo4j.httpUrl, health: '{ interval: 300ms, timeout: 1s, unhealthyThreshold: 1, user: neo4j, password: nope }' });
  await wrong.bw.waitFor(async () => (await depStatus(wrong.bw)).checks[0].state === 'unhealthy', 'the check to fail', 10_000);
  const ready = await wrong.bw.get('/readyz');
  t.equal(ready.status, 503, 'required and unhealthy: not ready');
  const check = (await depStatus(wrong.bw)).checks[0];
  t.match(check.lastError, /HTTP 401.*Neo\.ClientError\.Security\.Unauthorized.*health\.user and health\.password/);
  t.match(check.target, /\/db\/neo4j\/tx\/commit$/);
});
