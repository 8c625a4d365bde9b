// The response cache against a REAL redis-server (started by the shared
// harness): round trips, expiry, sharing between two sidecars, and what
// happens when Redis is killed, paused (SIGSTOP) and restarted.
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/log/logger.js';
import { CacheOptionError, ResponseCache, decodeEntry, encodeEntry, type CacheOptions, type CachedEntry } from '../../src/store/response-cache.js';
import { freePort, withRedis } from '../services/index.js';

const TIMEOUT_MS = 200;
// Event-loop and scheduling slack on a busy CI machine.
const SLACK_MS = 250;

const redis = await withRedis(t);

// No test may leave a promise rejection or an exception unhandled.
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => {
  unhandled.push(err);
};
process.on('unhandledRejection', onUnhandled);
process.on('uncaughtException', onUnhandled);
t.teardown(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A cache with its log lines captured; closed at the end of the test. */
function cacheFor(t: Test, opts: Partial<CacheOptions> = {}): { cache: ResponseCache; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const cache = new ResponseCache(
    { redisUrl: redis.url, ttlMs: 60_000, maxEntryBytes: 1 << 20, memoryMaxBytes: 8 << 20, namespace: 'bwtest', timeoutMs: TIMEOUT_MS, ...opts },
    createLogger('debug', sink),
  );
  t.teardown(() => cache.close());
  return { cache, logs };
}

/** A plain client to look at the server directly. */
function inspector(t: Test): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  t.teardown(() => client.disconnect());
  return client;
}

async function waitFor(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

/** Every byte value, a gzip body and text: what a stored response may look like. */
function sampleEntry(text = 'row\t1\n'): CachedEntry {
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  return {
    body: Buffer.concat([binary, zlib.gzipSync(Buffer.from(text.repeat(50))), Buffer.from(text)]),
    meta: { 'content-type': 'text/tab-separated-values; charset=UTF-8', 'content-encoding': 'gzip', 'x-clickhouse-format': 'TabSeparated', odd: 'é "quoted" \n' },
    storedAt: Date.now(),
  };
}

const warnings = (logs: LogLine[], re: RegExp): LogLine[] => logs.filter((l) => l.level === 'warn' && re.test(l.msg));

t.test('encoding: one value, length-prefixed meta header, raw body', async (t) => {
  const e = sampleEntry();
  const value = encodeEntry(e);
  t.equal(value[0], 1, 'version byte');
  const metaLength = value.readUInt32BE(1);
  t.same(JSON.parse(value.toString('utf8', 5, 5 + metaLength)), { t: e.storedAt, m: e.meta });
  t.ok(value.subarray(5 + metaLength).equals(e.body), 'body bytes follow as they are');
  t.same(decodeEntry(value), e);
  t.same(decodeEntry(encodeEntry({ body: Buffer.alloc(0), meta: {}, storedAt: 0 })), { body: Buffer.alloc(0), meta: {}, storedAt: 0 });
  for (const bad of [Buffer.alloc(0), Buffer.from('plain text'), Buffer.from([2, 0, 0, 0, 2, 0x7b, 0x7d]), Buffer.from([1, 0, 0, 0, 99, 0x7b]), Buffer.from([1, 0, 0, 0, 2, 0x7b, 0x7d])]) {
    t.equal(decodeEntry(bad), undefined, `not an entry: ${bad.toString('hex')}`);
  }
});

t.test('key: namespaced, scoped, hashed; parts cannot run into each other', async (t) => {
  const { cache } = cacheFor(t, { redisUrl: undefined });
  t.match(cache.key('clickhouse', ['sql:SELECT 1']), /^bwtest:cache:clickhouse:[0-9a-f]{64}$/);
  t.equal(cache.key('s', ['a', 'b']), cache.key('s', ['a', 'b']));
  t.not(cache.key('s', ['ab', 'c']), cache.key('s', ['a', 'bc']));
  t.not(cache.key('s', ['a:b']), cache.key('s', ['a', 'b']));
  t.not(cache.key('s', ['']), cache.key('s', []));
  t.not(cache.key('s', ['1:a']), cache.key('s', ['a']), 'the length prefix cannot be forged by a part');
  t.not(cache.key('s', ['é']), cache.key('s', ['e\u0301']));
  t.not(cache.key('s', ['a']), cache.key('t', ['a']), 'scope');
});

t.test('options that cannot work fail at construction, with the option named and no password shown', async (t) => {
  const base: CacheOptions = { redisUrl: undefined, ttlMs: 1000, maxEntryBytes: 1, memoryMaxBytes: 1, namespace: 'x', timeoutMs: 10 };
  const bad: [Partial<CacheOptions>, RegExp][] = [
    [{ ttlMs: 0 }, /"ttlMs" must be a finite number of milliseconds > 0, got 0; fix it in the cache config/],
    [{ timeoutMs: Number.NaN }, /"timeoutMs"/],
    [{ memoryMaxBytes: -1 }, /"memoryMaxBytes" must be a finite number of bytes >= 0/],
    [{ redisUrl: 'http://:pw@cache:6379' }, /"redisUrl" must be a redis:\/\/host:port or rediss:\/\/host:port URL, got cache:6379;/],
    [{ redisUrl: 'redis://[bad' }, /"redisUrl" .* got \(unparsable URL\)/],
  ];
  for (const [opts, message] of bad) {
    t.throws(() => new ResponseCache({ ...base, ...opts }, createLogger('silent')), message);
    try {
      new ResponseCache({ ...base, ...opts }, createLogger('silent'));
    } catch (err) {
      t.ok(err instanceof CacheOptionError && err.code === 'ERR_CACHE_OPTION');
      t.notMatch((err as Error).message, /pw@/);
    }
  }
});

t.test('set/get round trip through Redis: bytes, meta and storedAt exact', async (t) => {
  const { cache } = cacheFor(t);
  const raw = inspector(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const key = cache.key('roundtrip', ['sql:SELECT 1']);
  const e = sampleEntry();
  cache.set(key, e);
  await waitFor(async () => (await raw.exists(key)) === 1, 'the value in Redis');

  // A second cache has no memory copy: whatever it returns came from Redis.
  const { cache: other } = cacheFor(t);
  await waitFor(() => other.redisReady, 'the second connection');
  const got = await other.get(key);
  t.equal(got?.tier, 'redis');
  t.ok(got?.entry.body.equals(e.body), 'body bytes exact');
  t.same(got?.entry.meta, e.meta);
  t.equal(got?.entry.storedAt, e.storedAt);
  t.equal((await cache.get(key))?.tier, 'redis', 'Redis is asked first');
  t.same(cache.stats, { hits: { redis: 1, memory: 0 }, misses: 0, stores: 1, tooLarge: 0, redisErrors: 0 });
  t.equal(await cache.get(cache.key('roundtrip', ['sql:SELECT 2'])), undefined, 'a miss');
  t.equal(cache.stats.misses, 1);
});

t.test('entries expire in Redis (PX) and in memory', async (t) => {
  const ttlMs = 400;
  const { cache } = cacheFor(t, { ttlMs });
  const raw = inspector(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const key = cache.key('ttl', ['x']);
  cache.set(key, sampleEntry());
  await waitFor(async () => (await raw.exists(key)) === 1, 'the value in Redis');
  const pttl = await raw.pttl(key);
  t.ok(pttl > 0 && pttl <= ttlMs, `PTTL ${pttl} within (0, ${ttlMs}]`);
  await waitFor(async () => (await raw.exists(key)) === 0, 'Redis to expire the key', 3000);
  t.equal(await cache.get(key), undefined, 'gone from memory too');
  t.equal(cache.stats.misses, 1);

  // An entry stored long ago gets only the rest of its lifetime.
  const oldKey = cache.key('ttl', ['old']);
  cache.set(oldKey, { ...sampleEntry(), storedAt: Date.now() - 300 });
  await waitFor(async () => (await raw.exists(oldKey)) === 1, 'the old value in Redis');
  const rest = await raw.pttl(oldKey);
  t.ok(rest > 0 && rest <= 100, `PTTL ${rest} is what is left of ${ttlMs}`);
  const expiredKey = cache.key('ttl', ['expired']);
  cache.set(expiredKey, { ...sampleEntry(), storedAt: Date.now() - ttlMs });
  t.equal(await cache.get(expiredKey), undefined, 'an already expired entry is not served');
  t.equal(await raw.exists(expiredKey), 0, 'nor written to Redis');
});

t.test('an entry over maxEntryBytes is not stored, only counted', async (t) => {
  const { cache } = cacheFor(t, { maxEntryBytes: 1024 });
  const raw = inspector(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const big = cache.key('big', ['x']);
  cache.set(big, { body: Buffer.alloc(1025, 1), meta: {}, storedAt: Date.now() });
  const fits = cache.key('big', ['y']);
  cache.set(fits, { body: Buffer.alloc(1024, 1), meta: {}, storedAt: Date.now() });
  await waitFor(async () => (await raw.exists(fits)) === 1, 'the entry that fits');
  t.equal(await raw.exists(big), 0);
  t.equal(await cache.get(big), undefined);
  t.equal(cache.stats.tooLarge, 1);
  t.equal(cache.stats.stores, 1);
});

t.test('two caches (two sidecars) share entries through Redis', async (t) => {
  const a = cacheFor(t).cache;
  const b = cacheFor(t).cache;
  await waitFor(() => a.redisReady && b.redisReady, 'both connections');
  const key = a.key('clickhouse', ['sql:SELECT count() FROM posts']);
  t.equal(key, b.key('clickhouse', ['sql:SELECT count() FROM posts']), 'same key in both');
  const e = sampleEntry('42\n');
  a.set(key, e);
  let got: Awaited<ReturnType<ResponseCache['get']>>;
  await waitFor(async () => (got = await b.get(key)) !== undefined, 'b to see a\'s entry');
  t.equal(got?.tier, 'redis');
  t.ok(got?.entry.body.equals(e.body));
  t.equal(b.stats.stores, 0, 'b never stored it');
});

t.test('the Redis key space holds hashed, namespaced keys only: no SQL text', async (t) => {
  const { cache } = cacheFor(t, { namespace: 'bwkeys' });
  const raw = inspector(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const sqls = ["SELECT secret_column FROM users WHERE email = 'someone@example.com'", 'SELECT 1', 'SHOW TABLES'];
  for (const sql of sqls) cache.set(cache.key('clickhouse', [`sql:${sql}`, 'user:alice']), sampleEntry());
  const keys: string[] = [];
  await waitFor(async () => {
    keys.length = 0;
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', 'bwkeys:*', 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys.length === sqls.length;
  }, 'the three keys');
  for (const key of keys) {
    t.match(key, /^bwkeys:cache:clickhouse:[0-9a-f]{64}$/);
    t.notMatch(key, /secret|users|SELECT|alice/i);
  }
  const all = await raw.keys('*');
  t.notOk(all.some((k) => /secret_column|example\.com/.test(k)), 'nowhere in the whole key space');
});

t.test('a value this version cannot decode is a miss, counted and logged once', async (t) => {
  const { cache, logs } = cacheFor(t);
  const raw = inspector(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const key = cache.key('foreign', ['x']);
  await raw.set(key, 'written by something else');
  t.equal(await cache.get(key), undefined);
  t.equal(await cache.get(key), undefined);
  t.equal(cache.stats.redisErrors, 2);
  t.equal(warnings(logs, /cannot decode/).length, 1);
  t.match(warnings(logs, /cannot decode/)[0]?.msg, /own cache namespace/, 'says what to do');
});

t.test('memory only (no Redis URL)', async (t) => {
  const { cache, logs } = cacheFor(t, { redisUrl: undefined });
  t.equal(cache.redisReady, false);
  const key = cache.key('m', ['x']);
  t.equal(await cache.get(key), undefined);
  cache.set(key, sampleEntry());
  t.equal((await cache.get(key))?.tier, 'memory');
  t.same(cache.stats, { hits: { redis: 0, memory: 1 }, misses: 1, stores: 1, tooLarge: 0, redisErrors: 0 });
  t.equal(logs.filter((l) => l.level === 'warn').length, 0);
  await cache.close();
});

t.test('Redis unreachable from the start: memory serves, one warning, close() does not hang', async (t) => {
  const port = await freePort();
  const { cache, logs } = cacheFor(t, { redisUrl: `redis://:s3cret@127.0.0.1:${port}` });
  const key = cache.key('nobody', ['x']);
  const miss = await timed(() => cache.get(key));
  t.equal(miss.value, undefined);
  t.ok(miss.ms < TIMEOUT_MS, `a miss answers at once (${miss.ms.toFixed(1)} ms)`);
  cache.set(key, sampleEntry());
  t.equal((await cache.get(key))?.tier, 'memory');
  // several reconnect attempts later: still one warning
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const unreachable = warnings(logs, /unreachable/);
  t.equal(unreachable.length, 1, 'one warning, not one per attempt');
  t.match(unreachable[0]?.msg, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED.*check that Redis runs there`));
  t.notOk(JSON.stringify(logs).includes('s3cret'), 'the password never reaches the log');
  t.equal(cache.redisReady, false);
  const closing = await timed(() => cache.close());
  t.ok(closing.ms < 1000, `close() returned in ${closing.ms.toFixed(0)} ms`);
});

t.test('Redis killed: memory serves and stores; restarted: Redis is used again', async (t) => {
  const { cache, logs } = cacheFor(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const before = cache.key('outage', ['before']);
  const e = sampleEntry();
  cache.set(before, e);
  const raw = inspector(t);
  await waitFor(async () => (await raw.exists(before)) === 1, 'the value in Redis');

  await redis.kill();
  for (let i = 0; i < 5; i++) {
    const r = await timed(() => cache.get(before));
    t.equal(r.value?.tier, 'memory', `get ${i} served from memory`);
    t.ok(r.value?.entry.body.equals(e.body));
    t.ok(r.ms < TIMEOUT_MS + SLACK_MS, `within the timeout (${r.ms.toFixed(1)} ms)`);
  }
  await waitFor(() => !cache.redisReady, 'redisReady to turn false');
  const during = cache.key('outage', ['during']);
  cache.set(during, sampleEntry('during'));
  const r = await timed(() => cache.get(during));
  t.equal(r.value?.tier, 'memory', 'a set during the outage is served from memory');
  t.ok(r.ms < 50, `at once while the connection is down (${r.ms.toFixed(1)} ms)`);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // reconnect attempts
  t.equal(warnings(logs, /unreachable/).length, 1, 'one warning for the whole outage');

  await redis.restart();
  await waitFor(() => cache.redisReady, 'the reconnect', 10_000);
  t.equal(logs.filter((l) => l.level === 'info' && /usable again/.test(l.msg)).length, 1, 'one line when it is back');
  const after = cache.key('outage', ['after']);
  cache.set(after, sampleEntry('after'));
  await waitFor(async () => (await raw.exists(after)) === 1, 'the new value in the restarted Redis');
  t.equal((await cache.get(after))?.tier, 'redis', 'Redis is used again');
  t.equal(unhandled.length, 0, 'nothing unhandled');
});

t.test('Redis paused (SIGSTOP): get answers from memory within the timeout, then skips Redis until it answers again', async (t) => {
  const { cache, logs } = cacheFor(t);
  await waitFor(() => cache.redisReady, 'the cache connection');
  const key = cache.key('paused', ['x']);
  const e = sampleEntry();
  cache.set(key, e);
  const raw = inspector(t);
  await waitFor(async () => (await raw.exists(key)) === 1, 'the value in Redis');

  redis.pause();
  t.teardown(() => {
    if (redis.pid !== undefined) redis.resume();
  });
  const first = await timed(() => cache.get(key));
  t.equal(first.value?.tier, 'memory');
  t.ok(first.value?.entry.body.equals(e.body));
  t.ok(first.ms >= TIMEOUT_MS - 5 && first.ms < TIMEOUT_MS + SLACK_MS, `first get waited for the timeout only (${first.ms.toFixed(1)} ms)`);
  t.equal(cache.redisReady, false, 'stalled Redis is not ready');
  const second = await timed(() => cache.get(key));
  t.equal(second.value?.tier, 'memory');
  t.ok(second.ms < 50, `later gets do not wait at all (${second.ms.toFixed(1)} ms)`);
  const stored = cache.key('paused', ['while']);
  cache.set(stored, sampleEntry('while'));
  t.equal((await cache.get(stored))?.tier, 'memory', 'set works in memory while Redis is stalled');
  t.equal(warnings(logs, /did not answer within/).length, 1);
  t.ok(cache.stats.redisErrors >= 1);

  redis.resume();
  await waitFor(() => cache.redisReady, 'the late reply', 5000);
  t.equal((await cache.get(key))?.tier, 'redis', 'Redis is used again');
  t.equal(logs.filter((l) => l.level === 'info' && /usable again/.test(l.msg)).length, 1);
  t.equal(unhandled.length, 0, 'nothing unhandled');
});
