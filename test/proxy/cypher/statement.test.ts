// The Cypher read/write judgement, query patterns and RETURN field names: pure functions, no
// server. The judgement must never call a write a read (that would let `static` or `cache`
// fake a write's success); calling a read a write only costs a fallback.
import t from 'tap';
import fc from 'fast-check';
import { isReadQuery } from '../../../src/proxy/cypher/statement.js';
import { compileQueryPattern } from '../../../src/proxy/cypher/query-pattern.js';
import { returnFields } from '../../../src/proxy/cypher/return-fields.js';

t.test('reads', async (t) => {
  for (const q of [
    'MATCH (n) RETURN n',
    'match (me:User {id: $id})-[:FOLLOWS]->(f) return f.name AS name',
    'MATCH (n) WHERE n.name = "CREATE (x)" RETURN n',
    "MATCH (n) WHERE n.note = 'SET it // DELETE' RETURN n",
    'MATCH (n:Create)-[:MERGE]->(m) RETURN n.set, $delete AS d',
    'MATCH (n) RETURN n {.name, set: 1}',
    'MATCH (n) RETURN `DELETE` // CREATE in a comment\n',
    'MATCH (n) /* SET n.x = 1 */ RETURN count(n)',
    'WITH 1 AS x RETURN x',
    'SHOW DATABASES',
    'UNWIND range(1, 10) AS i RETURN i',
  ]) {
    t.ok(isReadQuery(q), q);
  }
});

t.test('writes (and what may write)', async (t) => {
  for (const q of [
    'CREATE (n)',
    'MATCH (n) SET n.x = 1',
    'MATCH (n) DETACH DELETE n',
    'merge (n:User {id: $id})',
    'MATCH (n) REMOVE n:Label',
    'CALL db.labels()',
    'LOAD CSV FROM "file:///x" AS row RETURN row',
    'MATCH (n) FOREACH (x IN [1] | SET n.y = x)',
    'DROP INDEX idx',
    'MATCH (n) CALL { WITH n CREATE (m) } RETURN n',
    'MATCH (n) RETURN n UNION MATCH (m) SET m.x = 1 RETURN m',
  ]) {
    t.notOk(isReadQuery(q), q);
  }
});

t.test('a writing keyword anywhere in code makes it a write, whatever surrounds it', async (t) => {
  const word = fc.constantFrom('CREATE', 'merge', 'Set', 'DELETE', 'remove', 'DETACH', 'CALL', 'FOREACH', 'LOAD', 'DROP');
  fc.assert(
    fc.property(fc.constantFrom('MATCH (n) ', 'WITH 1 AS x ', ''), word, fc.constantFrom(' (m)', ' n.x = 1', ' {', ''), (before, w, after) => !isReadQuery(`${before}${w}${after}`)),
  );
});

t.test('never throws on any text', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (q) => {
      isReadQuery(q);
      returnFields(q);
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass();
});

t.test('query patterns', async (t) => {
  const p = compileQueryPattern('(?i)^match .*return');
  t.ok(p instanceof RegExp && p.test('MATCH (n)\nRETURN n'), '(?i) is case-insensitive, . spans lines');
  const strict = compileQueryPattern('^MATCH');
  t.ok(strict instanceof RegExp && !strict.test('match (n)'), 'case-sensitive without (?i)');
  t.ok(compileQueryPattern('(unclosed') instanceof SyntaxError, 'a broken pattern is a SyntaxError');
});

t.test('RETURN field names', async (t) => {
  t.same(returnFields('MATCH (s) RETURN s.id AS id, s.name AS name, count(*) AS mutual ORDER BY mutual DESC LIMIT 5'), ['id', 'name', 'mutual']);
  t.same(returnFields('RETURN 1'), ['1']);
  t.same(returnFields('MATCH (n) RETURN DISTINCT n.name'), ['n.name']);
  t.same(returnFields('MATCH (n) RETURN n.x AS `odd name`, collect(n) AS c SKIP 1'), ['odd name', 'c']);
  t.same(returnFields('MATCH (n) WITH n, {a: 1, b: 2} AS m RETURN m, [x IN [1,2] | x] AS xs'), ['m', 'xs']);
  t.same(returnFields('MATCH (n) RETURN *'), [], 'RETURN * cannot be known');
  t.same(returnFields('MATCH (n) SET n.x = 1'), [], 'no RETURN');
});
