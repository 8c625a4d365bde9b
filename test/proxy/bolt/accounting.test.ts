// Every breaker permit the Bolt listener takes ends exactly once, with the right outcome, against
// a real Neo4j: RESET inside a transaction, a BEGIN inside a transaction, pipelined auto-commit
// queries, a RESET pipelined before a new query, a client that leaves mid-handshake while Neo4j
// hangs. And what decides a cached answer: the database a read transaction named in BEGIN, and
// only credentials Neo4j itself accepted (a HELLO's SUCCESS does not verify the LOGON after it).
import net from 'node:net';
import t from 'tap';
import { withNeo4j, withRedis } from '../../services/index.js';
import { BOLT, connectBolt, message, type BoltWire } from '../../support/bolt-wire.js';
import type { PackMap } from '../../../src/proxy/bolt/packstream.js';
import { boltSidecar, counts, sleep, TOKEN, loggedInWire, resumeOnTeardown } from './helpers.js';

const neo = await withNeo4j(t);
const redis = await withRedis(t);
resumeOnTeardown(t, neo);
// First queries in a database are planned slowly on a cold server: warm both up directly.
await neo.query('SHOW DATABASES YIELD name RETURN name ORDER BY name', {}, { database: 'system' });
await neo.query('RETURN 1');
const side = await boltSidecar(t, neo, {
  cacheRedis: redis.url,
  timeout: '10s',
  extra: `    fallback:
      - match: { query: "^SHOW DATABASES", statement: read }
        use: [cache, static]`,
});
const status = async (): Promise<Record<string, any>> => (await side.bw.get('/status')).body.dependencies.neo4j;

const loggedIn = (): Promise<BoltWire> => loggedInWire(side.port, neo);

async function settle(): Promise<void> {
  await side.bw.waitFor(async () => (await status()).inFlight === 0, 'no call in flight', 5000);
}

await t.test('RESET inside a transaction, then the client leaves: the permit is returned', async (t) => {
  const c = await loggedIn();
  c.send(message(BOLT.BEGIN, [{}]));
  await c.success();
  c.run('RETURN 1', {}, {}).pull(-1);
  await c.success();
  await c.next();
  await c.success();
  t.equal((await status()).inFlight, 1, 'the transaction holds its permit');
  c.reset();
  await c.success();
  c.close();
  await settle();
  t.pass('inFlight back to 0');
});

await t.test('BEGIN inside a transaction belongs to it; RESET ends it', async (t) => {
  const c = await loggedIn();
  c.send(message(BOLT.BEGIN, [{}]), message(BOLT.BEGIN, [{}]));
  await c.success();
  t.equal((await c.next()).signature, BOLT.FAILURE, 'Neo4j refuses the nested BEGIN');
  c.reset();
  await c.success();
  c.close();
  await settle();
  t.pass('inFlight back to 0');
});

await t.test('pipelined auto-commit queries are two calls, both counted', async (t) => {
  const before = await counts(side.bw);
  const c = await loggedIn();
  c.run('RETURN 1', {}, {}).pull(-1).run('RETURN 2', {}, {}).pull(-1);
  for (let i = 0; i < 6; i++) await c.next();
  c.close();
  await settle();
  const after = await counts(side.bw);
  t.equal(after.success - before.success, 2);
});

await t.test('a RESET pipelined before a query does not end that query', async (t) => {
  const before = await counts(side.bw);
  const c = await loggedIn();
  c.reset().run('RETURN 1', {}, {}).pull(-1);
  for (let i = 0; i < 4; i++) await c.next();
  c.close();
  await settle();
  const after = await counts(side.bw);
  t.equal(after.success - before.success, 1, 'the query is a success');
  t.equal(after.ignored - before.ignored, 0, 'not ended as the caller\'s by the RESET');
});

await t.test('a client that leaves during a hanging handshake is not held against Neo4j', async (t) => {
  const before = await counts(side.bw);
  neo.pause();
  try {
    for (let i = 0; i < 3; i++) {
      const s = net.connect(side.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write(Buffer.from('6060b017' + '00080805' + '00000404' + '00000000' + '00000000', 'hex'));
      await sleep(200);
      s.destroy();
    }
    await sleep(300);
  } finally {
    neo.resume();
  }
  const after = await counts(side.bw);
  t.equal(after.failure, before.failure, 'no failure recorded');
  t.equal((await status()).breaker.state, 'closed');
});

await t.test('a HELLO\'s SUCCESS does not verify the wrong password of the LOGON pipelined after it', async (t) => {
  const verifiedBefore = (await status()).verifiedLogins as number;
  const c = await connectBolt(side.port);
  c.hello().logon(neo.user, 'not-the-password');
  await c.success();
  t.equal((await c.next()).signature, BOLT.FAILURE, 'Neo4j refuses the password');
  await c.closed;
  t.equal((await status()).verifiedLogins, verifiedBefore, 'nothing new verified');
});

await t.test('a cached read is keyed by the database its transaction named', async (t) => {
  const c = await loggedIn();
  const readTx = async (db: string): Promise<unknown[]> => {
    c.send(message(BOLT.BEGIN, [{ db, mode: 'r' }]));
    await c.success();
    c.run('SHOW DATABASES YIELD name RETURN name ORDER BY name', {}, {}).pull(-1);
    await c.success();
    const rows: unknown[] = [];
    for (;;) {
      const m = await c.next();
      if (m.signature !== BOLT.RECORD) break;
      rows.push((m.fields[0] as unknown[])[0]);
    }
    c.send(message(BOLT.COMMIT, []));
    await c.success();
    return rows;
  };
  const inSystem = await readTx('system');
  t.same(inSystem, ['neo4j', 'system'], 'Neo4j answers in the system database');
  await side.bw.waitFor(async () => ((await side.bw.get('/status')).body.cache.stats.stores as number) >= 1, 'the answer stored', 5000);
  t.equal((await side.bw.post('/breakers/neo4j/force-open', TOKEN)).status, 200);
  t.same(await readTx('system'), ['neo4j', 'system'], 'open: the same database gets the cached answer');
  t.same(await readTx('neo4j'), [], 'another database does not: the empty list');
  t.equal((await side.bw.post('/breakers/neo4j/reset', TOKEN)).status, 200);
  c.close();
});

await t.test('odd credentials, handshakes and PULLs never take the sidecar down', async (t) => {
  // A 64-bit integer as the password.
  const c = await connectBolt(side.port);
  c.send(message(BOLT.HELLO, [{ user_agent: 'x/1', bolt_agent: { product: 'x/1' } }]));
  await c.success();
  c.send(message(BOLT.LOGON, [{ scheme: 'basic', principal: 'neo4j', credentials: 2n ** 60n }]));
  const m = await c.next();
  t.equal(m.signature, BOLT.FAILURE, `Neo4j refuses it: ${String((m.fields[0] as PackMap).neo4j_code)}`);
  await c.closed;
  // A manifest choice whose capabilities varint never ends.
  const s = net.connect(side.port, '127.0.0.1');
  s.on('error', () => undefined);
  s.write(Buffer.from('6060b017' + '000001ff' + '00080805' + '00020404' + '00000003', 'hex'));
  await new Promise((r) => s.once('data', r));
  s.write(Buffer.from('00000805' + '8080808080', 'hex'));
  await new Promise((r) => s.once('close', r));
  t.pass('a malformed manifest choice closes that connection');
  // A PULL whose map claims an entry it does not have, while breakwater answers.
  t.equal((await side.bw.post('/breakers/neo4j/force-open', TOKEN)).status, 200);
  const p = await loggedIn();
  p.run('SHOW DATABASES', {}, {});
  await p.success();
  p.sendRaw(Buffer.from('0003b13fa10000', 'hex'));
  const f = await p.next();
  t.equal(f.signature, BOLT.FAILURE);
  t.match(String((f.fields[0] as PackMap).message), /PULL message is malformed/);
  await p.closed;
  t.equal((await side.bw.post('/breakers/neo4j/reset', TOKEN)).status, 200);
  t.equal((await side.bw.get('/livez')).status, 200, 'the sidecar is alive');
  const again = await loggedIn();
  again.run('RETURN 3', {}, {}).pull(-1);
  await again.success();
  t.equal(((await again.next()).fields[0] as unknown[])[0], 3, 'and serving');
  again.close();
});
