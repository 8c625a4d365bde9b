// The connection-level Redis guard against a real redis-server, with ioredis as the app.
import t from 'tap';
import { Redis } from 'ioredis';
import { connect } from 'node:net';
import { freePort, withRedis } from '../../services/index.js';
import { startBreakwater } from '../../support/breakwater.js';

const redis = await withRedis(t);
const port = await freePort();
const bw = await startBreakwater(
  t,
  `admin: { listen: "{{ADMIN}}" }
dependencies:
  redis:
    protocol: redis
    listen: 127.0.0.1:${port}
    upstream: ${redis.url}
    required: true
    breaker: { failures: 5, openFor: 2s, halfOpenSuccesses: 2 }
    health: { interval: 300ms, unhealthyThreshold: 100 }
`,
);
await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready');

/** One raw connection: send a command, read the first reply line. */
function rawCommand(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(cmd));
    let data = '';
    s.on('data', (d) => {
      data += d;
      if (data.includes('\r\n')) {
        s.destroy();
        resolve(data);
      }
    });
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
}

t.test('commands pass through untouched', async (t) => {
  const app = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  await app.connect();
  await app.set('k', 'v');
  t.equal(await app.get('k'), 'v');
  const pipeline = await app.pipeline().incr('n').incr('n').get('n').exec();
  t.same(pipeline!.map(([, v]) => v), [1, 2, '2']);
  await t.rejects(app.hget('k', 'x'), /WRONGTYPE/, 'Redis errors reach the app as they are');
  app.disconnect();
  t.equal((await bw.get('/status')).body.dependencies.redis.breaker.state, 'closed');
});

t.test('Redis down: failed connections open the breaker, clients get a RESP error', async (t) => {
  await redis.kill();
  for (let i = 0; i < 5; i++) t.match(await rawCommand('PING\r\n'), /^-ERR breakwater: cannot reach redis: redis:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  const status = (await bw.get('/status')).body.dependencies.redis;
  t.equal(status.breaker.state, 'open');
  t.equal(status.counts.failure, 5);
  t.match(await rawCommand('GET k\r\n'), /^-ERR breakwater: redis circuit open, retry in [12]s\r\n$/);
  t.equal(await bw.metric(/^breakwater_calls_total\{dependency="redis",outcome="rejected"\}/), 1);
  t.equal(await bw.metric(/^breakwater_fallbacks_total\{dependency="redis",kind="fail"\}/), 6);
  t.equal((await bw.get('/readyz')).status, 503);

  // ioredis degrades instead of crashing: commands fail with the breakwater error.
  const app = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, lazyConnect: true });
  app.on('error', () => undefined);
  await app.connect().catch(() => undefined);
  await t.rejects(app.get('k'));
  app.disconnect();

  await redis.restart();
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.redis.breaker.state === 'half_open', 'half-open', 5000);
  t.equal(await rawCommand('PING\r\n'), '+PONG\r\n');
  t.equal(await rawCommand('PING\r\n'), '+PONG\r\n');
  t.equal((await bw.get('/status')).body.dependencies.redis.breaker.state, 'closed');
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready', 5000);
});

t.test('when Redis dies under a live connection, the client connection is closed too', async (t) => {
  const app = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  app.on('error', () => undefined);
  await app.connect();
  t.equal(await app.ping(), 'PONG');
  const ended = new Promise<void>((r) => app.once('end', () => r()));
  await redis.kill();
  await ended;
  t.pass('the app saw its connection end and can reconnect');
  // A killed server closes its sockets with FIN, like QUIT or CLIENT KILL would: a clean close
  // is not counted as a failure; the next connection attempt is (see above).
  t.equal((await bw.get('/status')).body.dependencies.redis.inFlight, 0, 'no connection is left behind');
  await redis.restart();
});
