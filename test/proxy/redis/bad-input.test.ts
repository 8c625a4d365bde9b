// Bad input over raw sockets: garbage, absurd lengths, negative counts, truncated frames, clients
// that vanish mid-pipeline. The sidecar stays up (/livez), a client connected beside them keeps
// working, the breaker does not count any of it, and breakwater_bad_requests_total says why.
import t from 'tap';
import { withRedis } from '../../services/index.js';
import { badRequests, breakerState, client, direct, encode, metricOf, RawClient, sidecar, sleep, text } from './helpers.js';

const redis = await withRedis(t);
const { bw, port } = await sidecar(t, redis, { timeout: '2s', maxRequestBytes: '1MiB' });
const bystander = await client(t, port);
const raw = direct(t, redis);
let n = 0;

/** The bystander (a long-lived client beside the bad ones) still works, and so does the sidecar. */
async function stillFine(): Promise<void> {
  const key = `bystander:${n++}`;
  t.equal(await bystander.set(key, 'ok'), 'OK', 'a client connected beside it keeps working');
  t.equal(await bystander.get(key), 'ok');
  t.equal((await bw.get('/livez')).status, 200, '/livez 200');
  t.equal(bw.proc.exitCode, null, 'the sidecar is running');
}

t.test('garbage that is not RESP: a protocol error, then the connection closes', async (t) => {
  const before = await badRequests(bw, 'malformed_resp');
  for (const garbage of ['*abc\r\n', '*1\r\nX\r\n', '*2\r\n$3\r\nGET\r\n$x\r\n', '*1\r\n$3\r\nGETXX\r\n', '*1\r\n$-3\r\n']) {
    const c = await RawClient.open(t, port);
    c.write(encode('PING'));
    c.write(garbage);
    const [pong, err] = await c.read(2);
    t.equal(pong, 'PONG', 'the reply owed before the garbage comes first');
    t.match(err, { error: /^ERR breakwater: Protocol error: / }, `${JSON.stringify(garbage)} → ${JSON.stringify(err)}`);
    t.ok(await c.waitClosed(5000), 'then the connection is closed (as Redis does)');
  }
  t.equal(await badRequests(bw, 'malformed_resp'), before + 5, 'each counted as malformed_resp');
  // Random bytes with a '*' in front (so they are not an inline command).
  const c = await RawClient.open(t, port);
  c.write(Buffer.concat([Buffer.from('*'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))]));
  t.ok(await c.waitClosed(5000), 'random bytes: closed');
  t.equal(await badRequests(bw, 'malformed_resp'), before + 6);
  await stillFine();
  t.equal(await breakerState(bw), 'closed', 'bad input does not count against Redis');
  t.equal((await bw.get('/status')).body.dependencies.redis.counts.failure, 0);
});

t.test('a bulk length of 2^40: oversized, refused before any of it is buffered', async (t) => {
  const before = await badRequests(bw, 'oversized_request');
  const c = await RawClient.open(t, port);
  c.write(`*2\r\n$3\r\nGET\r\n$${2 ** 40}\r\n`);
  const [err] = await c.read(1);
  t.match(err, { error: /^ERR breakwater: a command of at least \d+ bytes exceeds maxRequestBytes \(1048576\)/ });
  t.ok(await c.waitClosed(5000));
  // More arguments than any command has: refused on the count alone.
  const c2 = await RawClient.open(t, port);
  c2.write(`*${2 ** 40}\r\n`);
  t.match((await c2.read(1))[0], { error: /^ERR breakwater: / });
  t.ok(await c2.waitClosed(5000));
  t.equal(await badRequests(bw, 'oversized_request'), before + 2);
  // A long inline line without a newline.
  const c3 = await RawClient.open(t, port);
  c3.write(Buffer.alloc(100 * 1024, 'a'));
  t.match((await c3.read(1))[0], { error: /too big inline request/ });
  t.ok(await c3.waitClosed(5000));
  await stillFine();
});

t.test('*-5 and *0 are empty commands (ignored, as Redis ignores them)', async (t) => {
  for (const port_ of [redis.port, port]) {
    const c = await RawClient.open(t, port_);
    c.write('*-5\r\n*0\r\n');
    c.write(encode('PING'));
    t.same(await c.read(1), ['PONG'], `${port_ === port ? 'breakwater' : 'Redis itself'}: the next command is answered`);
    t.equal(c.closed, false);
  }
  await stillFine();
});

t.test('truncated frames followed by close: nothing reaches Redis, counted as client_disconnect', async (t) => {
  const before = await badRequests(bw, 'client_disconnect');
  for (const partial of ['*3\r\n$3\r\nSET\r\n$5\r\ntrunc\r\n$10\r\nabc', '*3\r\n$3\r\nSET\r\n$5\r\ntr', '*3\r\n', 'SET trunc inline']) {
    const c = await RawClient.open(t, port);
    c.write(partial);
    await sleep(50);
    c.socket.destroy();
    await c.waitClosed();
  }
  await sleep(200);
  t.equal(await raw.exists('trunc'), 0, 'no half command ran');
  t.equal(await badRequests(bw, 'client_disconnect'), before + 4, 'each cut request counted as client_disconnect');
  await stillFine();
});

t.test('1000 pipelined commands, then the client vanishes: no effect on others or the breaker', async (t) => {
  const before = await badRequests(bw, 'client_disconnect');
  for (let round = 0; round < 5; round++) {
    const c = await RawClient.open(t, port);
    const cmds: Buffer[] = [];
    for (let i = 0; i < 1000; i++) cmds.push(encode('SET', `vanish:${round}:${i}`, Buffer.alloc(512, 120)));
    c.write(Buffer.concat(cmds));
    c.socket.destroy();
  }
  await bw.waitFor(async () => (await badRequests(bw, 'client_disconnect')) >= before + 1, 'client_disconnect counted', 10_000);
  t.ok((await badRequests(bw, 'client_disconnect')) <= before + 5, 'at most one per vanished client');
  await stillFine();
  const s = (await bw.get('/status')).body.dependencies.redis;
  t.equal(s.breaker.state, 'closed');
  t.equal(s.counts.failure, 0, 'a vanished client is not a Redis failure');
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.redis.inFlight === 1, 'only the bystander connection left', 10_000);
  // A client that half-closes (ends) after its pipeline still gets every reply.
  const c = await RawClient.open(t, port);
  c.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => encode('INCR', 'halfclose'))));
  c.socket.end();
  // Redis answers a half-closed client in full before closing; so must breakwater.
  const replies = await c.read(1000);
  t.same(text(replies[999]!), 1000, 'every reply, in order');
  t.ok(await c.waitClosed(5000), 'then the connection is closed');
  await bw.waitFor(async () => Number(await raw.get('halfclose')) === 1000, 'all 1000 INCRs reached Redis', 10_000);
  await stillFine();
});

t.test('a client sending a huge pipeline and reading nothing (backpressure) does not hurt others', async (t) => {
  const c = await RawClient.open(t, port);
  c.socket.pause(); // never reads its replies
  const value = Buffer.alloc(64 * 1024, 121);
  await raw.set('bp:big', value);
  const chunk = Buffer.concat(Array.from({ length: 100 }, () => encode('GET', 'bp:big')));
  for (let i = 0; i < 20; i++) c.write(chunk); // 2000 × 64 KiB of replies owed
  await sleep(1000);
  await stillFine();
  const rss = (await bw.metric(/^process_resident_memory_bytes /)) ?? 0;
  t.ok(rss < 400 * 1024 * 1024, `the sidecar did not buffer the 128 MB of replies (rss ${Math.round(rss / 1048576)} MiB)`);
  c.socket.destroy();
});

t.test('bulkhead: connections over maxConcurrent get an error and are closed; others are unaffected', async (t) => {
  const small = await sidecar(t, redis, { maxConcurrent: 2 });
  const a = await client(t, small.port);
  const b = await RawClient.open(t, small.port);
  t.equal(await b.command('PING'), 'PONG');
  const over = await RawClient.open(t, small.port);
  const [err] = await over.read(1);
  t.match(err, { error: /^ERR breakwater: redis has too many connections \(maxConcurrent 2\)$/ });
  t.ok(await over.waitClosed(5000), 'the extra connection is closed');
  t.equal(await a.set('bulk:k', 'v'), 'OK', 'the admitted clients keep working');
  t.equal(await metricOf(small.bw, 'breakwater_fallbacks_total{dependency="redis",kind="fail"}'), 1);
  t.equal((await small.bw.get('/status')).body.dependencies.redis.inFlight, 2);
  b.socket.destroy();
  await small.bw.waitFor(async () => (await small.bw.get('/status')).body.dependencies.redis.inFlight === 1, 'a slot freed', 5000);
  const c = await RawClient.open(t, small.port);
  t.equal(text(await c.command('GET', 'bulk:k')), 'v', 'a freed slot admits a new connection');
});
