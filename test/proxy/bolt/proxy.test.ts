// neo4j-driver as the unmodified application, through breakwater to a real Neo4j: both driver
// generations (5.28 and 6.x; both negotiate Bolt 5.8 with the manifest handshake), bolt:// and
// neo4j:// URLs, auto-commit queries with parameters, explicit and managed transactions, large
// results pulled in batches, and the original friends-of-friends suggestion query.
import t from 'tap';
import { withNeo4j } from '../../services/index.js';
import { boltSidecar, counts, driverFor, seedGraph, SUGGESTIONS, type DriverGeneration } from './helpers.js';

const neo = await withNeo4j(t);
await seedGraph(neo);
const side = await boltSidecar(t, neo, {
  extra: `    fallback:
      - match: { query: "(?i)^MATCH" }
        use: [static]`,
});

for (const generation of [6, 5] as DriverGeneration[]) {
  for (const scheme of ['bolt', 'neo4j']) {
    await t.test(`driver ${generation}.x over ${scheme}://`, async (t) => {
      const url = `${scheme}://127.0.0.1:${side.port}`;
      const direct = driverFor(t, neo.boltUrl, neo, generation);
      const proxied = driverFor(t, url, neo, generation);

      await t.test('auto-commit with parameters', async (t) => {
        const s = proxied.session();
        const r = await s.run('RETURN $x AS x, $s AS s, $l AS l, $m AS m', { x: 42, s: 'héllo ✓', l: [1, 2, 3], m: { a: true } });
        await s.close();
        t.same(r.records[0]!.toObject(), { x: 42, s: 'héllo ✓', l: [1, 2, 3], m: { a: true } });
        t.same(r.records[0]!.keys, ['x', 's', 'l', 'm']);
      });

      await t.test('the suggestion query answers as it does directly', async (t) => {
        const params = { userId: 'u7', limit: 10 };
        const d = await direct.executeQuery(SUGGESTIONS, params, { routing: 'READ' });
        const p = await proxied.executeQuery(SUGGESTIONS, params, { routing: 'READ' });
        t.ok(d.records.length > 0, 'the graph gives suggestions');
        t.same(p.records.map((r) => r.toObject()), d.records.map((r) => r.toObject()));
        t.same(p.keys, ['id', 'name', 'mutual']);
      });

      await t.test('managed transactions: executeWrite then executeRead', async (t) => {
        const s = proxied.session();
        const tag = `w${generation}${scheme}`;
        await s.executeWrite((tx) => tx.run('CREATE (:Tmp {tag: $tag, n: 1}), (:Tmp {tag: $tag, n: 2})', { tag }));
        const n = await s.executeRead(async (tx) => (await tx.run('MATCH (x:Tmp {tag: $tag}) RETURN sum(x.n) AS n', { tag })).records[0]!.get('n'));
        await s.close();
        t.equal(n, 3);
      });

      await t.test('explicit transactions: commit keeps, rollback discards', async (t) => {
        const s = proxied.session();
        const tag = `e${generation}${scheme}`;
        let tx = s.beginTransaction();
        await tx.run('CREATE (:Tmp {tag: $tag, n: 10})', { tag });
        await tx.run('CREATE (:Tmp {tag: $tag, n: 20})', { tag });
        await tx.commit();
        tx = s.beginTransaction();
        await tx.run('CREATE (:Tmp {tag: $tag, n: 99})', { tag });
        await tx.rollback();
        const r = await s.run('MATCH (x:Tmp {tag: $tag}) RETURN collect(x.n) AS ns', { tag });
        await s.close();
        t.same([...(r.records[0]!.get('ns') as number[])].sort((a, b) => a - b), [10, 20]);
      });

      await t.test('a large result streams in PULL batches', async (t) => {
        const s = proxied.session({ fetchSize: 100 });
        const r = await s.run('UNWIND range(1, 20000) AS i RETURN i, "row " + i AS label');
        await s.close();
        t.equal(r.records.length, 20000);
        t.equal(r.records[19999]!.get('i'), 20000);
        t.equal(r.records[1234]!.get('label'), 'row 1235');
      });

      await t.test('a Cypher error reaches the driver unchanged and is the caller\'s', async (t) => {
        const before = await counts(side.bw);
        const s = proxied.session();
        const err = await s.run('RETRN 1').then(
          () => undefined,
          (e: { code: string }) => e,
        );
        // The same connection keeps working after the driver's RESET.
        const ok = await s.run('RETURN 1 AS one');
        await s.close();
        t.equal(err?.code, 'Neo.ClientError.Statement.SyntaxError');
        t.equal(ok.records[0]!.get('one'), 1);
        const after = await counts(side.bw);
        t.equal(after.failure, before.failure, 'not a failure of Neo4j');
        t.ok(after.ignored > before.ignored, 'recorded as the caller\'s error');
      });
    });
  }
}

await t.test('metrics and status', async (t) => {
  const m = await side.bw.metric(/^breakwater_bolt_requests_total\{dependency="neo4j",message="RUN"\} (\d+)/);
  t.ok((m ?? 0) > 10, `RUN requests counted (${m})`);
  const c = await counts(side.bw);
  t.ok(c.success > 10, 'successful calls counted');
  t.equal(c.failure, 0);
  const st = (await side.bw.get('/status')).body.dependencies.neo4j;
  t.equal(st.breaker.state, 'closed');
  t.equal(st.protocol, 'bolt');
});
