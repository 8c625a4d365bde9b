// Transactions through breakwater: MULTI/EXEC (ioredis multi() and raw), WATCH with a concurrent
// modification from another client, DISCARD, Redis's own EXECABORT, and a transaction the breaker
// interrupts (forced open through the admin API): EXEC ends in -EXECABORT and nothing of the
// transaction ran on Redis.
import t from 'tap';
import { withRedis } from '../../services/index.js';
import { breakerState, client, direct, encode, RawClient, sidecar, text, TOKEN, within } from './helpers.js';

const redis = await withRedis(t);
const { bw, port } = await sidecar(t, redis, { timeout: '1s' });
const raw = direct(t, redis);

async function forceOpen(): Promise<void> {
  t.equal((await bw.post('/breakers/redis/force-open', TOKEN)).status, 200);
  t.equal(await breakerState(bw), 'forced_open');
}
async function reset(): Promise<void> {
  t.equal((await bw.post('/breakers/redis/reset', TOKEN)).status, 200);
  t.equal(await breakerState(bw), 'closed');
}

t.test('ioredis multi(): queued commands run atomically, results in order', async (t) => {
  const r = await client(t, port);
  const res = await r.multi().set('tx:a', '1').incr('tx:a').get('tx:a').lpush('tx:l', 'x', 'y').lrange('tx:l', 0, -1).exec();
  t.same(res, [
    [null, 'OK'],
    [null, 2],
    [null, '2'],
    [null, 2],
    [null, ['y', 'x']],
  ]);
  t.equal(await raw.get('tx:a'), '2');
  // multi() without a pipeline: each command answered +QUEUED on its own.
  t.equal(await r.multi({ pipeline: false }), 'OK');
  t.equal(await r.set('tx:b', 'b'), 'QUEUED');
  t.equal(await r.get('tx:b'), 'QUEUED');
  t.same(await r.exec(), [
    [null, 'OK'],
    [null, 'b'],
  ]);
  // Many transactions in one pipeline-like burst on one connection.
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => r.multi().incr('tx:n').get('tx:n').exec()));
  const seen = all.map((x) => Number(x![1]![1])).sort((a, b) => a - b);
  t.same(seen, Array.from({ length: 50 }, (_, i) => i + 1), 'each EXEC saw its own increment');
});

t.test('WATCH: a concurrent modification from a second client makes EXEC return null', async (t) => {
  const r = await client(t, port);
  const other = await client(t, port);
  await r.set('w:k', '1');
  t.equal(await r.watch('w:k'), 'OK');
  const v = Number(await r.get('w:k'));
  await other.set('w:k', '100'); // the concurrent modification, through breakwater
  const res = await r.multi().set('w:k', String(v + 1)).exec();
  t.equal(res, null, 'EXEC → null: the watched key changed');
  t.equal(await raw.get('w:k'), '100', 'the transaction did not run');
  // Without interference the same sequence succeeds.
  await r.watch('w:k');
  const res2 = await r.multi().set('w:k', '101').exec();
  t.same(res2, [[null, 'OK']]);
  t.equal(await raw.get('w:k'), '101');
  // A direct client's modification counts as well.
  await r.watch('w:k');
  await raw.set('w:k', 'direct');
  t.equal(await r.multi().set('w:k', 'lost').exec(), null);
  t.equal(await raw.get('w:k'), 'direct');
  // UNWATCH forgets the watch.
  await r.watch('w:k');
  await raw.set('w:k', 'again');
  await r.unwatch();
  t.same(await r.multi().set('w:k', 'after-unwatch').exec(), [[null, 'OK']]);
});

t.test('raw MULTI/EXEC/DISCARD and Redis\'s own EXECABORT pass through', async (t) => {
  const c = await RawClient.open(t, port);
  c.write(Buffer.concat([encode('MULTI'), encode('SET', 'raw:tx', 'v'), encode('INCR', 'raw:n'), encode('EXEC')]));
  t.same(text(await c.read(4)), ['OK', 'QUEUED', 'QUEUED', ['OK', 1]]);
  c.write(Buffer.concat([encode('MULTI'), encode('SET', 'raw:disc', 'v'), encode('DISCARD')]));
  t.same(text(await c.read(3)), ['OK', 'QUEUED', 'OK']);
  t.equal(await raw.exists('raw:disc'), 0, 'DISCARD: nothing ran');
  // A syntax error while queueing: Redis aborts the transaction itself.
  c.write(Buffer.concat([encode('MULTI'), encode('SET', 'raw:abort', 'v'), encode('NOSUCHCOMMAND'), encode('EXEC')]));
  const [ok, queued, err, exec] = await c.read(4);
  t.same([ok, queued], ['OK', 'QUEUED']);
  t.match(err, { error: /^ERR unknown command/ });
  t.match(exec, { error: /^EXECABORT/ });
  t.equal(await raw.exists('raw:abort'), 0);
  t.match(await c.command('EXEC'), { error: 'ERR EXEC without MULTI' });
  c.write(Buffer.concat([encode('MULTI'), encode('MULTI'), encode('DISCARD')]));
  t.same(text(await c.read(3)), ['OK', { error: 'ERR MULTI calls can not be nested' }, 'OK']);
  t.equal(await breakerState(bw), 'closed', 'caller errors do not count');
});

t.test('the breaker opens during a MULTI: EXEC → EXECABORT, nothing ran on Redis', async (t) => {
  const c = await RawClient.open(t, port);
  t.equal(await c.command('MULTI'), 'OK');
  t.equal(await c.command('SET', 'int:a', '1'), 'QUEUED');
  await forceOpen();
  const refused = await c.command('SET', 'int:b', '2');
  t.match(refused, { error: /^ERR breakwater: redis circuit forced open/ }, 'a command refused inside MULTI: an error, as Redis answers one it rejects');
  const read = await c.command('GET', 'int:a');
  t.not(read, 'QUEUED', 'not queued');
  t.match(await within(c.command('EXEC'), 5000, 'EXEC'), { error: /^EXECABORT/ });
  t.equal(await raw.exists('int:a', 'int:b'), 0, 'nothing of the transaction ran');
  await reset();
  // The connection is usable and no longer in a transaction on Redis.
  t.equal(await c.command('SET', 'int:after', 'x'), 'OK', 'not queued: Redis discarded the transaction');
  t.equal(await raw.get('int:after'), 'x');
  t.equal(await c.command('MULTI'), 'OK');
  t.equal(await c.command('SET', 'int:c', '3'), 'QUEUED');
  t.same(text(await c.command('EXEC')), ['OK']);
  t.equal(await raw.get('int:c'), '3');
});

t.test('MULTI answered by breakwater while open: queued reads get an error, never a miss', async (t) => {
  const c = await RawClient.open(t, port);
  await forceOpen();
  try {
    t.equal(await c.command('MULTI'), 'OK');
    t.match(await c.command('GET', 'open:a'), { error: /^ERR breakwater: redis circuit forced open/ }, 'a read inside the MULTI is an error, not a nil');
    t.match(await c.command('SET', 'open:a', '1'), { error: /^ERR breakwater: redis circuit forced open/ });
    t.match(await within(c.command('EXEC'), 5000, 'EXEC'), { error: /^EXECABORT/ });
  } finally {
    await reset();
  }
  t.equal(await raw.exists('open:a'), 0, 'nothing ran');
});

t.test('ioredis multi() while the breaker is forced open: EXEC rejects with EXECABORT', async (t) => {
  const r = await client(t, port);
  await forceOpen();
  try {
    const res = await within(
      r.multi().set('fo:a', '1').get('fo:a').exec().then(
        (v) => ({ v, e: undefined as Error | undefined }),
        (e: Error) => ({ v: undefined, e }),
      ),
      5000,
      'multi().exec()',
    );
    t.match(res.e?.message, /EXECABORT/, `EXEC rejects (${res.e?.message})`);
    t.equal(res.v, undefined);
    // The MULTI was answered by breakwater; the EXEC needs no Redis either.
    t.equal(await r.get('fo:a'), null, 'reads miss while open');
  } finally {
    await reset();
  }
  t.equal(await raw.exists('fo:a'), 0, 'nothing ran');
  t.same(await r.multi().set('fo:a', '1').get('fo:a').exec(), [
    [null, 'OK'],
    [null, '1'],
  ], 'the same connection runs transactions again after reset');
});

t.test('WATCH before the breaker opened, EXEC after it closed: reported as changed', async (t) => {
  const r = await client(t, port);
  const c = await RawClient.open(t, port);
  await r.set('wl:k', '1');
  t.equal(await c.command('WATCH', 'wl:k'), 'OK');
  await forceOpen();
  t.equal(await c.command('MULTI'), 'OK', 'MULTI answered by breakwater');
  t.match(await c.command('SET', 'wl:k', '2'), { error: /forced open/ });
  await reset();
  t.match(await c.command('EXEC'), { error: /^EXECABORT/ }, 'the transaction lost a command: aborted');
  t.equal(await raw.get('wl:k'), '1');
  // WATCH refused while open: the EXEC after it reports the key as changed (null), never runs blind.
  await forceOpen();
  t.equal(await c.command('WATCH', 'wl:k'), 'OK');
  await reset();
  t.equal(await c.command('MULTI'), 'OK');
  t.equal(await c.command('SET', 'wl:k', '3'), 'QUEUED');
  t.equal(await c.command('EXEC'), null, 'EXEC → null: the WATCH never reached Redis');
  t.equal(await raw.get('wl:k'), '1');
});
