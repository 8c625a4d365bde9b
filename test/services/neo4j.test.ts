// Self-test of the Neo4j harness: a real Neo4j Community server (neo4j.ts) on
// free Bolt and HTTP ports with auth on. Cypher through the HTTP API helper,
// the Bolt handshake on the Bolt port, the password (wrong credentials are
// refused), and data that survives kill() + restart().
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { NEO4J_PASSWORD, NEO4J_VERSION, neo4jHttpQuery, startNeo4j, withNeo4j } from './index.js';
import { fileTimeoutAtLeast } from '../support/file-timeout.js';

// a start ~10-14 s, a restart after SIGKILL (recovery) ~16 s on a busy 2-core machine (with
// the AppCDS archive; the run that makes it is slower: ~25 s starts, ~40 s graceful restart)
fileTimeoutAtLeast(t, 180_000);

/** Sends the Bolt preamble and four version proposals; resolves the server's 4-byte answer. */
function boltHandshake(port: number, proposals: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no Bolt handshake answer within 5 s (got ${got.toString('hex')})`));
    }, 5_000);
    sock.once('connect', () => sock.write(Buffer.concat([Buffer.from('6060b017', 'hex'), proposals])));
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got.subarray(0, 4));
      }
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('close', () => {
      if (got.length < 4) {
        clearTimeout(timer);
        reject(new Error(`Bolt port closed after ${got.length} bytes (${got.toString('hex')})`));
      }
    });
  });
}

t.test('neo4j-install.sh and neo4j.ts agree on the version and the password', async (t) => {
  const installer = fileURLToPath(new URL('../../../test/services/neo4j-install.sh', import.meta.url));
  const text = fs.readFileSync(installer, 'utf8');
  t.equal(/^NEO4J_VERSION=(\S+)$/m.exec(text)?.[1], NEO4J_VERSION, `NEO4J_VERSION in ${installer}`);
  t.equal(/^NEO4J_PASSWORD=(\S+)$/m.exec(text)?.[1], NEO4J_PASSWORD, `NEO4J_PASSWORD in ${installer}`);
});

t.test('a missing install fails with the command that fixes it', async (t) => {
  const saved = process.env.BREAKWATER_NEO4J_HOME;
  process.env.BREAKWATER_NEO4J_HOME = '/nonexistent/breakwater-neo4j-home';
  try {
    await t.rejects(startNeo4j(), { code: 'E_SERVICE_NOT_INSTALLED', message: /bash test\/services\/neo4j-install\.sh/ });
  } finally {
    if (saved === undefined) delete process.env.BREAKWATER_NEO4J_HOME;
    else process.env.BREAKWATER_NEO4J_HOME = saved;
  }
});

t.test('Neo4j: HTTP API, Bolt handshake, auth, kill + restart keep data', async (t) => {
  const t0 = Date.now();
  const neo = await withNeo4j(t);
  t.comment(`Neo4j ${neo.version} ready in ${Date.now() - t0} ms (bolt ${neo.boltPort}, http ${neo.httpPort})`);
  t.equal(neo.version, NEO4J_VERSION, 'discovery reports the installed version');
  t.equal(neo.boltUrl, `bolt://127.0.0.1:${neo.boltPort}`);
  t.equal(neo.httpUrl, `http://127.0.0.1:${neo.httpPort}`);
  t.equal(neo.user, 'neo4j');
  t.equal(neo.password, NEO4J_PASSWORD);
  t.equal(neo.auth, true);

  const created = await neo.query<{ a: string; b: string }>(
    "CREATE (a:Person {name:'a'})-[:FOLLOWS]->(b:Person {name:'b'}) RETURN a.name AS a, b.name AS b",
  );
  t.same(created, [{ a: 'a', b: 'b' }], 'CREATE returns its row');
  const match = 'MATCH (a:Person)-[:FOLLOWS]->(b:Person) WHERE a.name = $name RETURN a.name AS follower, b.name AS followee';
  t.same(await neo.query(match, { name: 'a' }), [{ follower: 'a', followee: 'b' }], 'MATCH with a parameter');
  t.same(await neo.query(match, { name: 'b' }), [], 'no rows');

  await t.rejects(neo.query('RETURN nonsense('), { code: 'E_SERVICE_QUERY', message: /Neo\.ClientError\.Statement\.SyntaxError/ }, 'a Cypher error');
  await t.rejects(
    neo4jHttpQuery(neo.httpUrl, { user: 'neo4j', password: 'wrong-password' }, 'RETURN 1'),
    { code: 'E_SERVICE_QUERY', message: /Neo\.ClientError\.Security\.Unauthorized/ },
    'auth is on: a wrong password is refused',
  );
  await t.rejects(neo4jHttpQuery(neo.httpUrl, undefined, 'RETURN 1'), { code: 'E_SERVICE_QUERY' }, 'auth is on: no credentials are refused');

  // Bolt: 60 60 B0 17, then 5.0..5.4 (range 4 below 5.4), 4.4, none, none
  const proposals = Buffer.from('00040405' + '00000404' + '00000000' + '00000000', 'hex');
  const answer = await boltHandshake(neo.boltPort, proposals);
  t.comment(`Bolt handshake answer: ${answer.toString('hex')}`);
  t.equal(answer.length, 4, 'a 4-byte version');
  t.equal(answer[0], 0, 'first byte 0');
  t.equal(answer[3], 5, 'Bolt major 5');
  t.ok((answer[2] as number) <= 4, 'a minor within the proposed 5.0..5.4 range');
  const only44 = await boltHandshake(neo.boltPort, Buffer.from('00000404' + '00000000'.repeat(3), 'hex'));
  t.equal(only44.toString('hex'), '00000404', 'Bolt 4.4 alone is accepted as 4.4');
  const none = await boltHandshake(neo.boltPort, Buffer.from('00000001' + '00000000'.repeat(3), 'hex')).catch((err: Error) => err);
  t.ok(none instanceof Error || none.toString('hex') === '00000000', `no common version: ${none instanceof Error ? none.message : none.toString('hex')}`);

  // SIGSTOP: the kernel still accepts connections, nothing answers
  neo.pause();
  await t.rejects(neo.query('RETURN 1 AS one', {}, { timeoutMs: 1_000 }), { code: 'E_SERVICE_QUERY', message: /timeout|aborted/i }, 'paused: no answer');
  neo.resume();
  t.same(await neo.query('RETURN 1 AS one'), [{ one: 1 }], 'resumed: answers again');

  // SIGKILL, then restart on the same ports and data (recovery)
  await neo.kill();
  t.equal(neo.pid, undefined, 'killed');
  const r0 = Date.now();
  await neo.restart();
  t.comment(`restart after SIGKILL ready in ${Date.now() - r0} ms`);
  t.same(await neo.query(match, { name: 'a' }), [{ follower: 'a', followee: 'b' }], 'data kept across kill + restart');
  t.equal((await boltHandshake(neo.boltPort, proposals)).length, 4, 'Bolt answers after the restart');

  // graceful restart
  const g0 = Date.now();
  await neo.restart();
  t.comment(`graceful restart ready in ${Date.now() - g0} ms`);
  t.same(await neo.query('MATCH (p:Person) RETURN p.name AS name ORDER BY name'), [{ name: 'a' }, { name: 'b' }], 'data kept across a graceful restart');
});
