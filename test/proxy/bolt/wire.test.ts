// The Bolt wire through breakwater, byte-level (test/support/bolt-wire.ts against a real Neo4j):
// both handshake forms passed through (Neo4j's manifest reaches the client as sent), Bolt 4.4
// with the login in HELLO, ROUTE answers rewritten to breakwater's address; and with the
// breaker forced open, breakwater playing the server from the handshake on (both forms, 4.4
// and 5.x FAILURE shapes, IGNORED until RESET, its own routing table), then the SAME
// connection reaching Neo4j again (login replayed) once the breaker is reset.
import t from 'tap';
import { withNeo4j } from '../../services/index.js';
import { BOLT, connectBolt, message, MANIFEST_PROPOSALS, type BoltWire } from '../../support/bolt-wire.js';
import type { PackMap } from '../../../src/proxy/bolt/packstream.js';
import { boltSidecar, TOKEN } from './helpers.js';
import { freePort } from '../../services/index.js';

const neo = await withNeo4j(t);
const port = await freePort();
const side = await boltSidecar(t, neo, { extra: `    advertisedAddress: localhost:${port}`, port });
const FOUR_FOUR = Buffer.from('00000404' + '00000000' + '00000000' + '00000000', 'hex');

async function login(c: BoltWire): Promise<PackMap> {
  if (c.version.major === 5 && c.version.minor >= 1) {
    c.hello();
    const hello = await c.success();
    c.logon(neo.user, neo.password);
    await c.success();
    return hello;
  }
  c.hello({ scheme: 'basic', principal: neo.user, credentials: neo.password });
  return c.success();
}

async function returnOne(c: BoltWire): Promise<unknown> {
  c.run('RETURN 1 AS one', {}, {}).pull(-1);
  await c.success();
  const rec = await c.next();
  if (rec.signature !== BOLT.RECORD) throw new Error(`expected RECORD, got 0x${rec.signature.toString(16)}`);
  await c.success();
  return (rec.fields[0] as unknown[])[0];
}

await t.test('handshakes pass through as Neo4j answers them', async (t) => {
  const direct = await connectBolt(neo.boltPort, { manifest: true });
  const viaManifest = await connectBolt(side.port, { manifest: true });
  t.ok(direct.manifest, 'Neo4j answers with a manifest');
  t.same(viaManifest.manifest?.offered, direct.manifest?.offered, 'the client sees Neo4j\'s own manifest');
  t.same(viaManifest.version, { major: 5, minor: 8 });
  const hello = await login(viaManifest);
  t.match(hello.server, /^Neo4j\/5\./, `HELLO answered by ${String(hello.server)}`);
  t.equal(await returnOne(viaManifest), 1);
  direct.close();
  viaManifest.close();

  const plain = await connectBolt(side.port);
  t.same(plain.version, { major: 5, minor: 8 }, 'four plain proposals: Neo4j picks 5.8');
  t.equal(plain.manifest, undefined);
  await login(plain);
  t.equal(await returnOne(plain), 1);
  plain.close();

  const old = await connectBolt(side.port, { proposals: FOUR_FOUR });
  t.same(old.version, { major: 4, minor: 4 });
  await login(old);
  t.equal(await returnOne(old), 1, 'Bolt 4.4 with the login in HELLO');
  old.close();
});

// breakwater reads Neo4j into a buffer it uses again for the next read unless something still
// holds the last read's bytes (a queued write to a client that does not read, a message split
// across reads). ~55 MB of answers (more than the kernel's socket buffers take) to a client that stops reading, next to one that reads
// at once, must reach both byte for byte.
await t.test('answers stay intact when a client stops reading (read buffers are reused only when free)', async (t) => {
  const QUERIES = 30;
  const ROWS = 10_000;
  const PAD = 'x'.repeat(160);
  const query = `UNWIND range(1, $n) AS i RETURN i, 'row-' + toString(i) + '-' + $tag + '${PAD}' AS s`;
  const slow = await connectBolt(side.port);
  const fast = await connectBolt(side.port);
  await login(slow);
  await login(fast);
  slow.socket.pause();
  for (let q = 0; q < QUERIES; q++) slow.run(query, { n: ROWS, tag: `s${q}` }, {}).pull(-1);
  const check = async (c: BoltWire, tag: string): Promise<number> => {
    await c.success();
    let bad = 0;
    for (let i = 1; i <= ROWS; i++) {
      const m = await c.next();
      const f = m.fields[0] as unknown[];
      if (m.signature !== BOLT.RECORD || f[0] !== i || f[1] !== `row-${i}-${tag}${PAD}`) bad++;
    }
    await c.success();
    return bad;
  };
  // While the slow client's answers pile up in breakwater, the fast one reads its own.
  let fastBad = 0;
  for (let q = 0; q < 5; q++) {
    fast.run(query, { n: ROWS, tag: `f${q}` }, {}).pull(-1);
    fastBad += await check(fast, `f${q}`);
  }
  t.equal(fastBad, 0, 'the client that reads got every row as Neo4j sent it');
  slow.socket.resume();
  let slowBad = 0;
  for (let q = 0; q < QUERIES; q++) slowBad += await check(slow, `s${q}`);
  t.equal(slowBad, 0, `the client that stopped reading got all ${QUERIES * ROWS} rows intact`);
  slow.close();
  fast.close();
});

await t.test('ROUTE answers name breakwater, not Neo4j', async (t) => {
  const c = await connectBolt(side.port);
  await login(c);
  c.send(message(BOLT.ROUTE, [{ address: `127.0.0.1:${side.port}` }, [], {}]));
  const rt = (await c.success()).rt as PackMap;
  const servers = rt.servers as PackMap[];
  t.same(servers.map((s) => s.role).sort(), ['READ', 'ROUTE', 'WRITE']);
  for (const s of servers) t.same(s.addresses, [`localhost:${port}`], `${String(s.role)} rewritten`);
  t.equal(rt.db, 'neo4j');
  c.close();
});

await t.test('breaker forced open: breakwater answers from the handshake on', async (t) => {
  // Earlier logins made these credentials known; a pooled-style connection stays open across the switch.
  const kept = await connectBolt(side.port);
  await login(kept);
  t.equal((await side.bw.post('/breakers/neo4j/force-open', TOKEN)).status, 200);

  for (const manifest of [false, true]) {
    const c = await connectBolt(side.port, manifest ? { proposals: MANIFEST_PROPOSALS } : {});
    t.same(c.version, { major: 5, minor: 8 }, `${manifest ? 'manifest' : 'plain'} handshake answered by breakwater`);
    if (manifest) t.same(c.manifest?.offered.map((v) => `${v.major}.${v.minor}`), ['5.8', '5.7', '5.6', '5.5', '5.4', '5.3', '5.2', '5.1', '5.0', '4.4'], 'breakwater\'s manifest: 5.0-5.8 and 4.4');
    const hello = await login(c);
    t.match(String(hello.connection_id), /^bolt-breakwater-/);
    t.match(String(hello.server), /^Neo4j\/5\./, 'the server agent Neo4j reported earlier');
    c.run('RETURN 1', {}, {}).pull(-1);
    const failure = await c.next();
    t.equal(failure.signature, BOLT.FAILURE);
    const meta = failure.fields[0] as PackMap;
    t.equal(meta.neo4j_code, 'Neo.TransientError.General.DatabaseUnavailable', 'Bolt 5.7+: neo4j_code');
    t.equal(meta.code, meta.neo4j_code, 'and code');
    t.match(String(meta.message), /circuit forced open/);
    t.equal((await c.next()).signature, BOLT.IGNORED, 'the PULL is IGNORED until RESET');
    c.reset();
    await c.success();
    c.send(message(BOLT.ROUTE, [{ address: 'x' }, [], {}]));
    const rt = (await c.success()).rt as PackMap;
    t.same((rt.servers as PackMap[]).map((s) => s.addresses), [[`localhost:${port}`], [`localhost:${port}`], [`localhost:${port}`]], 'its own routing table');
    c.close();
  }

  const old = await connectBolt(side.port, { proposals: FOUR_FOUR });
  t.same(old.version, { major: 4, minor: 4 });
  await login(old);
  old.run('RETURN 1', {}, {});
  const f = (await old.next()).fields[0] as PackMap;
  t.equal(f.code, 'Neo.TransientError.General.DatabaseUnavailable', 'Bolt 4.4: code');
  t.equal(f.neo4j_code, undefined, 'and no neo4j_code');
  old.close();

  // A login Neo4j never accepted is let in (it cannot be checked now), but it is checked when Neo4j is back.
  const stranger = await connectBolt(side.port);
  stranger.hello();
  await stranger.success();
  stranger.logon(neo.user, 'not-the-password');
  await stranger.success();
  t.pass('an unverified login is answered while Neo4j cannot check it');

  // Back: the kept connection's next call reconnects, replays its login and reaches Neo4j.
  kept.run('RETURN 1', {}, {}).pull(-1);
  t.equal((await kept.next()).signature, BOLT.FAILURE, 'refused while forced open');
  await kept.next();
  kept.reset();
  await kept.success();
  t.equal((await side.bw.post('/breakers/neo4j/reset', TOKEN)).status, 200);
  t.equal(await returnOne(kept), 1, 'the same connection reaches Neo4j again');
  kept.close();
  // The stranger's login is replayed to Neo4j, which refuses it: FAILURE, and the connection ends.
  stranger.run('RETURN 1', {}, {}).pull(-1);
  const refused = await stranger.next();
  t.equal(refused.signature, BOLT.FAILURE);
  t.match(String((refused.fields[0] as PackMap).message), /refused the login made while it was unavailable: Neo.ClientError.Security.Unauthorized/);
  await stranger.closed;
  t.pass('and its connection closed');
});
