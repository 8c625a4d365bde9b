// Rule coverage: every statement must match; unread statements only match a catch-all rule.
import t from 'tap';
import { coverage } from '../../../src/proxy/neo4j-http/fallbacks.js';
import { neo4jHttpFallbackRule } from '../../../src/config/schema.js';

const rule = (r: unknown) => coverage(neo4jHttpFallbackRule.parse(r));

t.test('statement kinds', async (t) => {
  const read = rule({ match: { statement: 'read' }, use: ['static'] });
  t.ok(read(['MATCH (n) RETURN n', 'RETURN 1']));
  t.notOk(read(['MATCH (n) RETURN n', 'CREATE (n)']), 'one write: not all read');
  t.notOk(read(undefined), 'unread statements');
  const write = rule({ match: { statement: 'write' }, use: ['fail'] });
  t.ok(write(['CREATE (n)', 'MERGE (m)']));
  t.notOk(write(['CREATE (n)', 'RETURN 1']));
  const any = rule({ use: ['fail'] });
  t.ok(any(undefined), 'a catch-all covers requests whose statements were not read');
  t.ok(any(['CREATE (n)']));
});

t.test('query patterns', async (t) => {
  const q = rule({ match: { query: '(?i)^match .*return' }, use: ['cache'] });
  t.ok(q(['MATCH (n) RETURN n', 'match (m) return m']));
  t.notOk(q(['MATCH (n) RETURN n', 'RETURN 1']));
  t.notOk(q(undefined));
  const cs = rule({ match: { query: '^MATCH' }, use: ['cache'] });
  t.notOk(cs(['match (n) return n']), 'case-sensitive without (?i)');
});
