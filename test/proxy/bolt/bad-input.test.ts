// Bad input on the Bolt listener, against breakwater in front of a real Neo4j: what is not Bolt
// is closed (as Neo4j does before a handshake); a malformed or oversized message gets a FAILURE
// (Neo.ClientError.Request.Invalid) and its connection is closed; truncated chunks, a client that
// vanishes mid-result and random bytes never take the sidecar down or touch other clients, and
// every case is counted in breakwater_bad_requests_total.
import net from 'node:net';
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { withNeo4j } from '../../services/index.js';
import { BOLT, message, type BoltWire } from '../../support/bolt-wire.js';
import type { PackMap } from '../../../src/proxy/bolt/packstream.js';
import { boltSidecar, counts, driverFor, loggedInWire } from './helpers.js';

const neo = await withNeo4j(t);
const side = await boltSidecar(t, neo, { maxMessageBytes: '64KiB' });
const driver = driverFor(t, side.url, neo);

const bad = async (reason: string): Promise<number> =>
  (await side.bw.metric(new RegExp(`^breakwater_bad_requests_total\\{dependency="neo4j",reason="${reason}"\\} (\\d+)`))) ?? 0;

async function stillServes(t: Test, what: string): Promise<void> {
  const r = await driver.executeQuery('RETURN $x AS x', { x: 7 });
  t.equal(r.records[0]!.get('x'), 7, `still serving after ${what}`);
}

const loggedIn = (): Promise<BoltWire> => loggedInWire(side.port, neo);

function rawSocket(bytes: Buffer): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(side.port, '127.0.0.1');
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(got), closed: false });
    }, 3000);
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(got), closed: true });
    });
    s.write(bytes);
  });
}

await t.test('not Bolt: HTTP and a wrong magic are closed without an answer', async (t) => {
  const before = await bad('malformed_handshake');
  const http = await rawSocket(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.ok(http.closed, 'HTTP closed');
  t.equal(http.data.length, 0);
  const magic = await rawSocket(Buffer.from('6060b01800000805000000000000000000000000', 'hex'));
  t.ok(magic.closed, 'wrong magic closed');
  t.equal((await bad('malformed_handshake')) - before, 2, 'counted');
  await stillServes(t, 'handshake garbage');
});

await t.test('a message that is not a structure: FAILURE, then closed', async (t) => {
  const before = await bad('malformed_bolt');
  const c = await loggedIn();
  c.sendRaw(Buffer.from('0003' + '414243' + '0000', 'hex'));
  const f = await c.next();
  t.equal(f.signature, BOLT.FAILURE);
  t.equal((f.fields[0] as PackMap).code, 'Neo.ClientError.Request.Invalid');
  t.match(String((f.fields[0] as PackMap).message), /not a PackStream structure/);
  await c.closed;
  t.equal((await bad('malformed_bolt')) - before, 1);
  await stillServes(t, 'a non-structure message');
});

await t.test('a RUN whose fields are garbage: FAILURE, then closed', async (t) => {
  const c = await loggedIn();
  // B3 10, then a string marker that claims 200 bytes but the message ends.
  c.sendRaw(Buffer.from('0005' + 'b310d0c841' + '0000', 'hex'));
  const f = await c.next();
  t.equal(f.signature, BOLT.FAILURE);
  t.match(String((f.fields[0] as PackMap).message), /RUN message is malformed/);
  await c.closed;
  await stillServes(t, 'a malformed RUN');
});

await t.test('an oversized message (over maxMessageBytes, 64KiB): FAILURE, then closed', async (t) => {
  const before = await bad('oversized_message');
  const c = await loggedIn();
  c.maxChunkSize = 4096;
  c.send(message(BOLT.RUN, ['RETURN $p', { p: 'x'.repeat(100_000) }, {}]));
  const f = await c.next();
  t.equal(f.signature, BOLT.FAILURE);
  t.match(String((f.fields[0] as PackMap).message), /maxMessageBytes/);
  await c.closed;
  t.equal((await bad('oversized_message')) - before, 1);
  await stillServes(t, 'an oversized message');
});

await t.test('zero-length messages (NOOPs) between requests are harmless', async (t) => {
  const c = await loggedIn();
  c.sendRaw(Buffer.from('00000000', 'hex'));
  c.run('RETURN 2 AS two', {}, {}).pull(-1);
  c.sendRaw(Buffer.from('0000', 'hex'));
  await c.success();
  t.equal(((await c.next()).fields[0] as unknown[])[0], 2);
  await c.success();
  c.close();
});

await t.test('a truncated chunk, then the client is gone', async (t) => {
  const c = await loggedIn();
  c.sendRaw(Buffer.from('0010b31008', 'hex'));
  c.socket.destroy();
  await c.closed;
  await stillServes(t, 'a truncated chunk');
});

await t.test('a client that disconnects mid-result is nobody\'s failure', async (t) => {
  const before = await counts(side.bw);
  const c = await loggedIn();
  c.run('UNWIND range(1, 2000000) AS i RETURN i', {}, {}).pull(-1);
  await c.success();
  await c.next();
  c.socket.destroy();
  await c.closed;
  await new Promise((r) => setTimeout(r, 200));
  const after = await counts(side.bw);
  t.equal(after.failure, before.failure, 'no failure recorded');
  t.equal((await side.bw.get('/status')).body.dependencies.neo4j.breaker.state, 'closed');
  await stillServes(t, 'a client leaving mid-result');
});

await t.test('random bytes after a login never take the sidecar down', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
      const c = await loggedIn();
      c.sendRaw(Buffer.from(bytes));
      // Whatever comes back (FAILURE, IGNORED, a close, or nothing while a chunk is incomplete), end it.
      await Promise.race([c.next(300).catch(() => undefined), c.closed]);
      c.socket.destroy();
      await c.closed;
    }),
    { numRuns: 40 },
  );
  await stillServes(t, '40 connections of random bytes');
  t.equal((await side.bw.get('/livez')).status, 200);
});
