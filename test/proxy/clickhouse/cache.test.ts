// The `cache` fallback end to end, with real servers: a real ClickHouse behind the `breakwater
// start` CLI, a real Redis as the shared response cache. Reads are stored as they stream by while
// ClickHouse is up; when it is down the same reads are answered with the stored bytes (Redis tier),
// a second sidecar on the same Redis answers them too, and with Redis paused or down the
// in-process copy answers. What must never be stored is checked first: too large, in a session,
// an error, a mid-stream exception (plain and gzip), a HEAD, a response cut mid-stream, and a
// SQL text of which only a part had arrived. A hot read is stored about once a second, not per
// request. /status shows the cache (and has none when no rule uses it).
import { once } from 'node:events';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { freePort, withClickHouse, withRedis } from '../../services/index.js';
import { startBreakwater, type Breakwater } from '../../support/breakwater.js';

const ch = await withClickHouse(t);
const cacheRedis = await withRedis(t);

const OPEN_FOR_MS = 2000;
/** breakwater's upstream timeout: head wait and idle gaps mid-stream. */
const TIMEOUT_MS = 3000;
const MAX_ENTRY_BYTES = 4 * 1024 * 1024;
const CACHE_TIMEOUT_MS = 100;
/** A cache answer, even one that waited for a stalled Redis (CACHE_TIMEOUT_MS), is far below this. */
const FAST_MS = 1000;

function config(port: number, fallback = '[cache, static]'): string {
  return `admin: { listen: "{{ADMIN}}" }
log: { level: info }
cache: { redis: ${cacheRedis.url}, ttl: 10m, maxEntryBytes: ${MAX_ENTRY_BYTES}, timeout: ${CACHE_TIMEOUT_MS}ms }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${port}
    upstream: ${ch.url}
    timeout: ${TIMEOUT_MS}ms
    breaker: { failures: 3, openFor: ${OPEN_FOR_MS}ms, halfOpenSuccesses: 1 }
    health: { interval: 1s, timeout: 1s, unhealthyThreshold: 1000 }
    fallback:
      - match: { statement: read }
        use: ${fallback}
      - match: { statement: any }
        use: [fail]
`;
}

async function sidecar(fallback?: string): Promise<{ bw: Breakwater; port: number }> {
  const port = await freePort();
  const bw = await startBreakwater(t, config(port, fallback));
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready');
  return { bw, port };
}

const metricOf = (bw: Breakwater, series: string): Promise<number> =>
  bw.metric(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} `)).then((v) => v ?? 0);
const stored = (bw: Breakwater): Promise<number> => metricOf(bw, 'breakwater_cache_stores_total{result="stored"}');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `/?a=b&query=<sql>`, every value percent-encoded. */
function q(sql: string, params: Record<string, string> = {}): string {
  return '/?' + Object.entries({ ...params, query: sql }).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

interface Req {
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** As received: node:http does not decompress. */
  body: Buffer;
  ms: number;
  /** The whole response arrived (false: the connection was cut mid-body). */
  complete: boolean;
  fallback: string | undefined;
  tier: string | undefined;
}

/** One request on a fresh connection; `onData` sees the first body bytes. */
function call(port: number, r: Req, onData?: () => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined && !r.chunked) headers['content-length'] = String(Buffer.byteLength(r.body));
    const req = request(
      { host: '127.0.0.1', port, method: r.method ?? (r.body === undefined ? 'GET' : 'POST'), path: r.path, headers, agent: false, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let settled = false;
        const done = (): void => {
          if (settled) return;
          settled = true;
          const h = res.headers;
          resolve({
            status: res.statusCode!,
            headers: h,
            body: Buffer.concat(chunks),
            ms: performance.now() - start,
            complete: res.complete,
            fallback: h['x-breakwater-fallback'] as string | undefined,
            tier: h['x-breakwater-cache-tier'] as string | undefined,
          });
        };
        res.on('data', (c: Buffer) => {
          if (chunks.length === 0) onData?.();
          chunks.push(c);
        });
        res.on('end', done);
        res.on('error', done);
        res.on('close', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${r.method ?? 'GET'} ${r.path.slice(0, 80)} within 30s`)));
    req.on('error', reject);
    if (r.chunked && r.body !== undefined) {
      // two chunks, so the scanner really works
      const half = Math.floor(r.body.length / 2);
      req.write(r.body.slice(0, half));
      req.end(r.body.slice(half));
    } else req.end(r.body);
  });
}

/**
 * POST `path` whose body arrives `delayMs` after the head (a raw socket, Content-Length). The
 * SQL is the query parameter followed by this body: breakwater forwards the request before the
 * body is there.
 */
async function lateBody(port: number, path: string, body: string, delayMs: number): Promise<{ status: number; fallback: string | undefined; body: string }> {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
  await sleep(delayMs);
  s.write(body);
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = text.slice(0, headEnd);
  let rest = text.slice(headEnd + 4);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let out = '';
    for (;;) {
      const eol = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, eol), 16);
      if (!(size > 0)) break;
      out += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    rest = out;
  }
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), fallback: /\r\nx-breakwater-fallback: *([^\r]*)/i.exec(head)?.[1], body: rest };
}

/** Keys in the cache Redis under breakwater:cache:. */
async function cacheKeys(): Promise<string[]> {
  const client = new Redis(cacheRedis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.keys('breakwater:cache:*')).sort();
  } finally {
    client.disconnect();
  }
}

// --- what is warmed while ClickHouse is up -------------------------------------------------

const P = 'SELECT number FROM numbers(10) WHERE number < 5';
const JSON_SQL = 'SELECT number, toString(number * 7) AS s FROM numbers(5) FORMAT JSON';
const POST_JSON_SQL = "SELECT 'posted' AS what, count() AS n FROM numbers(100) FORMAT JSON";
const POST_TSV_SQL = "SELECT 'posted-tsv', sum(number) FROM numbers(1000)";
const GZIP_SQL = 'SELECT number FROM numbers(3000) FORMAT TabSeparated';

const READS: { name: string; req: Req }[] = [
  { name: 'GET ?query= JSON', req: { path: q(JSON_SQL) } },
  { name: 'GET ?query= TabSeparated', req: { path: q('SELECT number, number * number FROM numbers(20) FORMAT TabSeparated') } },
  { name: 'POST SELECT in the body, JSON', req: { path: '/', body: POST_JSON_SQL } },
  { name: 'POST SELECT in the body, TabSeparated (the default format)', req: { path: '/', body: POST_TSV_SQL } },
  { name: 'GET enable_http_compression=1 + Accept-Encoding: gzip', req: { path: q(GZIP_SQL, { enable_http_compression: '1' }), headers: { 'accept-encoding': 'gzip' } } },
  { name: 'GET ?query= of a SQL that another request continues in its body', req: { path: q(P) } },
];
/** The live answers, byte for byte, as recorded while warming. */
const live: Answer[] = [];

// --- never stored ----------------------------------------------------------------------------

const MID_STREAM_SQL = 'SELECT number, throwIf(number = 150000) FROM system.numbers LIMIT 300000 FORMAT TabSeparated';
const SLOW_SQL =
  "SELECT number, arrayStringConcat(arrayMap(x -> 'xxxxxxxxxx', range(100))) AS pad FROM system.numbers WHERE sleepEachRow(0.001) = 0 LIMIT 3000 FORMAT TabSeparated";
const NOT_STORED = {
  tooLarge: { path: q('SELECT number FROM numbers(700000) FORMAT TabSeparated') },
  session: { path: q("SELECT 'in a session' FORMAT TabSeparated", { session_id: 'cache-test-session' }) },
  error: { path: q('SELECT * FROM no_such_table FORMAT JSON') },
  midStream: { path: '/?max_block_size=1000', body: MID_STREAM_SQL },
  midStreamGzip: { path: q(MID_STREAM_SQL, { max_block_size: '1000', enable_http_compression: '1' }), headers: { 'accept-encoding': 'gzip' } },
  head: { method: 'HEAD', path: q("SELECT 'head only' FORMAT TabSeparated") },
  cut: { path: q(SLOW_SQL, { max_block_size: '100' }) },
  lateBody: { path: q(P), body: ' AND number > 2' },
} satisfies Record<string, Req>;

const A = await sidecar();
/** Answers A served from the cache, for the fallback counter. */
let cacheAnswersA = 0;

t.test('while ClickHouse is up, reads are stored as they stream by; keys are hashes', async (t) => {
  await A.bw.waitFor(async () => (await A.bw.get('/status')).body.cache?.redis === 'ready', 'the cache Redis connection', 15_000);
  for (const { name, req } of READS) {
    const r = await call(A.port, req);
    t.equal(r.status, 200, `${name}: 200 from ClickHouse`);
    t.equal(r.fallback, undefined, `${name}: not a fallback`);
    t.ok(r.body.length > 0, `${name}: a body (${r.body.length} bytes)`);
    live.push(r);
  }
  t.equal(live[4]!.headers['content-encoding'], 'gzip', 'ClickHouse compressed the gzip read');
  t.match(gunzipSync(live[4]!.body).toString(), /^0\n1\n2\n/, 'and it decompresses to the rows');
  t.match(JSON.parse(live[0]!.body.toString()), { rows: 5, data: [{ number: '0', s: '0' }] });

  await A.bw.waitFor(async () => (await stored(A.bw)) === READS.length, `${READS.length} stores`, 10_000);
  t.equal(await stored(A.bw), READS.length, 'breakwater_cache_stores_total{result="stored"} counts each read');
  await A.bw.waitFor(async () => (await cacheKeys()).length === READS.length, 'the background writes to Redis', 10_000);
  const keys = await cacheKeys();
  t.equal(keys.length, READS.length, 'one Redis key per read');
  for (const k of keys) t.match(k, /^breakwater:cache:clickhouse:\/:[0-9a-f]{64}$/, `a hashed key name: ${k}`);
  t.notOk(keys.some((k) => /select|numbers|posted/i.test(k)), 'no SQL text in key names');

  const status = (await A.bw.get('/status')).body;
  t.match(status.cache, { redis: 'ready', stats: { stores: READS.length, tooLarge: 0, hits: { redis: 0, memory: 0 }, misses: 0 } }, '/status shows the cache');
});

t.test('what must not be stored is not', async (t) => {
  const before = await stored(A.bw);
  const tooLarge = await call(A.port, NOT_STORED.tooLarge);
  t.equal(tooLarge.status, 200);
  t.ok(tooLarge.body.length > MAX_ENTRY_BYTES, `a response over maxEntryBytes (${tooLarge.body.length} bytes)`);
  await A.bw.waitFor(async () => (await metricOf(A.bw, 'breakwater_cache_stores_total{result="too_large"}')) === 1, 'too_large counted', 10_000);

  const session = await call(A.port, NOT_STORED.session);
  t.equal(session.status, 200, 'a read in a session is answered');
  t.equal(session.body.toString(), 'in a session\n');

  const error = await call(A.port, NOT_STORED.error);
  t.equal(error.status, 404, 'a ClickHouse error (unknown table) passes through');
  t.match(error.body.toString(), /Code: 60/);

  const midStream = await call(A.port, NOT_STORED.midStream);
  t.equal(midStream.status, 200, 'a mid-stream exception comes in a 200 (the status was sent before it)');
  t.match(midStream.body.subarray(-300).toString(), /DB::Exception/, 'with the exception at the end of the body');
  t.ok(midStream.body.length < MAX_ENTRY_BYTES, 'small enough to be stored if it were good');

  const midStreamGzip = await call(A.port, NOT_STORED.midStreamGzip);
  t.equal(midStreamGzip.status, 200);
  t.equal(midStreamGzip.headers['content-encoding'], 'gzip');
  t.match(gunzipSync(midStreamGzip.body).subarray(-300).toString(), /DB::Exception/, 'gzip: the exception is inside the compressed stream');

  const head = await call(A.port, NOT_STORED.head);
  t.equal(head.status, 200, 'HEAD is answered');
  t.equal(head.body.length, 0, 'without a body');

  const late = await lateBody(A.port, NOT_STORED.lateBody.path, NOT_STORED.lateBody.body, 300);
  t.equal(late.status, 200);
  t.equal(late.body, '3\n4\n', 'ClickHouse ran the query parameter followed by the late body');

  await sleep(1500); // background work (gzip inspection, Redis writes) has settled
  t.equal(await stored(A.bw), before, 'none of them was stored');
  t.equal(await metricOf(A.bw, 'breakwater_cache_stores_total{result="too_large"}'), 1, 'the large one counts as too_large');
  t.equal((await cacheKeys()).length, READS.length, 'no new Redis keys');
});

t.test('ClickHouse paused: a response cut mid-stream is not stored; a request whose SQL was not all read is not served a cached answer', async (t) => {
  const before = await stored(A.bw);
  let paused = false;
  t.teardown(() => {
    if (paused) ch.resume();
  });
  // The head comes once ClickHouse has 1 MiB of output (~1 s), then 100 rows every 0.1 s.
  const cut = await call(A.port, NOT_STORED.cut, () => {
    ch.pause();
    paused = true;
  });
  t.equal(cut.status, 200, 'the response had started');
  t.equal(cut.complete, false, `and was cut after ${cut.body.length} bytes (breakwater's ${TIMEOUT_MS}ms idle timeout)`);
  ch.resume();
  paused = false;
  t.equal((await call(A.port, NOT_STORED.session)).status, 200, 'ClickHouse answers again');

  // Forwarded as soon as the head arrived (a query parameter); the body follows and is forwarded
  // too; ClickHouse does not answer, so the fallback chain gets a request of which breakwater
  // has seen only the query parameter. Its key must not be the one of `GET ?query=P` (stored).
  ch.pause();
  paused = true;
  const late = await lateBody(A.port, NOT_STORED.lateBody.path, NOT_STORED.lateBody.body, 300);
  ch.resume();
  paused = false;
  t.equal(late.status, 200);
  t.equal(late.fallback, 'static', 'answered by static after the timeout, not with the answer to the query parameter alone');
  t.equal(late.body, '', 'an empty TabSeparated result');
  t.equal((await call(A.port, NOT_STORED.session)).status, 200, 'ClickHouse answers again');

  await sleep(500);
  t.equal(await stored(A.bw), before, 'nothing was stored');
  t.equal((await A.bw.get('/status')).body.dependencies.clickhouse.breaker.state, 'closed', 'two failures with successes between: still closed');
});

t.test('a hot read is stored again about once a second, not on every request', async (t) => {
  const hot = { path: q("SELECT 'hot' AS h FORMAT TabSeparated") };
  const before = await stored(A.bw);
  const start = performance.now();
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await call(A.port, hot)).status);
  const burstMs = performance.now() - start;
  t.same(statuses, Array(10).fill(200));
  await sleep(300);
  const afterBurst = (await stored(A.bw)) - before;
  t.ok(afterBurst >= 1 && afterBurst <= 1 + Math.floor(burstMs / 1000), `10 requests in ${burstMs.toFixed(0)}ms were stored ${afterBurst} time(s)`);
  await sleep(1100);
  t.equal((await call(A.port, hot)).status, 200);
  await A.bw.waitFor(async () => (await stored(A.bw)) - before === afterBurst + 1, 'a store once the copy is a second old', 5000);
  t.pass('stored again once its copy was a second old');
});

t.test('ClickHouse down: the same reads are answered with the cached bytes, from Redis', async (t) => {
  await ch.kill();
  const first: Answer[] = [];
  for (const [i, { name, req }] of READS.entries()) {
    const r = await call(A.port, req);
    t.equal(r.status, 200, `${name}: 200`);
    t.equal(r.fallback, 'cache', `${name}: x-breakwater-fallback: cache`);
    t.equal(r.tier, 'redis', `${name}: x-breakwater-cache-tier: redis`);
    t.ok(r.body.equals(live[i]!.body), `${name}: the live answer, byte for byte (${r.body.length} bytes)`);
    t.equal(r.headers['content-type'], live[i]!.headers['content-type'], `${name}: its content-type`);
    t.equal(r.headers['content-encoding'], live[i]!.headers['content-encoding'], `${name}: its content-encoding`);
    t.match(r.headers.age, /^\d+$/, `${name}: an Age header in seconds`);
    if (r.fallback === 'cache') cacheAnswersA++;
    first.push(r);
  }
  t.equal((await A.bw.get('/status')).body.dependencies.clickhouse.breaker.state, 'open', 'connection refused opened the breaker');
  await sleep(2100);
  const again = await call(A.port, READS[0]!.req);
  t.equal(again.fallback, 'cache');
  if (again.fallback === 'cache') cacheAnswersA++;
  t.ok(Number(again.headers.age) >= Number(first[0]!.headers.age) + 2, `Age grows: ${first[0]!.headers.age} s, then ${again.headers.age} s`);
  t.ok(again.body.equals(live[0]!.body), 'still the same bytes');

  const hits: { name: string; of: number; req: Req }[] = [
    { name: 'whitespace, a block comment, a trailing ;', of: 0, req: { path: q('SELECT   number,\n\ttoString(number * 7) AS s /* the same */ FROM numbers(5)\n  FORMAT JSON ;') } },
    { name: 'a -- comment line and newlines in a POSTed body', of: 2, req: { path: '/', body: `-- why\nSELECT 'posted' AS what,   count() AS n\n  FROM numbers(100)\nFORMAT JSON\n` } },
    { name: 'the same body sent chunked', of: 3, req: { path: '/', body: POST_TSV_SQL, chunked: true } },
  ];
  for (const { name, of, req } of hits) {
    const r = await call(A.port, req);
    t.equal(r.fallback, 'cache', `${name}: a hit`);
    if (r.fallback === 'cache') cacheAnswersA++;
    t.ok(r.body.equals(live[of]!.body), `${name}: the bytes of "${READS[of]!.name}"`);
  }

  const misses: { name: string; req: Req }[] = [
    { name: 'another database', req: { path: q(JSON_SQL, { database: 'system' }) } },
    { name: 'another FORMAT', req: { path: q(JSON_SQL.replace('FORMAT JSON', 'FORMAT JSONCompact')) } },
    { name: 'another default_format', req: { path: '/?default_format=JSONCompact', body: POST_TSV_SQL } },
    { name: 'gzip read without Accept-Encoding', req: { path: READS[4]!.req.path } },
    { name: 'the query parameter with a body', req: NOT_STORED.lateBody },
  ];
  for (const { name, req } of misses) {
    const r = await call(A.port, req);
    t.equal(r.fallback, 'static', `${name}: not a hit (static)`);
    t.equal(r.headers['content-encoding'], undefined, `${name}: uncompressed`);
  }

  for (const [name, req] of Object.entries(NOT_STORED)) {
    const r = await call(A.port, req);
    t.equal(r.status, 200, `never stored, ${name}: 200`);
    t.equal(r.fallback, 'static', `never stored, ${name}: static`);
  }

  const unseen = await call(A.port, { path: q("SELECT 'never seen' AS x FORMAT JSON") });
  t.equal(unseen.status, 200);
  t.equal(unseen.fallback, 'static', 'a read never seen: the static empty result');
  t.same(JSON.parse(unseen.body.toString()).data, []);

  const write = await call(A.port, { path: q('INSERT INTO t VALUES'), body: '(1)' });
  t.equal(write.status, 503, 'a write fails fast');
  t.equal(write.fallback, 'fail');
  t.match(JSON.parse(write.body.toString()), { dependency: 'clickhouse' });

  t.equal(await metricOf(A.bw, 'breakwater_fallbacks_total{dependency="clickhouse",kind="cache"}'), cacheAnswersA, 'cache answers count as fallbacks of kind cache');
  t.equal(await metricOf(A.bw, 'breakwater_cache_lookups_total{result="redis_hit"}'), cacheAnswersA, 'each a Redis hit');
  t.ok((await metricOf(A.bw, 'breakwater_cache_lookups_total{result="miss"}')) >= misses.length, 'the misses are counted');
  t.equal(await metricOf(A.bw, 'breakwater_fallbacks_total{dependency="clickhouse",kind="fail"}'), 1);
  const status = (await A.bw.get('/status')).body.cache;
  t.match(status, { redis: 'ready', stats: { hits: { redis: cacheAnswersA, memory: 0 } } }, '/status counts the hits');
});

t.test('a second sidecar on the same cache Redis serves what the first one stored', async (t) => {
  const B = await sidecar();
  await B.bw.waitFor(async () => (await B.bw.get('/status')).body.cache?.redis === 'ready', 'the cache Redis connection', 15_000);
  t.equal(await stored(B.bw), 0, 'it stored nothing itself');
  for (const [i, { name, req }] of READS.entries()) {
    const r = await call(B.port, req);
    t.equal(r.fallback, 'cache', `${name}: cache`);
    t.equal(r.tier, 'redis', `${name}: from Redis`);
    t.ok(r.body.equals(live[i]!.body), `${name}: the same bytes`);
  }
  t.equal(await metricOf(B.bw, 'breakwater_fallbacks_total{dependency="clickhouse",kind="cache"}'), READS.length);
  await B.bw.stop();
});

t.test('cache Redis paused: the in-process copy answers after at most the cache timeout', async (t) => {
  let paused = true;
  cacheRedis.pause();
  t.teardown(() => {
    if (paused) cacheRedis.resume();
  });
  for (const [i, { name, req }] of READS.entries()) {
    const r = await call(A.port, req);
    t.equal(r.fallback, 'cache', `${name}: cache`);
    t.equal(r.tier, 'memory', `${name}: x-breakwater-cache-tier: memory`);
    t.ok(r.ms < FAST_MS, `${name}: in ${r.ms.toFixed(1)}ms (cache timeout ${CACHE_TIMEOUT_MS}ms)`);
    t.ok(r.body.equals(live[i]!.body), `${name}: the same bytes`);
    if (r.fallback === 'cache') cacheAnswersA++;
  }
  t.ok((await metricOf(A.bw, 'breakwater_cache_redis_errors_total')) >= 1, 'the overdue Redis read is counted');
  t.equal((await A.bw.get('/status')).body.cache.redis, 'unavailable', '/status: Redis unavailable while it does not answer');
  cacheRedis.resume();
  paused = false;
  await A.bw.waitFor(async () => (await A.bw.get('/status')).body.cache.redis === 'ready', 'Redis usable again', 15_000);
  const r = await call(A.port, READS[1]!.req);
  t.equal(r.tier, 'redis', 'Redis answers again once it is back');
  if (r.fallback === 'cache') cacheAnswersA++;
});

t.test('cache Redis down: the in-process copy answers at once', async (t) => {
  await cacheRedis.kill();
  await A.bw.waitFor(async () => (await A.bw.get('/status')).body.cache.redis === 'unavailable', '/status: Redis unavailable', 15_000);
  for (const [i, { name, req }] of READS.entries()) {
    const r = await call(A.port, req);
    t.equal(r.status, 200);
    t.equal(r.fallback, 'cache', `${name}: cache`);
    t.equal(r.tier, 'memory', `${name}: x-breakwater-cache-tier: memory`);
    t.ok(r.ms < FAST_MS, `${name}: in ${r.ms.toFixed(1)}ms`);
    t.ok(r.body.equals(live[i]!.body), `${name}: the same bytes`);
    t.equal(r.headers['content-type'], live[i]!.headers['content-type']);
    if (r.fallback === 'cache') cacheAnswersA++;
  }
  const unseen = await call(A.port, { path: q("SELECT 'still never seen' AS x FORMAT JSON") });
  t.equal(unseen.fallback, 'static', 'a miss still falls through to static');
  t.ok(unseen.ms < FAST_MS, `at once (${unseen.ms.toFixed(1)}ms)`);
  t.equal(await metricOf(A.bw, 'breakwater_fallbacks_total{dependency="clickhouse",kind="cache"}'), cacheAnswersA, 'every cache answer counted as a fallback');
  t.ok((await metricOf(A.bw, 'breakwater_cache_lookups_total{result="memory_hit"}')) >= READS.length * 2, 'memory hits counted');
  const status = (await A.bw.get('/status')).body.cache;
  t.equal(status.redis, 'unavailable');
  t.ok(status.stats.hits.memory >= READS.length * 2, '/status counts the memory hits');
});

t.test('/status has no cache when no rule uses it', async (t: Test) => {
  const C = await sidecar('[static]');
  const status = (await C.bw.get('/status')).body;
  t.equal(status.cache, undefined, 'no cache object');
  t.notMatch((await C.bw.get('/metrics')).body as string, /breakwater_cache_stores_total\{/, 'no cache series');
  await C.bw.stop();
});
