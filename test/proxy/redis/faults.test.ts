// Real faults with breakwater in front of Redis: redis-server killed under load and restarted,
// paused (SIGSTOP) and continued, stuck in a script (-BUSY) and loading its dataset (-LOADING).
// The breaker opens after 5 failures, reads miss and writes fail fast while it is open, no client
// hangs, and after openFor two trial successes close it; the SAME client connections keep
// working, their AUTH/SELECT/CLIENT SETNAME replayed on the new upstream connection.
import t, { type Test } from 'tap';
import type { Redis } from 'ioredis';
import { freePort, withRedis, type RedisServer } from '../../services/index.js';
import { startBreakwater, type Breakwater } from '../../support/breakwater.js';
import { breakerState, client, commands, direct, encode, metricOf, RawClient, sidecar, sleep, text, timed, TOKEN, within } from './helpers.js';

const OPEN_FOR = 2000;
// An ACL user besides the password-less default (the harness's readiness PING needs that one):
// clients authenticate as `app`, and ACL WHOAMI proves AUTH was replayed after a reconnect.
const ACL = ['--user', 'app', 'on', '>app-pw', '~*', '&*', '+@all'];
const AUTH = { username: 'app', password: 'app-pw' };

const transitions = (bw: Breakwater, from: string, to: string): Promise<number> =>
  metricOf(bw, `breakwater_breaker_transitions_total{dependency="redis",from="${from}",to="${to}"}`);
const counts = async (bw: Breakwater): Promise<Record<string, number>> => (await bw.get('/status')).body.dependencies.redis.counts;

/** SIGCONT in teardown, whatever state the test left the server in. */
function resumeQuietly(redis: RedisServer): void {
  try {
    redis.resume();
  } catch {
    // not running
  }
}

/** Connection events of an ioredis client: a second 'connect' or any 'close' means breakwater dropped it. */
function watchConnection(r: Redis): { connects: number; closes: number } {
  const seen = { connects: 1, closes: 0 };
  r.on('connect', () => seen.connects++);
  r.on('close', () => seen.closes++);
  return seen;
}

/** After openFor: half-open, then two successful trials close the breaker. `drive` issues one command. */
async function recover(t: Test, bw: Breakwater, drive: () => Promise<unknown>): Promise<void> {
  await bw.waitFor(async () => (await breakerState(bw)) !== 'open', 'half_open after openFor', OPEN_FOR + 10_000);
  t.equal(await breakerState(bw), 'half_open');
  await bw.waitFor(
    async () => {
      await drive().catch(() => undefined);
      return (await breakerState(bw)) === 'closed';
    },
    'closed after two trial successes',
    20_000,
  );
  t.ok((await transitions(bw, 'half_open', 'closed')) >= 1, 'half_open -> closed counted');
}

/** Fallback answers while open: right shape, and fast (well under any timeout). */
async function fastFallbacks(t: Test, r: Redis, label: string): Promise<void> {
  const times: number[] = [];
  const check = async <T>(what: string, fn: () => Promise<T>, want: (v: T | undefined, e: Error | undefined) => boolean): Promise<void> => {
    const res = await timed(fn);
    times.push(res.ms);
    t.ok(want(res.value, res.error), `${label}: ${what} (${res.ms.toFixed(1)}ms): ${res.error?.message ?? JSON.stringify(res.value)}`);
  };
  for (let i = 0; i < 5; i++) {
    await check('GET → null', () => r.get(`k${i}`), (v, e) => e === undefined && v === null);
    await check('MGET → nulls', () => r.mget('a', 'b', 'c'), (v, e) => e === undefined && JSON.stringify(v) === '[null,null,null]');
    await check('EXISTS → 0', () => r.exists('a', 'b'), (v, e) => e === undefined && v === 0);
    await check('HGETALL → {}', () => r.hgetall('h'), (v, e) => e === undefined && JSON.stringify(v) === '{}');
    await check('LRANGE → []', () => r.lrange('l', 0, -1), (v, e) => e === undefined && JSON.stringify(v) === '[]');
    await check('SET → circuit open', () => r.set('w', '1'), (_, e) => /^ERR breakwater: redis circuit open \(retry in \d+s\)$/.test(e?.message ?? ''));
    await check('INCR → circuit open', () => r.incr('n'), (_, e) => /breakwater: redis circuit open/.test(e?.message ?? ''));
  }
  const max = Math.max(...times);
  t.ok(max < 100, `${label}: every fallback within 100ms (max ${max.toFixed(1)}ms of ${times.length})`);
}

t.test('killed under load, restarted: open after 5 failures, fast fallbacks, no hang, same connections recover', async (t) => {
  const redis = await withRedis(t, { args: ACL });
  const { bw, port } = await sidecar(t, redis, { timeout: '1s', breaker: `{ failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }` });
  // Four app connections: RESP3 and RESP2, databases 0 and 3, each with a name.
  const apps = await Promise.all(
    [
      { protocol: 3, db: 0 },
      { protocol: 3, db: 3 },
      { protocol: 2, db: 0 },
      { protocol: 2, db: 3 },
    ].map((o, i) => client(t, port, { ...AUTH, protocol: o.protocol as 2 | 3, db: o.db, connectionName: `app-${i}` })),
  );
  const seen = apps.map(watchConnection);
  const sub = await client(t, port, AUTH);
  await sub.subscribe('events');
  const subEnded = new Promise<void>((r) => sub.once('end', () => r()));
  for (const [i, r] of apps.entries()) t.equal(await r.set(`warm:${i}`, 'x'), 'OK');

  let running = true;
  let ops = 0;
  let slowest = 0;
  const loop = async (r: Redis, id: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const start = performance.now();
      await Promise.allSettled([r.set(`load:${id}:${i % 100}`, String(i)), r.get(`load:${id}:${(i + 50) % 100}`), r.incr(`load:${id}:n`)]);
      slowest = Math.max(slowest, performance.now() - start);
      ops += 3;
      if (i % 20 === 0) await sleep(1); // let the event loop breathe on a 2-core machine
    }
  };
  const loops = apps.map((r, i) => loop(r, i));
  await sleep(700);
  t.ok(ops > 100, `load is running (${ops} commands)`);
  t.equal(await breakerState(bw), 'closed');

  await redis.kill();
  const killedAt = performance.now();
  await bw.waitFor(async () => (await breakerState(bw)) === 'open', 'the breaker to open', 10_000);
  t.ok(performance.now() - killedAt < 5000, 'opened within seconds of the kill');
  t.equal(await transitions(bw, 'closed', 'open'), 1, 'closed -> open once');
  t.equal(await metricOf(bw, 'breakwater_breaker_state{dependency="redis",state="open"}'), 1);
  const status = (await bw.get('/status')).body.dependencies.redis;
  t.ok(status.counts.failure >= 5, `5 consecutive failures opened it (${status.counts.failure} in all: commands in flight at the kill count too)`);
  t.match(status.lastError.message, /ECONNREFUSED|ECONNRESET|EPIPE|closed the connection/);
  t.ok(status.breaker.retryAfterMs > 0 && status.breaker.retryAfterMs <= OPEN_FOR);
  t.ok(bw.logs.some((l) => l.level === 'warn' && /breaker closed -> open: 5 consecutive failures/.test(String(l.msg))), 'the transition is logged');
  await sleep(300); // under load while open
  running = false;
  // A client left paused after Redis closed the connection used to hang here (session.ts writeUpstream).
  await within(Promise.all(loops), 5000, 'every outstanding command of the load loops');
  t.ok(slowest < 1500, `no command waited longer than the 1s timeout plus slack (slowest batch ${slowest.toFixed(0)}ms)`);
  await within(subEnded, 5000, 'the subscriber connection to close');
  t.pass('a subscriber connection is closed (it resubscribes on reconnect)');

  for (const [i, r] of apps.entries()) await fastFallbacks(t, r, `app-${i}`);
  t.ok((await commands(bw, 'read', 'fallback')) > 0);
  t.ok((await metricOf(bw, 'breakwater_calls_total{dependency="redis",outcome="rejected"}')) >= 20 * 4);

  // A client connecting now: its handshake (HELLO 3 AUTH, SELECT, CLIENT SETINFO, INFO) is answered.
  const late = await within(client(t, port, { ...AUTH, db: 3, connectionName: 'late' }), 5000, 'a new client to become ready');
  t.equal(late.status, 'ready', 'a new client becomes ready while the breaker is open');
  t.equal(await late.get('x'), null, 'and its reads miss');
  const lateSeen = watchConnection(late);

  await redis.restart();
  await recover(t, bw, () => apps[0]!.get('warm:0'));
  t.equal(await transitions(bw, 'open', 'half_open'), 1);
  t.equal(await transitions(bw, 'half_open', 'closed'), 1);

  // The same connections work; their setup was replayed on new upstream connections.
  const d0 = direct(t, redis, { db: 0 });
  const d3 = direct(t, redis, { db: 3 });
  for (const [i, r] of [...apps, late].entries()) {
    const failed = (e: Error): string => `failed: ${e.message}`;
    t.equal(await r.set(`after:${i}`, `v${i}`).catch(failed), 'OK', `app-${i}: SET works on the same connection`);
    t.equal(await r.get(`after:${i}`).catch(failed), `v${i}`);
    t.equal(await r.call('ACL', 'WHOAMI').catch(failed), 'app', `app-${i}: AUTH replayed`);
  }
  t.same(await d3.mget('after:1', 'after:3', 'after:4'), ['v1', 'v3', 'v4'], 'SELECT 3 replayed: the db-3 clients wrote to db 3');
  t.same(await d0.mget('after:0', 'after:2', 'after:1'), ['v0', 'v2', null], 'db-0 clients wrote to db 0');
  const list = (await d0.client('LIST')) as string;
  for (const name of ['app-0', 'app-1', 'app-2', 'app-3', 'late']) t.match(list, new RegExp(`name=${name} `), `CLIENT SETNAME ${name} replayed`);
  t.notOk(
    bw.logs.some((l) => /setup command replayed .* failed/.test(String(l.msg))),
    'no replayed setup failed (CLIENT SETINFO answered while open is dropped, not fatal, on Redis 7.0)',
  );
  t.same(
    seen.map((s) => s.closes),
    [0, 0, 0, 0],
    'no app connection was closed',
  );
  t.same(
    seen.map((s) => s.connects),
    [1, 1, 1, 1],
    'none reconnected',
  );
  t.equal(lateSeen.closes, 0);
  t.ok(apps.every((r) => r.status === 'ready'));
});

t.test('SIGSTOP: in-flight commands time out near `timeout`, count as failures; SIGCONT recovers', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '500ms', breaker: `{ failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }` });
  const r = await client(t, port, { protocol: 3 });
  const seen = watchConnection(r);
  await r.set('stop:k', 'before');
  redis.pause();
  t.teardown(() => resumeQuietly(redis));

  const batch = await Promise.all([timed(() => r.get('stop:k')), timed(() => r.mget('stop:k', 'x')), timed(() => r.exists('stop:k'))]);
  t.same(
    batch.map((b) => b.value),
    [null, [null, null], 0],
    'reads in flight answered as misses',
  );
  for (const b of batch) t.ok(b.ms >= 450 && b.ms < 1500, `settled near the 500ms timeout (${b.ms.toFixed(0)}ms)`);
  t.equal((await counts(bw)).failure, 3, 'each in-flight command counted as a failure');
  t.equal(await commands(bw, 'read', 'failure'), 3);
  t.match((await bw.get('/status')).body.dependencies.redis.lastError.message, /no reply within 500ms \(timeout\)/);
  t.equal(await breakerState(bw), 'closed');

  const write = await timed(() => r.set('stop:k', 'during'));
  t.match(write.error?.message, /^ERR breakwater: redis unavailable: .*no reply within 500ms/, 'a write in flight fails with the reason');
  t.ok(write.ms >= 450 && write.ms < 1500, `after the timeout (${write.ms.toFixed(0)}ms)`);
  const fifth = await timed(() => r.get('stop:k'));
  t.equal(fifth.value, null);
  t.equal(await breakerState(bw), 'open', 'open after the 5th failure');
  t.equal((await counts(bw)).failure, 5);
  await fastFallbacks(t, r, 'paused');

  redis.resume();
  await recover(t, bw, () => r.get('stop:k'));
  // The SET that timed out was in Redis's socket buffer: it may have run after SIGCONT, as with any
  // client-side timeout. What matters is that the app was told it failed, never OK.
  t.ok(['before', 'during'].includes((await r.get('stop:k'))!), 'the key holds one of the two values');
  t.equal(await r.set('stop:k', 'after'), 'OK');
  t.same([seen.connects, seen.closes], [1, 0], 'the same connection throughout');
});

t.test('a MULTI interrupted by a timeout (SIGSTOP) ends in EXECABORT; nothing of it ran', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '500ms' });
  const c = await RawClient.open(t, port);
  t.match(text(await c.command('HELLO', '3')), { map: [['server', 'redis']] });
  t.equal(await c.command('SELECT', '5'), 'OK');
  await direct(t, redis, { db: 5 }).hset('m:h', { f: 'v' });
  t.equal(await c.command('MULTI'), 'OK');
  t.equal(await c.command('SET', 'm:a', '1'), 'QUEUED');
  redis.pause();
  t.teardown(() => resumeQuietly(redis));
  const lost = await timed(() => c.command('SET', 'm:b', '2'));
  t.match(lost.value, { error: /^ERR breakwater: redis unavailable/ });
  t.ok(lost.ms >= 450 && lost.ms < 1500, `after the timeout (${lost.ms.toFixed(0)}ms)`);
  const exec = await timed(() => c.command('EXEC'));
  t.match(exec.value, { error: /^EXECABORT/ }, 'EXEC → EXECABORT');
  t.ok(exec.ms < 100, `at once (${exec.ms.toFixed(1)}ms)`);
  redis.resume();
  const d = direct(t, redis, { db: 5 });
  t.equal(await d.exists('m:a', 'm:b'), 0, 'nothing of the transaction ran on Redis');
  // The connection goes on, outside any transaction, on a new upstream connection that was given
  // the client's HELLO 3 and SELECT 5 again.
  t.equal(await c.command('SET', 'm:c', '3'), 'OK');
  t.equal(await d.get('m:c'), '3', 'SELECT 5 replayed');
  t.same(text(await c.command('HGETALL', 'm:h')), { map: [['f', 'v']] }, 'HELLO 3 replayed: a RESP3 map');
  t.equal(await breakerState(bw), 'closed');
});

t.test('a WATCH lost with its upstream connection: the EXEC after it reports the key changed', async (t) => {
  const redis = await withRedis(t);
  const { port } = await sidecar(t, redis, { timeout: '500ms' });
  const d = direct(t, redis);
  await d.set('wl:k', '1');
  const c = await RawClient.open(t, port);
  t.equal(await c.command('WATCH', 'wl:k'), 'OK');
  redis.pause();
  t.teardown(() => resumeQuietly(redis));
  t.equal(await c.command('GET', 'wl:k'), null, 'a read times out (miss); the upstream connection, and the WATCH on it, are gone');
  redis.resume();
  await d.set('wl:k', 'changed'); // Redis can no longer tell this client about it
  t.equal(await c.command('MULTI'), 'OK');
  t.equal(await c.command('SET', 'wl:k', 'blind'), 'QUEUED');
  t.equal(await c.command('EXEC'), null, 'EXEC → null, never a blind success');
  t.equal(await d.get('wl:k'), 'changed');
  // A fresh WATCH on the new connection works normally.
  t.equal(await c.command('WATCH', 'wl:k'), 'OK');
  t.equal(await c.command('MULTI'), 'OK');
  t.equal(await c.command('SET', 'wl:k', 'mine'), 'QUEUED');
  t.same(text(await c.command('EXEC')), ['OK']);
  t.equal(await d.get('wl:k'), 'mine');
});

t.test('-BUSY (a script that does not end): failures, reads miss, writes get Redis\'s error; SCRIPT KILL recovers', async (t) => {
  const redis = await withRedis(t, { args: ['--busy-reply-threshold', '100'] });
  const { bw, port } = await sidecar(t, redis, { timeout: '2s', breaker: `{ failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }` });
  const r = await client(t, port);
  await r.set('busy:k', 'v');
  const looper = await RawClient.open(t, redis.port);
  looper.write(encode('EVAL', 'while true do end', '0'));
  await sleep(300); // past busy-reply-threshold
  const d = await RawClient.open(t, redis.port);
  t.match(await d.command('GET', 'busy:k'), { error: /^BUSY/ }, 'Redis answers BUSY directly');

  for (let i = 0; i < 3; i++) {
    const g = await timed(() => r.get('busy:k'));
    t.equal(g.value, null, 'a read Redis failed with BUSY gets a miss');
    t.ok(g.ms < 500, `at once (${g.ms.toFixed(0)}ms)`);
  }
  const w = await timed(() => r.set('busy:k', 'w'));
  t.match(w.error?.message, /^BUSY Redis is busy running a script/, 'a write gets Redis\'s own BUSY error (fail relays it)');
  t.equal(await breakerState(bw), 'closed');
  t.equal(await r.get('busy:k'), null);
  t.equal(await breakerState(bw), 'open', 'open after 5 BUSY replies');
  const s = (await bw.get('/status')).body.dependencies.redis;
  t.equal(s.counts.failure, 5);
  t.match(s.lastError.message, /^BUSY/);
  t.equal(await commands(bw, 'read', 'failure'), 4);
  t.equal(await commands(bw, 'write', 'failure'), 1);

  t.equal(await d.command('SCRIPT', 'KILL'), 'OK');
  t.match((await looper.read(1))[0], { error: /Script killed/ });
  await recover(t, bw, () => r.get('busy:k'));
  t.equal(await r.get('busy:k'), 'v', 'the value was never overwritten');
});

t.test('-LOADING while Redis loads its dataset: failures, reads miss, then real answers', async (t) => {
  const redis = await withRedis(t, { args: ['--key-load-delay', '300', '--loading-process-events-interval-bytes', '1024'] });
  const seed = direct(t, redis);
  t.equal(await seed.call('DEBUG', 'POPULATE', '15000', 'key'), 'OK');
  t.equal(await seed.save(), 'OK');
  seed.disconnect();
  // failures: 100, so that the connection refusals during the restart don't open the breaker first.
  const { bw, port } = await sidecar(t, redis, { timeout: '2s', breaker: '{ failures: 100, openFor: 2s, halfOpenSuccesses: 2 }' });
  const c = await RawClient.open(t, port);
  t.same(text(await c.command('GET', 'key:1')), 'value:1');
  const restarting = redis.restart();
  // Poll Redis directly until it says LOADING.
  await within(
    (async () => {
      for (;;) {
        const p = await RawClient.open(t, redis.port).catch(() => undefined);
        if (p) {
          const v = await p.command('GET', 'key:1').catch(() => undefined);
          p.socket.destroy();
          if (v && typeof v === 'object' && 'error' in v && /^LOADING/.test(v.error)) return;
        }
        await sleep(50);
      }
    })(),
    20_000,
    'Redis to report LOADING',
  );
  const before = (await counts(bw)).failure;
  const g = await timed(() => c.command('GET', 'key:1'));
  t.equal(g.value, null, 'a read during LOADING is answered as a miss');
  t.ok(g.ms < 500, `at once (${g.ms.toFixed(0)}ms)`);
  const w = await c.command('SET', 'key:1', 'x');
  t.match(w, { error: /^LOADING/ }, 'a write gets Redis\'s LOADING error');
  t.equal((await counts(bw)).failure, before + 2, 'both counted as failures');
  t.match((await bw.get('/status')).body.dependencies.redis.lastError.message, /^LOADING/);
  await restarting;
  t.same(text(await c.command('GET', 'key:1')), 'value:1', 'after loading: the real value, on the same connection');
});

t.test('a blocking command issued in half_open does not hold the only trial permit', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '1s', breaker: `{ failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }` });
  const worker = await client(t, port);
  const app = await client(t, port);
  await app.set('hb:k', 'v');
  t.equal((await bw.post('/breakers/redis/trip', TOKEN)).status, 200);
  t.equal(await breakerState(bw), 'open');
  await bw.waitFor(async () => (await breakerState(bw)) !== 'open', 'half_open', OPEN_FOR + 10_000);
  // A worker's long BLPOP is the first command in half_open...
  const blpop = worker.blpop('hb:queue', 10).catch((e: Error) => e);
  await sleep(200);
  // ...the app's reads must still reach Redis (and close the breaker), not miss for 10 s.
  t.equal(await app.get('hb:k'), 'v', 'a read in half_open reaches Redis');
  t.equal(await app.get('hb:k'), 'v');
  t.equal(await breakerState(bw), 'closed', 'two successes close it while the BLPOP waits');
  await app.rpush('hb:queue', 'job');
  t.same(await within(blpop, 5000, 'BLPOP'), ['hb:queue', 'job'], 'and the BLPOP still gets its element');
});

t.test('a killed Redis while a BLPOP waits: the BLPOP is answered, the connection stays', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '1s' });
  const r = await client(t, port);
  const seen = watchConnection(r);
  const blpop = timed(() => r.blpop('kq', 30));
  await sleep(300);
  await redis.kill();
  const res = await within(blpop, 5000, 'the BLPOP');
  t.match(res.error?.message, /^ERR breakwater: redis unavailable/, `answered with an error (${res.error?.message})`);
  t.equal((await counts(bw)).failure, 1, 'counted as a failure');
  await redis.restart();
  t.equal(await r.set('kq:x', '1'), 'OK', 'the same connection works after the restart');
  t.same([seen.connects, seen.closes], [1, 0]);
});

t.test('half_open: a pipeline gets the trial\'s real reply and misses for the rest, in order', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '1s', breaker: `{ failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }` });
  const r = await client(t, port);
  await r.set('ho:k', 'v');
  t.equal((await bw.post('/breakers/redis/trip', TOKEN)).status, 200);
  await bw.waitFor(async () => (await breakerState(bw)) === 'half_open', 'half_open', OPEN_FOR + 10_000);
  const res = await r.pipeline().get('ho:k').get('ho:k').exists('ho:k').set('ho:w', '1').get('ho:k').exec();
  t.same(
    res!.map(([e, v]) => (e ? `error: ${e.message}` : v)),
    ['v', null, 0, 'error: ERR breakwater: redis circuit half-open, trial call in progress (retry in 1s)', null],
    'one trial reached Redis; the others were answered by the fallbacks in their places',
  );
  t.equal(await breakerState(bw), 'half_open', 'one success of two');
  t.equal(await r.get('ho:k'), 'v');
  t.equal(await breakerState(bw), 'closed');
  t.equal(await metricOf(bw, 'breakwater_fallbacks_total{dependency="redis",kind="static"}'), 3);
  t.equal(await metricOf(bw, 'breakwater_fallbacks_total{dependency="redis",kind="fail"}'), 1);
});

t.test('a replica cut off from its master: -READONLY writes and -MASTERDOWN reads are failures, answered in order', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '1s', breaker: '{ failures: 50, openFor: 2s, halfOpenSuccesses: 2 }' });
  const d = direct(t, redis);
  await d.set('ro:k', 'v');
  const deadMaster = await freePort();
  t.equal(await d.call('REPLICAOF', '127.0.0.1', String(deadMaster)), 'OK');
  t.teardown(() => d.call('REPLICAOF', 'NO', 'ONE').catch(() => undefined));
  const r = await client(t, port);
  const res = await r.pipeline().get('ro:k').set('ro:k', 'x').incr('ro:n').get('ro:k').exec();
  t.same(
    res!.map(([e, v]) => (e ? `error: ${e.message}` : v)),
    ['v', "error: READONLY You can't write against a read only replica.", "error: READONLY You can't write against a read only replica.", 'v'],
    'stale reads served; writes get Redis\'s own READONLY (fail relays it), each in its place',
  );
  t.equal((await counts(bw)).failure, 2, 'READONLY counted as a failure');
  t.equal(await commands(bw, 'write', 'failure'), 2);
  await d.config('SET', 'replica-serve-stale-data', 'no');
  const res2 = await r.pipeline().get('ro:k').mget('ro:k', 'x').ping().exec();
  t.same(
    res2!.map(([e, v]) => (e ? `error: ${e.message}` : v)),
    [null, [null, null], 'PONG'],
    'MASTERDOWN: reads answered as misses, PING by the setup fallback',
  );
  t.equal((await counts(bw)).failure, 5, 'all three counted (Redis refused PING too)');
  t.match((await bw.get('/status')).body.dependencies.redis.lastError.message, /^MASTERDOWN/);
});

t.test('fallback rules from the config: a named read can fail instead of missing', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, {
    fallback: `      - match: { commands: [GET, hgetall] }
        use: [fail]
      - match: { commands: read }
        use: [static]
`,
  });
  const r = await client(t, port);
  t.equal((await bw.post('/breakers/redis/force-open', TOKEN)).status, 200);
  await t.rejects(r.get('k'), /^ERR breakwater: redis circuit forced open by an operator$/, 'GET: fail, per the first rule');
  await t.rejects(r.hgetall('k'), /forced open/, 'HGETALL (named in lower case) too');
  t.same(await r.mget('a', 'b'), [null, null], 'MGET: static, per the second rule');
  t.equal(await r.ping(), 'PONG', 'PING: the setup default still answers');
  await t.rejects(r.set('k', 'v'), /forced open/, 'writes: fail (the default)');
  t.equal(await metricOf(bw, 'breakwater_fallbacks_total{dependency="redis",kind="fail"}'), 3);
  t.ok((await metricOf(bw, 'breakwater_fallbacks_total{dependency="redis",kind="static"}')) >= 2);
});

t.test('health checks: a killed Redis opens the breaker before the app feels it; readiness follows', async (t) => {
  const redis = await withRedis(t);
  const port = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
startup: { waitFor: [redis], timeout: 30s }
dependencies:
  redis:
    protocol: redis
    listen: 127.0.0.1:${port}
    upstream: ${redis.url}
    required: true
    breaker: { failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }
    health: { interval: 200ms, timeout: 300ms, unhealthyThreshold: 2 }
`,
  );
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready', 20_000);
  t.equal(await metricOf(bw, 'breakwater_dependency_healthy{dependency="redis"}'), 1);
  await redis.kill();
  await bw.waitFor(async () => (await breakerState(bw)) === 'open', 'the health check to open the breaker', 10_000);
  t.equal((await counts(bw)).failure, 0, 'no app command had failed');
  const ready = await bw.get('/readyz');
  t.equal(ready.status, 503);
  t.match(ready.body.reasons.join(' '), /redis: unhealthy/);
  t.equal(await metricOf(bw, 'breakwater_dependency_healthy{dependency="redis"}'), 0);
  const r = await client(t, port);
  const g = await timed(() => r.get('k'));
  t.equal(g.value, null, 'a client connecting now is answered: a miss');
  t.ok(g.ms < 100, `at once (${g.ms.toFixed(1)}ms)`);
  await redis.restart();
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.redis.healthy === true, 'healthy again', 10_000);
  await recover(t, bw, () => r.get('k'));
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, '/readyz 200 again', 10_000);
  t.equal(await r.set('k', 'v'), 'OK');
});

t.test('Redis killed while a client floods it with writes: every command is answered, none hangs', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '1s', breaker: `{ failures: 5, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 2 }` });
  const c = await RawClient.open(t, port);
  const N = 20_000;
  const value = Buffer.alloc(1024, 122);
  // 20 MB of SETs: the upstream socket's buffer fills up, so breakwater pauses the client for
  // backpressure; when Redis dies, no 'drain' comes and the client must be resumed anyway.
  const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encode('SET', `flood:${i}`, value)));
  for (let i = 0; i < N / 1000; i++) c.write(batch);
  await sleep(30);
  await redis.kill();
  const replies = await c.read(N, 20_000);
  t.equal(replies.length, N, `all ${N} commands answered`);
  const errors = replies.filter((r) => r !== null && typeof r === 'object' && 'error' in r) as Array<{ error: string }>;
  t.ok(errors.length > 0, `the ones after the kill failed (${errors.length})`);
  t.ok(errors.every((e) => /^ERR breakwater: redis (unavailable|circuit open)/.test(e.error)), 'with breakwater\'s errors');
  t.ok(replies.slice(0, N - errors.length).every((r) => r === 'OK'), 'the ones before it succeeded, in order');
  t.equal(c.closed, false, 'the client connection stays open');
  t.equal(await breakerState(bw), 'open');
});

t.test('Redis stalls half-way through a big reply: the client connection is closed, never fed a fallback mid-reply', async (t) => {
  const redis = await withRedis(t);
  const { bw, port } = await sidecar(t, redis, { timeout: '500ms' });
  const size = 32 * 1024 * 1024;
  const value = Buffer.alloc(size, 0x61);
  await direct(t, redis).set('stall:big', value);
  const expected = Buffer.concat([Buffer.from(`$${size}\r\n`), value, Buffer.from('\r\n+PONG\r\n')]);
  const { connect } = await import('node:net');
  const sock = connect({ host: '127.0.0.1', port });
  t.teardown(() => sock.destroy());
  let received = 0;
  let corrupt = '';
  let closedAt = 0;
  sock.on('data', (c: Buffer) => {
    if (!corrupt && !expected.subarray(received, received + c.length).equals(c)) {
      corrupt = `bytes ${received}..${received + c.length} differ from the reply: ${JSON.stringify(c.subarray(0, 40).toString('latin1'))}`;
    }
    received += c.length;
  });
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.on('close', () => ((closedAt = performance.now()), r())));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(Buffer.concat([encode('GET', 'stall:big'), encode('PING')]));
  await bw.waitFor(() => received > 0, 'the first bytes of the reply', 5000);
  // Hold the reply back (the client stops reading), stop Redis, then read again: what is
  // buffered arrives, and then Redis sends nothing more.
  sock.pause();
  await sleep(300);
  redis.pause();
  t.teardown(() => resumeQuietly(redis));
  sock.resume();
  const resumedAt = performance.now();
  await within(closed, 10_000, 'the client connection to be closed');
  t.ok(received < expected.length, `the reply was cut (${received} of ${expected.length} bytes)`);
  t.equal(corrupt, '', 'every byte received is the reply\'s own: no fallback was appended to half a reply');
  t.ok(closedAt - resumedAt >= 400, `closed after the timeout counted from when the client read again (${(closedAt - resumedAt).toFixed(0)}ms)`);
  t.equal((await counts(bw)).failure, 2, 'the cut GET and the PING behind it counted as failures');
  redis.resume();
  const c = await RawClient.open(t, port);
  t.equal(await c.command('PING'), 'PONG', 'a new connection works');
});
