// ioredis as the unmodified application, through breakwater, to a real redis-server: plain
// commands, long pipelines, scripts, RESP3, SELECT/CLIENT SETNAME, blocking commands that outlive
// the command timeout, binary and large values, and the request size limit.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { withRedis } from '../../services/index.js';
import { badRequests, client, commands, direct, encode, metricOf, RawClient, sidecar, sleep, text, timed, TOKEN, within } from './helpers.js';

const redis = await withRedis(t);
// timeout 500ms: shorter than the BLPOP below, which must not be cut by it.
const { bw, port } = await sidecar(t, redis, { timeout: '500ms', maxRequestBytes: '1MiB' });
const raw = direct(t, redis);

t.test('GET/SET and friends', async (t) => {
  const r = await client(t, port);
  t.equal(await r.set('greeting', 'hello'), 'OK');
  t.equal(await r.get('greeting'), 'hello');
  t.equal(await raw.get('greeting'), 'hello', 'the value is in the real Redis');
  t.equal(await r.get('missing'), null);
  t.equal(await r.incr('counter'), 1);
  t.equal(await r.incrby('counter', 41), 42);
  t.same(await r.mget('greeting', 'missing', 'counter'), ['hello', null, '42']);
  await r.hset('h', { a: '1', b: '2' });
  t.same(await r.hgetall('h'), { a: '1', b: '2' });
  t.equal(await r.del('greeting', 'counter', 'h'), 3);
  // A caller error passes through unchanged and does not count against the breaker.
  await r.set('str', 'x');
  await t.rejects(r.lpush('str', 'y'), /^WRONGTYPE/);
  t.equal(await commands(bw, 'write', 'ignored'), 1, 'WRONGTYPE counted as ignored (a caller error)');
  t.equal((await bw.get('/status')).body.dependencies.redis.breaker.state, 'closed');
});

t.test('a pipeline of 1000 commands: replies in order', async (t) => {
  const r = await client(t, port);
  const p = r.pipeline();
  for (let i = 0; i < 1000; i++) {
    if (i % 3 === 0) p.set(`p:${i}`, `v${i}`);
    else if (i % 3 === 1) p.get(`p:${i - 1}`);
    else p.incr('p:n');
  }
  const res = await p.exec();
  t.equal(res!.length, 1000);
  let ok = true;
  for (let i = 0; i < 1000; i++) {
    const [err, v] = res![i]!;
    const want = i % 3 === 0 ? 'OK' : i % 3 === 1 ? `v${i - 1}` : Math.floor(i / 3) + 1;
    if (err !== null || v !== want) {
      ok = false;
      t.fail(`reply ${i}: got ${String(err ?? v)}, want ${want}`);
      break;
    }
  }
  t.ok(ok, 'all 1000 replies matched their commands');
  // Many pipelines at once on one connection (ioredis writes them back to back).
  const all = await Promise.all(Array.from({ length: 20 }, (_, k) => r.pipeline(Array.from({ length: 50 }, (_, i) => ['echo', `${k}:${i}`])).exec()));
  t.same(
    all.map((res) => res!.map(([, v]) => v)),
    Array.from({ length: 20 }, (_, k) => Array.from({ length: 50 }, (_, i) => `${k}:${i}`)),
    '20 concurrent pipelines of 50, each in order',
  );
});

t.test('EVAL and EVALSHA', async (t) => {
  const r = await client(t, port);
  t.same(await r.eval("redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7}", 1, 'lua:k', 'lua-value'), ['lua-value', 7]);
  r.defineCommand('double', { numberOfKeys: 1, lua: "return tonumber(redis.call('GET', KEYS[1]) or '0') * 2" });
  await r.set('lua:n', '21');
  t.equal(await (r as unknown as { double(k: string): Promise<number> }).double('lua:n'), 42, 'EVALSHA (NOSCRIPT then EVAL) through the proxy');
  await t.rejects(r.eval('return redis.call("NOPE")', 0), /Unknown Redis command|ERR/);
});

t.test('RESP3: ioredis protocol 3 (HELLO 3) and RESP2 clients side by side', async (t) => {
  const r3 = await client(t, port, { protocol: 3, replyMapping: 'resp3' });
  const r2 = await client(t, port, { protocol: 2 });
  await r2.hset('resp3:h', { f: 'v', g: 'w' });
  t.same(await r3.hgetall('resp3:h'), { f: 'v', g: 'w' });
  t.same(await r3.call('HGETALL', 'resp3:h'), { f: 'v', g: 'w' }, 'a map reply');
  t.same(await r2.call('HGETALL', 'resp3:h'), ['f', 'v', 'g', 'w'], 'RESP2: a flat array');
  // Raw: HELLO 3 switches the connection; the map arrives as %.
  const c = await RawClient.open(t, port);
  const hello = text(await c.command('HELLO', '3')) as { map: Array<[string, unknown]> };
  t.same(hello.map.find(([k]) => k === 'proto'), ['proto', 3], 'HELLO 3 answered by Redis');
  t.same(text(await c.command('HGETALL', 'resp3:h')), { map: [['f', 'v'], ['g', 'w']] });
  t.equal(await c.command('GET', 'nope'), null);
  t.same(c.pendingBytes.length, 0);
});

t.test('SELECT: databases are isolated per client connection', async (t) => {
  const db1 = await client(t, port, { db: 1 });
  const db0 = await client(t, port);
  await db1.set('sel:k', 'in-db-1');
  t.equal(await db1.get('sel:k'), 'in-db-1');
  t.equal(await db0.get('sel:k'), null, 'not visible in db 0');
  const d1 = direct(t, redis, { db: 1 });
  t.equal(await d1.get('sel:k'), 'in-db-1', 'really in db 1 on Redis');
  t.equal(await raw.get('sel:k'), null);
  // SELECT mid-connection, interleaved with another connection's traffic.
  await db0.select(2);
  await db0.set('sel:k', 'in-db-2');
  t.equal(await db1.get('sel:k'), 'in-db-1');
  t.equal(await direct(t, redis, { db: 2 }).get('sel:k'), 'in-db-2');
});

t.test('CLIENT SETNAME is visible in CLIENT LIST', async (t) => {
  const r = await client(t, port, { connectionName: 'bw-test-conn' });
  await r.client('SETNAME', 'renamed-app');
  t.equal(await r.client('GETNAME'), 'renamed-app');
  const list = (await raw.client('LIST')) as string;
  t.match(list, /name=renamed-app /, 'Redis sees the name set through breakwater');
});

t.test('BLPOP longer than the command timeout is not cut; a push wakes it', async (t) => {
  const r = await client(t, port);
  await r.del('queue');
  const slow = await timed(() => r.blpop('queue', 1.5));
  t.equal(slow.error, undefined, String(slow.error));
  t.equal(slow.value, null, 'BLPOP 1.5s with nothing pushed: null');
  t.ok(slow.ms >= 1400, `waited its own timeout (${slow.ms.toFixed(0)}ms), not the sidecar's 500ms`);
  const pending = timed(() => r.blpop('queue', 3));
  await sleep(1000);
  const pusher = await client(t, port);
  t.equal(await pusher.rpush('queue', 'job-1'), 1);
  const woke = await pending;
  t.same(woke.value, ['queue', 'job-1'], 'woken by a push from another client');
  t.ok(woke.ms >= 900 && woke.ms < 2500, `after the push (${woke.ms.toFixed(0)}ms)`);
  // The connection is still in order afterwards.
  t.equal(await r.ping(), 'PONG');
  t.equal((await bw.get('/status')).body.dependencies.redis.breaker.state, 'closed', 'blocking waits are not failures');
  t.equal((await bw.get('/status')).body.dependencies.redis.counts.failure, 0);
});

t.test('WAIT and XREAD BLOCK longer than the command timeout are not cut either', async (t) => {
  const r = await client(t, port);
  const wait = await timed(() => r.wait(1, 1200));
  t.equal(wait.value, 0, 'WAIT 1 1200: no replica acknowledged');
  t.ok(wait.ms >= 1100, `WAIT waited its own 1.2s (${wait.ms.toFixed(0)}ms)`);
  const xread = timed(() => r.xread('BLOCK', 3000, 'STREAMS', 'stream:x', '$'));
  await sleep(1000);
  await raw.xadd('stream:x', '*', 'f', 'v');
  const got = await xread;
  t.equal(got.error, undefined, String(got.error));
  t.match(got.value, [['stream:x', [[String, ['f', 'v']]]]], 'XREAD BLOCK woken by an XADD');
  t.ok(got.ms >= 900, `after about 1s (${got.ms.toFixed(0)}ms)`);
  // A non-blocking XREAD is an ordinary read.
  t.match(await r.xread('STREAMS', 'stream:x', '0'), [['stream:x', [[String, ['f', 'v']]]]]);
  t.equal((await bw.get('/status')).body.dependencies.redis.counts.failure, 0);
});

t.test('a command slower than the timeout (DEBUG SLEEP) is cut, answered and counted as a failure', async (t) => {
  const r = await client(t, port);
  const failures = (await bw.get('/status')).body.dependencies.redis.counts.failure as number;
  const res = await timed(() => r.call('DEBUG', 'SLEEP', '1.5'));
  t.match(res.error?.message, /^ERR breakwater: redis unavailable: no reply within 500ms \(timeout\)/);
  t.ok(res.ms >= 450 && res.ms < 1400, `after the 500ms timeout (${res.ms.toFixed(0)}ms), not the 1.5s sleep`);
  t.equal((await bw.get('/status')).body.dependencies.redis.counts.failure, failures + 1);
  await sleep(1200); // Redis finishes its sleep
  t.equal(await r.ping(), 'PONG', 'the same connection goes on (on a new upstream connection)');
});

t.test('RESP3 invalidation pushes (CLIENT TRACKING) do not take the place of replies', async (t) => {
  const c = await RawClient.open(t, port);
  await c.command('HELLO', '3');
  t.equal(await c.command('CLIENT', 'TRACKING', 'ON'), 'OK');
  await raw.set('track:k', 'v1');
  t.same(text(await c.command('GET', 'track:k')), 'v1');
  await raw.set('track:k', 'v2'); // invalidates: a push arrives on c, out of band
  await sleep(100);
  c.write(Buffer.concat([encode('PING'), encode('GET', 'track:k')]));
  const got = text(await c.read(3)) as unknown[];
  t.same(got, [{ push: ['invalidate', ['track:k']] }, 'PONG', 'v2'], 'the push, then each reply in its place');
});

t.test('CLIENT REPLY OFF / ON: no reply is expected, the connection is not cut by the timeout', async (t) => {
  const c = await RawClient.open(t, port);
  c.write(Buffer.concat([encode('CLIENT', 'REPLY', 'OFF'), encode('SET', 'reply:off', '1')]));
  await sleep(1000); // twice the 500ms command timeout
  t.equal(c.closed, false, 'still connected');
  t.equal(c.pendingBytes.length, 0, 'nothing was answered');
  t.equal(await c.command('CLIENT', 'REPLY', 'ON'), 'OK');
  t.equal(text(await c.command('GET', 'reply:off')), '1', 'the SET sent without a reply ran');
  // SKIP: the next command's reply is skipped, the one after it answered.
  const c2 = await RawClient.open(t, port);
  c2.write(Buffer.concat([encode('CLIENT', 'REPLY', 'SKIP'), encode('SET', 'reply:skip', '2'), encode('GET', 'reply:skip')]));
  t.same(text(await c2.read(1)), ['2'], 'only the GET is answered');
  await sleep(700);
  t.equal(c2.pendingBytes.length, 0);
  t.equal(c2.closed, false);
});

t.test('QUIT: +OK, then the connection closes (also while the breaker is open)', async (t) => {
  const c = await RawClient.open(t, port);
  c.write(Buffer.concat([encode('SET', 'quit:k', 'v'), encode('QUIT'), encode('SET', 'quit:k', 'after')]));
  t.same(await c.read(2), ['OK', 'OK']);
  t.ok(await c.waitClosed(5000), 'closed after QUIT');
  t.equal(await raw.get('quit:k'), 'v', 'nothing after QUIT ran');
  t.equal((await bw.post('/breakers/redis/force-open', TOKEN)).status, 200);
  try {
    const c2 = await RawClient.open(t, port);
    c2.write(Buffer.concat([encode('GET', 'quit:k'), encode('QUIT')]));
    t.same(await c2.read(2), [null, 'OK'], 'answered by breakwater');
    t.ok(await c2.waitClosed(5000), 'and closed');
  } finally {
    await bw.post('/breakers/redis/reset', TOKEN);
  }
});

t.test('binary values: CRLF and all 256 byte values', async (t) => {
  const r = await client(t, port);
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const tricky = Buffer.concat([Buffer.from('\r\n$5\r\n*3\r\n-ERR x\r\n'), all, all.reverse()]);
  await r.set(Buffer.from('bin\r\nkey\x00'), tricky);
  const back = await r.getBuffer(Buffer.from('bin\r\nkey\x00'));
  t.ok(back !== null && back.equals(tricky), 'the value comes back byte for byte');
  const viaRedis = await raw.getBuffer(Buffer.from('bin\r\nkey\x00'));
  t.ok(viaRedis !== null && viaRedis.equals(tricky), 'and Redis holds exactly those bytes');
  // Pipelined binary writes and reads.
  const p = r.pipeline();
  for (let i = 0; i < 256; i++) p.set(`b:${i}`, Buffer.from([i, 13, 10, i]));
  for (let i = 0; i < 256; i++) p.getBuffer(`b:${i}`);
  const res = await p.exec();
  t.ok(res!.slice(256).every(([, v], i) => Buffer.isBuffer(v) && v.equals(Buffer.from([i, 13, 10, i]))), '256 pipelined binary values');
});

t.test('a 10 MiB value round trip (under a larger limit)', async (t) => {
  // This sidecar's limit is 1 MiB: a second one with the default 64 MiB carries the big value.
  const big = await sidecar(t, redis, { timeout: '10s' });
  const r = await client(t, big.port);
  const value = randomBytes(10 * 1024 * 1024);
  t.equal(await r.set('big', value), 'OK');
  const back = await r.getBuffer('big');
  t.ok(back !== null && back.equals(value), 'identical after the round trip');
  t.equal(await raw.strlen('big'), value.length);
  await raw.del('big');
});

t.test('a big reply to a client that reads it slowly is not cut by the command timeout', async (t) => {
  const value = randomBytes(8 * 1024 * 1024);
  await raw.set('slow:big', value);
  const c = await RawClient.open(t, port);
  c.write(Buffer.concat([encode('GET', 'slow:big'), encode('PING')]));
  await sleep(100);
  c.socket.pause(); // the app is busy for 3× the 500ms timeout; Redis answered at once
  await sleep(1500);
  c.socket.resume();
  const [got, pong] = await c.read(2, 10_000);
  t.ok(Buffer.isBuffer(got) && got.equals(value), 'the whole value arrives');
  t.equal(pong, 'PONG');
  t.equal(c.closed, false);
  await raw.del('slow:big');
});

t.test('a command over maxRequestBytes: -ERR naming the limit, that connection closed, others unaffected', async (t) => {
  const other = await client(t, port);
  await other.set('other', 'fine');
  const before = await badRequests(bw, 'oversized_request');
  const c = await RawClient.open(t, port);
  // A pipelined command first: its reply is owed and comes before the error.
  c.write(encode('SET', 'before-big', 'v'));
  c.write(encode('SET', 'too-big', Buffer.alloc(2 * 1024 * 1024, 97)));
  const [first, err] = await c.read(2);
  t.equal(first, 'OK', 'the reply owed before the oversized command');
  t.match(err, { error: /^ERR breakwater: .*maxRequestBytes \(1048576\)/ }, 'an error naming the limit');
  t.ok(await c.waitClosed(5000), 'the connection is closed');
  t.equal(await raw.exists('too-big'), 0, 'nothing of it reached Redis');
  t.equal(await raw.get('before-big'), 'v');
  t.equal(await badRequests(bw, 'oversized_request'), before + 1);
  t.equal(await other.get('other'), 'fine', 'another client is unaffected');

  // ioredis as the app: its command is rejected with the same error.
  const r = await client(t, port);
  const res = await within(
    r.set('too-big', Buffer.alloc(1024 * 1024 + 1, 98)).then(
      (v) => ({ v, e: undefined as Error | undefined }),
      (e: Error) => ({ v: undefined, e }),
    ),
    10_000,
    'the oversized SET',
  );
  t.match(res.e?.message, /^ERR breakwater: a command of at least \d+ bytes exceeds maxRequestBytes \(1048576\)$/, `ioredis gets the error (${res.e?.message})`);
  await bw.waitFor(() => r.status === 'end' || r.status === 'close', 'ioredis to see its connection closed', 5000);
  t.equal(await badRequests(bw, 'oversized_request'), before + 2);
  t.equal(await other.ping(), 'PONG');
  t.equal((await bw.get('/livez')).status, 200);
});

t.test('metrics: commands by class and outcome, no per-key labels', async (t) => {
  const r = await client(t, port);
  const reads = await commands(bw, 'read', 'success');
  const writes = await commands(bw, 'write', 'success');
  for (let i = 0; i < 10; i++) await r.set(`m:${i}`, 'x');
  for (let i = 0; i < 7; i++) await r.get(`m:${i}`);
  t.equal(await commands(bw, 'read', 'success'), reads + 7);
  t.equal(await commands(bw, 'write', 'success'), writes + 10);
  const body = (await bw.get('/metrics')).body as string;
  t.notMatch(body, /m:\d|"get"|"set"|greeting/i, 'no key or command name in any label');
  const series = body.split('\n').filter((l) => l.startsWith('breakwater_commands_total{'));
  t.ok(series.length > 0 && series.length <= 8 * 4 * 1, `bounded series (${series.length})`);
  t.ok(series.every((l) => /^breakwater_commands_total\{dependency="redis",class="[a-z]+",outcome="(success|failure|ignored|fallback)"\} \d+$/.test(l)));
  t.ok((await metricOf(bw, 'breakwater_calls_total{dependency="redis",outcome="success"}')) >= reads + writes + 17);
});
