// The raw Bolt test client (test/support/bolt-wire.ts) against a real Neo4j: RETURN 1 through
// HELLO/LOGON/RUN/PULL with four plain proposals and with the manifest handshake, messages
// split into tiny chunks, and Bolt 4.4 (credentials in HELLO).
import t, { type Test } from 'tap';
import { BOLT, connectBolt, describeMessage, type BoltWire } from '../../support/bolt-wire.js';
import { withNeo4j } from '../../services/index.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

fileTimeoutAtLeast(t, 180_000);

const neo = await withNeo4j(t);

/** RUN's SUCCESS, one RECORD [1], PULL's SUCCESS; then GOODBYE (only now: a pipelined GOODBYE makes Neo4j close before answering). */
async function returnsOne(t: Test, w: BoltWire): Promise<void> {
  const run = await w.success();
  t.same(run.fields, ['1'], 'RUN: one column "1"');
  const record = await w.next();
  t.equal(record.signature, BOLT.RECORD, `a RECORD (got ${describeMessage(record)})`);
  t.same(record.fields, [[1]], 'RECORD [1]');
  const pull = await w.success();
  t.equal(pull.has_more ?? false, false, 'PULL: no more rows');
  w.goodbye();
  await w.closed;
}

t.test('four plain proposals: Bolt 5.8, HELLO + LOGON + RUN + PULL', async (t) => {
  const w = await connectBolt(neo.boltPort);
  t.teardown(() => w.close());
  t.same(w.version, { major: 5, minor: 8 });
  t.equal(w.manifest, undefined);
  w.hello().logon(neo.user, neo.password).run('RETURN 1').pull(-1);
  const hello = await w.success();
  t.match(hello.server, /^Neo4j\/5\./, 'HELLO: the server agent');
  await w.success(); // LOGON
  await returnsOne(t, w);
});

t.test('the manifest handshake: 00 00 01 FF, ranges, capabilities, then our choice', async (t) => {
  const w = await connectBolt(neo.boltPort, { manifest: true });
  t.teardown(() => w.close());
  t.same(w.version, { major: 5, minor: 8 }, 'the newest offered version the client speaks');
  t.ok(w.manifest, 'the server answered with a manifest');
  t.same(
    w.manifest?.ranges.map((r) => r.toString('hex')),
    ['00040404', '00040405', '00020805'],
    'Neo4j 5.26 offers 4.0–4.4, 5.0–5.4, 5.6–5.8',
  );
  t.equal(w.manifest?.capabilities, 0);
  w.hello().logon(neo.user, neo.password).run('RETURN $x AS `1`', { x: 1 }, { db: 'neo4j' }).pull(-1);
  await w.success();
  await w.success();
  await returnsOne(t, w);
});

t.test('messages split into 3-byte chunks, a NOOP first', async (t) => {
  const w = await connectBolt(neo.boltPort, { maxChunkSize: 3 });
  t.teardown(() => w.close());
  w.sendRaw(Buffer.from([0, 0])); // a NOOP chunk from the client side is allowed
  w.hello().logon(neo.user, neo.password).run('RETURN 1').pull(-1);
  await w.success();
  await w.success();
  await returnsOne(t, w);
});

t.test('Bolt 4.4: credentials in HELLO, no LOGON', async (t) => {
  const w = await connectBolt(neo.boltPort, { proposals: Buffer.from('00000404' + '00'.repeat(12), 'hex') });
  t.teardown(() => w.close());
  t.same(w.version, { major: 4, minor: 4 });
  w.hello({ scheme: 'basic', principal: neo.user, credentials: neo.password }).run('RETURN 1').pull(-1);
  await w.success();
  await returnsOne(t, w);
});

t.test('a FAILURE, IGNORED until RESET, then the connection works again', async (t) => {
  const w = await connectBolt(neo.boltPort);
  t.teardown(() => w.close());
  w.hello().logon(neo.user, neo.password).run('RETURN nope').pull(-1);
  await w.success();
  await w.success();
  const failure = await w.next();
  t.equal(failure.signature, BOLT.FAILURE, describeMessage(failure));
  t.match(failure.fields[0], { neo4j_code: 'Neo.ClientError.Statement.SyntaxError' }, 'Bolt 5.7+ sends neo4j_code');
  t.equal((await w.next()).signature, BOLT.IGNORED, 'PULL is IGNORED');
  w.reset().run('RETURN 1').pull(-1);
  await w.success(); // RESET
  await returnsOne(t, w);
});
