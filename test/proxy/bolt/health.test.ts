// The Bolt health probe against a real Neo4j (test/services/neo4j.ts, auth on): the right
// password passes, a wrong one or a missing database fails with the server's code, no
// credentials pass (a Security FAILURE proves the server answers), a closed port is refused,
// and a SIGSTOPped server fails within HealthCheck's timeout.
//
// Neo4j locks a user for 5 s after 3 failed logins in a row: this file makes one, last but
// one, and a correct login afterwards resets the count.
import t from 'tap';
import { HealthCheck, type Probe } from '../../../src/health/check.js';
import { boltProbe, boltTargets, type BoltTarget } from '../../../src/proxy/bolt/health.js';
import { freePort, withNeo4j } from '../../services/index.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

fileTimeoutAtLeast(t, 180_000);

function check(target: BoltTarget, probe: Probe, timeout = 5_000): HealthCheck {
  return new HealthCheck({ target: target.label, probe, interval: 60_000, timeout, healthyThreshold: 1, unhealthyThreshold: 1 });
}

t.test('boltTargets: bolt:// and neo4j:// URLs, default port 7687', async (t) => {
  t.same(boltTargets(['bolt://db.example', 'neo4j://10.0.0.5:7688', 'bolt://[::1]:7000']), [
    { host: 'db.example', port: 7687, label: 'bolt://db.example:7687' },
    { host: '10.0.0.5', port: 7688, label: 'bolt://10.0.0.5:7688' },
    { host: '::1', port: 7000, label: 'bolt://[::1]:7000' },
  ]);
  t.throws(() => boltTargets(['http://db:7474']), { message: /scheme http:.*use bolt:\/\/host\[:port\]/ });
  t.throws(() => boltTargets(['not a url']), { message: /bad Neo4j upstream URL "not a url"/ });
});

t.test('against a real Neo4j', async (t) => {
  const neo = await withNeo4j(t);
  const [target] = boltTargets([neo.boltUrl]) as [BoltTarget];
  const creds = { user: neo.user, password: neo.password };

  t.test('the right password passes: HELLO, LOGON, RUN "RETURN 1", PULL', async (t) => {
    await t.resolves(boltProbe(target, creds)(AbortSignal.timeout(10_000)), 'default database');
    await t.resolves(boltProbe(target, { ...creds, database: 'neo4j' })(AbortSignal.timeout(10_000)), 'database neo4j');
    // RETURN 1 is not a system command: the probe's database must be a user database
    await t.rejects(boltProbe(target, { ...creds, database: 'system' })(AbortSignal.timeout(10_000)), {
      message: /RUN "RETURN 1" failed: Neo\.ClientError\.Statement\.SemanticError: .*user database/,
    }, 'database system');
    const hc = check(target, boltProbe(target, creds));
    await hc.runOnce();
    t.equal(hc.state, 'healthy');
    t.equal(hc.lastError, undefined);
  });

  t.test('a database that does not exist fails with the server code', async (t) => {
    await t.rejects(boltProbe(target, { ...creds, database: 'nope' })(AbortSignal.timeout(10_000)), {
      message: /^bolt:\/\/127\.0\.0\.1:\d+ \(Bolt 5\.\d\): RUN "RETURN 1" failed: Neo\.ClientError\.Database\.DatabaseNotFound: /,
    });
  });

  t.test('without credentials: the Security FAILURE to scheme "none" counts as up', async (t) => {
    await t.resolves(boltProbe(target, {})(AbortSignal.timeout(10_000)));
    await t.resolves(boltProbe(target, { user: neo.user })(AbortSignal.timeout(10_000)), 'a user without a password is no credentials');
  });

  t.test('a wrong password fails with Neo.ClientError.Security.Unauthorized', async (t) => {
    const hc = check(target, boltProbe(target, { user: neo.user, password: 'wrong' }));
    await hc.runOnce();
    t.equal(hc.state, 'unhealthy', 'we asked for RETURN 1: a refused login is not healthy');
    t.match(hc.lastError, /^bolt:\/\/127\.0\.0\.1:\d+ \(Bolt 5\.\d\): LOGON failed: Neo\.ClientError\.Security\.Unauthorized: The client is unauthorized/);
    // and the right password still works (it also resets the server's failed-login count)
    await t.resolves(boltProbe(target, creds)(AbortSignal.timeout(10_000)));
  });

  t.test('the HTTP port is not a Bolt server', async (t) => {
    const [http] = boltTargets([`bolt://127.0.0.1:${neo.httpPort}`]) as [BoltTarget];
    const hc = check(http, boltProbe(http, creds), 3_000);
    await hc.runOnce();
    t.equal(hc.state, 'unhealthy');
    // Neo4j's Jetty answers the preamble with "HTTP/1.1 400 Bad Request"
    t.match(hc.lastError, /is not a Bolt server: it answered the handshake with "HTTP\/1\.1 400.*the HTTP port instead of the Bolt port\?/);
  });

  t.test('a SIGSTOPped server fails within the probe timeout, and passes again on SIGCONT', async (t) => {
    let paused = false;
    t.teardown(() => {
      if (paused) neo.resume();
    });
    neo.pause();
    paused = true;
    const hc = check(target, boltProbe(target, creds), 1_000);
    const t0 = Date.now();
    await hc.runOnce();
    const took = Date.now() - t0;
    t.equal(hc.state, 'unhealthy');
    t.equal(hc.lastError, 'no answer within 1000ms');
    t.ok(took >= 900 && took < 2_000, `gave up after ${took} ms (timeout 1000)`);
    neo.resume();
    paused = false;
    // the JVM needs a moment after SIGCONT
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await hc.runOnce();
      if (hc.state === 'healthy') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    t.equal(hc.state, 'healthy', `healthy again after SIGCONT (last error: ${hc.lastError})`);
  });
});

t.test('a closed port fails with connection refused', async (t) => {
  const port = await freePort();
  const [target] = boltTargets([`bolt://127.0.0.1:${port}`]) as [BoltTarget];
  await t.rejects(boltProbe(target, {})(AbortSignal.timeout(5_000)), { code: 'ECONNREFUSED' });
  const hc = check(target, boltProbe(target, { user: 'neo4j', password: 'x' }));
  await hc.runOnce();
  t.match(hc.lastError, /ECONNREFUSED/);
});

t.test('an already aborted signal fails at once', async (t) => {
  const [target] = boltTargets(['bolt://127.0.0.1:1']) as [BoltTarget];
  const ac = new AbortController();
  ac.abort();
  await t.rejects(boltProbe(target, {})(ac.signal), { name: 'TimeoutError' });
});
