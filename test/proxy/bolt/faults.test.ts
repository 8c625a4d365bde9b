// Real faults with breakwater in front of Neo4j: the server SIGSTOPped (nothing answers: the
// timeout fails the calls), then killed (connections refused), then back. The breaker opens;
// the suggestion query gets its cached answer (shared cache in a real Redis), an uncached user
// the empty list with the query's fields; writes fail with the configured code, and what the
// driver's executeRead/executeWrite do with each is recorded; recovery closes the breaker and
// the SAME pooled connections keep working (their login replayed on the new upstream connection).
import t from 'tap';
import neo4j from 'neo4j-driver';
import { withNeo4j, withRedis } from '../../services/index.js';
import { boltSidecar, breakerState, counts, driverFor, seedGraph, SUGGESTIONS, resumeOnTeardown } from './helpers.js';

const neo = await withNeo4j(t);
const redis = await withRedis(t);
resumeOnTeardown(t, neo);
await seedGraph(neo);
// Neo4j plans a query the first time it sees it, slower than the 1 s timeout here: warm it up directly.
{
  const direct = driverFor(t, neo.boltUrl, neo);
  await direct.executeQuery(SUGGESTIONS, { userId: 'u1', limit: 5 });
  await direct.executeQuery('CREATE (x:Tmp {tag: "warm"}) DELETE x');
  await direct.close();
}

const RULES = `    fallback:
      - match: { query: "(?i)^MATCH \\\\(me:User", statement: read }
        use: [cache, static]
      - match: { query: "(?i)^CREATE" }
        use: [fail]
        failWith: transient
      - match: { query: "(?i)^MERGE" }
        use: [fail]
        failWith: database-error`;
const side = await boltSidecar(t, neo, { extra: RULES, cacheRedis: redis.url, timeout: '1s', breaker: '{ failures: 3, openFor: 2s, halfOpenSuccesses: 1 }' });
const driver = driverFor(t, side.url, neo, 6, { maxTransactionRetryTime: 3000, connectionAcquisitionTimeout: 20_000 });
// A second sidecar that gates readiness on Neo4j: `required`, with a `RETURN 1` health check.
const gate = await boltSidecar(t, neo, {
  required: true,
  health: `{ interval: 300ms, timeout: 500ms, unhealthyThreshold: 1, healthyThreshold: 1, user: ${neo.user}, password: ${neo.password} }`,
});
const readyz = async (): Promise<{ status: number; reasons: string }> => {
  const r = await gate.bw.get('/readyz');
  return { status: r.status, reasons: JSON.stringify(r.body) };
};

async function suggest(userId: string): Promise<{ ids: string[]; keys: string[]; ms: number }> {
  const started = performance.now();
  const s = driver.session({ defaultAccessMode: neo4j.session.READ });
  try {
    const result = s.run(SUGGESTIONS, { userId, limit: 5 });
    const keys = (await result.keys()) as string[];
    const r = await result;
    return { ids: r.records.map((x) => x.get('id') as string), keys: [...keys], ms: performance.now() - started };
  } finally {
    await s.close();
  }
}

const fallbacks = async (kind: string): Promise<number> => (await side.bw.metric(new RegExp(`^breakwater_fallbacks_total\\{dependency="neo4j",kind="${kind}"\\} (\\d+)`))) ?? 0;

let cached: string[] = [];

await t.test('healthy: answers come from Neo4j and are cached', async (t) => {
  const a = await suggest('u7');
  t.ok(a.ids.length > 0, `suggestions for u7: ${a.ids.join(',')}`);
  t.same(a.keys, ['id', 'name', 'mutual']);
  cached = a.ids;
  await gate.bw.waitFor(async () => (await readyz()).status === 200, 'ready with a healthy Neo4j', 20_000);
  t.equal((await readyz()).status, 200, 'required and healthy: ready');
  // A second session on the same pooled connection: same answer.
  t.same((await suggest('u7')).ids, cached);
  t.equal(await breakerState(side.bw), 'closed');
});

await t.test('SIGSTOP: timeouts open the breaker; the cached answer, then the empty list', async (t) => {
  neo.pause();
  // Each of these times out after 1s and is answered by the fallback chain in Neo4j's place.
  const first = await suggest('u7');
  t.same(first.ids, cached, `a timed-out read is answered from the cache (${first.ms.toFixed(0)}ms)`);
  t.ok(first.ms >= 900, 'after the timeout');
  const uncached = await suggest('u8');
  t.same(uncached.ids, [], 'an uncached user gets the empty list');
  t.same(uncached.keys, ['id', 'name', 'mutual'], 'with the query\'s fields');
  await suggest('u9');
  await side.bw.waitFor(async () => (await breakerState(side.bw)) === 'open', 'breaker open', 10_000);
  const open = await suggest('u7');
  t.same(open.ids, cached, 'open: the cached answer');
  t.ok(open.ms < 500, `open: answered at once (${open.ms.toFixed(0)}ms)`);
  t.same((await suggest('u10')).ids, [], 'open: uncached -> empty');
  t.ok((await fallbacks('cache')) >= 2, 'cache fallbacks counted');
  t.ok((await fallbacks('static')) >= 2, 'static fallbacks counted');
  await gate.bw.waitFor(async () => (await readyz()).status === 503, 'not ready while Neo4j is stopped', 10_000);
  const r = await readyz();
  t.match(r.reasons, /neo4j: unhealthy/, `readiness says why: ${r.reasons}`);
  const tripped = await gate.bw.metric(/^breakwater_breaker_transitions_total\{dependency="neo4j",from="closed",to="open"\} (\d+)/);
  t.ok((tripped ?? 0) >= 1, 'the failing health check opened its breaker before any call');
});

await t.test('breaker open: what executeRead and executeWrite do', async (t) => {
  t.equal(await breakerState(side.bw), 'open');
  // executeRead: a read transaction (BEGIN mode r) breakwater answers; the read is served from the cache.
  const s = driver.session();
  let attempts = 0;
  const ids = await s.executeRead(async (tx) => {
    attempts++;
    return (await tx.run(SUGGESTIONS, { userId: 'u7', limit: 5 })).records.map((r) => r.get('id') as string);
  });
  t.same(ids, cached, 'executeRead gets the cached answer');
  t.equal(attempts, 1, 'in one attempt');

  // A write whose rule says `transient`: the driver retries (backing off) until maxTransactionRetryTime.
  attempts = 0;
  let started = performance.now();
  let transientAttempts = 0;
  const transient = await s.executeWrite(async (tx) => {
    attempts++;
    await tx.run('CREATE (:Never {at: timestamp()})');
  }).then(() => undefined, (e: { code: string; retriable: boolean; message: string }) => e);
  const transientMs = performance.now() - started;
  transientAttempts = attempts;
  t.equal(transient?.code, 'Neo.TransientError.General.DatabaseUnavailable', transient?.message ?? 'no error');
  t.equal(transient?.retriable, true);
  t.ok(attempts > 1, `executeWrite retried a transient failure: ${attempts} attempts in ${transientMs.toFixed(0)}ms`);

  // `database-error`: not retriable, raised at the first attempt.
  attempts = 0;
  started = performance.now();
  const terminal = await s.executeWrite(async (tx) => {
    attempts++;
    await tx.run('MERGE (:Never {id: 1})');
  }).then(() => undefined, (e: { code: string; retriable: boolean }) => e);
  t.equal(terminal?.code, 'Neo.DatabaseError.General.UnknownError');
  t.equal(terminal?.retriable, false);
  t.equal(attempts, 1, `database-error is not retried (${(performance.now() - started).toFixed(0)}ms)`);

  // A write in auto-commit: FAILURE, and the connection stays usable after RESET.
  const err = await s.run('CREATE (:Never)').then(() => undefined, (e: { code: string }) => e);
  t.equal(err?.code, 'Neo.TransientError.General.DatabaseUnavailable');
  await s.close();
  t.same((await suggest('u7')).ids, cached, 'the connection still answers afterwards');
  t.comment(`executeRead: the cached answer in 1 attempt; executeWrite with transient: ${transientAttempts} attempts in ${transientMs.toFixed(0)}ms, then DatabaseUnavailable; with database-error: 1 attempt`);
});

await t.test('SIGCONT: the breaker closes and real answers come back on the same connections', async (t) => {
  neo.resume();
  await side.bw.waitFor(
    async () => {
      await suggest('u7').catch(() => undefined);
      return (await breakerState(side.bw)) === 'closed';
    },
    'breaker closed after resume',
    30_000,
  );
  const s = driver.session();
  await s.executeWrite((tx) => tx.run('CREATE (:Tmp {tag: "after-resume"})'));
  const n = await s.run('MATCH (x:Tmp {tag: "after-resume"}) RETURN count(x) AS n');
  await s.close();
  t.equal(n.records[0]!.get('n'), 1, 'a write after recovery reached Neo4j');
  await gate.bw.waitFor(async () => (await readyz()).status === 200, 'ready again after SIGCONT', 20_000);
  t.pass('ready again');
});

await t.test('kill -9: refused connections open the breaker; a new driver logs in against breakwater alone', async (t) => {
  await neo.kill();
  const t0 = performance.now();
  const a = await suggest('u7');
  t.comment(`first read after the kill: ${(performance.now() - t0).toFixed(0)}ms`);
  t.same(a.ids, cached, 'the pooled connection reconnects, is refused, and the cache answers');
  await suggest('u8');
  await suggest('u9');
  await side.bw.waitFor(async () => (await breakerState(side.bw)) === 'open', 'breaker open after kill', 10_000);
  t.comment(`breaker open ${(performance.now() - t0).toFixed(0)}ms after the kill`);
  // A brand-new driver: its handshake, HELLO and LOGON are answered by breakwater (its credentials were verified before).
  const fresh = driverFor(t, side.url, neo, 5, { maxTransactionRetryTime: 1000 });
  const s = fresh.session({ defaultAccessMode: neo4j.session.READ });
  const r = await s.run(SUGGESTIONS, { userId: 'u7', limit: 5 });
  await s.close();
  t.same(r.records.map((x) => x.get('id')), cached, 'a new connection gets the cached answer');
  t.comment(`fresh driver answered ${(performance.now() - t0).toFixed(0)}ms after the kill`);
  // Credentials Neo4j never accepted get in while it cannot check them, but never see cached results.
  const stranger = neo4j.driver(side.url, neo4j.auth.basic('neo4j', 'wrong-password'), { logging: { level: 'error', logger: () => undefined } });
  t.teardown(() => stranger.close());
  const ss = stranger.session({ defaultAccessMode: neo4j.session.READ });
  const sr = await ss.run(SUGGESTIONS, { userId: 'u7', limit: 5 });
  await ss.close();
  t.same(sr.records, [], 'an unverified login gets the empty list, not the cached answer');
});

await t.test('restart: recovery, the same pooled connections keep working', async (t) => {
  await neo.restart();
  await side.bw.waitFor(
    async () => {
      await suggest('u7').catch(() => undefined);
      return (await breakerState(side.bw)) === 'closed';
    },
    'breaker closed after restart',
    40_000,
  );
  const s = driver.session();
  const r = await s.run('MATCH (x:Tmp {tag: "after-resume"}) RETURN count(x) AS n');
  await s.close();
  t.equal(r.records[0]!.get('n'), 1, 'Neo4j answers again (data survived the kill)');
  const c = await counts(side.bw);
  t.ok(c.failure >= 6, `failures recorded: ${c.failure}`);
});
