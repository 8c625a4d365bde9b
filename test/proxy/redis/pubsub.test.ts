// Pub/sub through breakwater: after SUBSCRIBE the connection is a plain pipe. A subscriber
// through breakwater receives what is published through breakwater and directly, in RESP2 and in
// RESP3 (where confirmations and messages are `>` pushes); unsubscribing works; MONITOR too.
import t from 'tap';
import { withRedis } from '../../services/index.js';
import { client, direct, encode, RawClient, sidecar, sleep, text, within } from './helpers.js';

const redis = await withRedis(t);
const { bw, port } = await sidecar(t, redis, { timeout: '500ms' });
const publisherDirect = direct(t, redis);

/** Resolves with the first n messages `sub` receives on any channel or pattern. */
function collect(sub: { on(ev: string, f: (...a: string[]) => void): unknown }, n: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) => {
    const add = (s: string): void => {
      got.push(s);
      if (got.length === n) resolve(got);
    };
    sub.on('message', (ch, msg) => add(`${ch}:${msg}`));
    sub.on('pmessage', (pat, ch, msg) => add(`${pat}>${ch}:${msg}`));
  });
}

for (const protocol of [2, 3] as const) {
  t.test(`RESP${protocol}: a subscriber through breakwater gets messages published through breakwater and directly`, async (t) => {
    const sub = await client(t, port, { protocol });
    const pub = await client(t, port, { protocol });
    const got = collect(sub, 4);
    t.equal(await within(sub.subscribe('news', 'sport'), 5000, 'SUBSCRIBE'), 2, 'subscribed to 2 channels');
    t.equal(await within(sub.psubscribe('wx.*'), 5000, 'PSUBSCRIBE'), 3);
    // Longer than the command timeout: a subscribed connection has no command waiting for a reply.
    await sleep(800);
    t.equal(await pub.publish('news', 'via-breakwater'), 1, 'one subscriber (through breakwater) received it');
    t.equal(await publisherDirect.publish('sport', 'direct'), 1);
    t.equal(await pub.publish('wx.rain', 'pattern'), 1);
    t.equal(await pub.publish('elsewhere', 'nobody'), 0);
    await pub.publish('news', 'second');
    t.same((await within(got, 5000, 'the messages')).sort(), ['news:second', 'news:via-breakwater', 'sport:direct', 'wx.*>wx.rain:pattern'].sort());

    // Unsubscribe: no more messages for that channel; the connection still works afterwards.
    await within(sub.unsubscribe('news'), 5000, 'UNSUBSCRIBE news');
    t.equal(await pub.publish('news', 'after-unsubscribe'), 0, 'nobody listens to news any more');
    t.equal(await publisherDirect.publish('sport', 'still'), 1);
    // Named: ioredis 6's argument-less unsubscribe() never settles while a pattern is left, even
    // directly against Redis.
    t.equal(await within(sub.unsubscribe('sport'), 5000, 'UNSUBSCRIBE sport'), 1, 'one subscription (the pattern) left');
    t.equal(await within(sub.punsubscribe('wx.*'), 5000, 'PUNSUBSCRIBE'), 0);
    t.equal(await publisherDirect.publish('sport', 'gone'), 0);
    t.equal(await within(sub.ping(), 5000, 'PING after unsubscribing'), 'PONG', 'the connection works after leaving subscriber mode');
    t.equal(await within(sub.set('after-sub', String(protocol)), 5000, 'SET after unsubscribing'), 'OK');
    t.equal(await publisherDirect.get('after-sub'), String(protocol));
    t.equal((await bw.get('/status')).body.dependencies.redis.counts.failure, 0, 'nothing counted as a failure');
  });
}

t.test('raw RESP2: subscribe replies, messages and unsubscribe on the wire', async (t) => {
  const c = await RawClient.open(t, port);
  c.write(encode('SUBSCRIBE', 'raw1', 'raw2'));
  t.same(text(await c.read(2)), [['subscribe', 'raw1', 1], ['subscribe', 'raw2', 2]]);
  await sleep(700); // past the 500ms command timeout
  await publisherDirect.publish('raw2', 'hello');
  t.same(text(await c.read(1)), [['message', 'raw2', 'hello']]);
  c.write(encode('PING'));
  t.same(text(await c.read(1)), [['pong', '']], 'PING in subscriber mode (RESP2 form)');
  c.write(encode('UNSUBSCRIBE'));
  const unsub = text(await c.read(2)) as Array<[string, string, number]>;
  t.same(unsub.map((r) => r[0]), ['unsubscribe', 'unsubscribe']);
  t.same(unsub.map((r) => r[1]).sort(), ['raw1', 'raw2'], 'both channels (in Redis\'s order)');
  t.same(unsub.map((r) => r[2]), [1, 0]);
  t.equal(c.closed, false);
});

t.test('raw RESP3: confirmations are pushes; ordinary commands interleave', async (t) => {
  const c = await RawClient.open(t, port);
  t.match(text(await c.command('HELLO', '3')), { map: [['server', 'redis']] });
  c.write(encode('SUBSCRIBE', 'r3'));
  t.same(text(await c.read(1, 5000)), [{ push: ['subscribe', 'r3', 1] }], 'the confirmation is a push');
  await sleep(700); // past the 500ms command timeout: the connection must not be cut
  t.equal(c.closed, false, 'still connected after the command timeout');
  await publisherDirect.publish('r3', 'pushed');
  t.same(text(await c.read(1)), [{ push: ['message', 'r3', 'pushed'] }]);
  // RESP3 allows any command while subscribed.
  await publisherDirect.set('r3:k', 'v');
  c.write(encode('GET', 'r3:k'));
  t.same(text(await c.read(1)), ['v']);
});

t.test('MONITOR through breakwater sees commands', async (t) => {
  const c = await RawClient.open(t, port);
  t.equal(await c.command('MONITOR'), 'OK');
  await publisherDirect.set('monitored', 'yes');
  const [line] = await c.read(1);
  t.match(line, /"set" "monitored" "yes"/i);
  await sleep(700);
  t.equal(c.closed, false, 'a monitor is not cut by the command timeout');
});

for (const proto of ['2', '3']) {
  t.test(`RESP${proto}: UNSUBSCRIBE of two channels outside subscriber mode, then a pipelined GET`, async (t) => {
    // Redis answers one reply (RESP3: push) per channel even when nothing was subscribed.
    await publisherDirect.set('after-unsub', 'ok');
    const c = await RawClient.open(t, port);
    await c.command('HELLO', proto);
    c.write(Buffer.concat([encode('UNSUBSCRIBE', 'x1', 'x2'), encode('GET', 'after-unsub')]));
    const got = text(await c.read(3, 5000));
    const unsub = proto === '3' ? [{ push: ['unsubscribe', 'x1', 0] }, { push: ['unsubscribe', 'x2', 0] }] : [['unsubscribe', 'x1', 0], ['unsubscribe', 'x2', 0]];
    t.same(got, [...unsub, 'ok'], 'both confirmations, then the GET reply');
    await sleep(700);
    t.equal(c.closed, false, 'the connection stays up');
    t.same(text(await c.command('GET', 'after-unsub')), 'ok');
  });
}
