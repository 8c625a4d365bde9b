import t from 'tap';
import { acceptsJson, cacheUser, commitDatabase, parseStatements } from '../../../src/proxy/neo4j-http/request.js';
import { columnsOf, ColumnMemory } from '../../../src/proxy/neo4j-http/columns.js';

t.test('commitDatabase: only an auto-commit POST', async (t) => {
  t.equal(commitDatabase('POST', '/db/neo4j/tx/commit'), 'neo4j');
  t.equal(commitDatabase('POST', '/db/my%2Ddb/tx/commit?x=1'), 'my-db');
  t.equal(commitDatabase('GET', '/db/neo4j/tx/commit'), undefined);
  t.equal(commitDatabase('POST', '/db/neo4j/tx'), undefined, 'opens an explicit transaction');
  t.equal(commitDatabase('POST', '/db/neo4j/tx/12/commit'), undefined, 'commits an explicit transaction');
  t.equal(commitDatabase('POST', '/db/neo4j/query/v2'), undefined);
  t.equal(commitDatabase('POST', '/'), undefined);
  t.equal(commitDatabase('POST', '/db/%E0/tx/commit'), undefined, 'bad escapes');
});

t.test('parseStatements', async (t) => {
  const b = (s: string): Buffer => Buffer.from(s);
  t.same(parseStatements(b('{"statements":[{"statement":"RETURN 1","parameters":{}},{"statement":"RETURN 2","includeStats":true}]}')), {
    texts: ['RETURN 1', 'RETURN 2'],
    includeStats: [false, true],
  });
  for (const bad of ['hello', '', '{}', '{"statements":[]}', '{"statements":{}}', '{"statements":[{"statement":1}]}', '{"statements":[null]}', 'null', '[1]'])
    t.equal(parseStatements(b(bad)), undefined, JSON.stringify(bad));
});

t.test('cacheUser: the Basic user, never the password', async (t) => {
  const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
  t.equal(cacheUser(basic('neo4j:secret')), 'basic:neo4j');
  t.equal(cacheUser(basic('neo4j:other')), 'basic:neo4j');
  t.equal(cacheUser(basic('alice:a:b')), 'basic:alice');
  t.equal(cacheUser(undefined), 'anonymous');
  t.equal(cacheUser('Bearer abc.def'), undefined, 'a token: not cacheable');
});

t.test('acceptsJson', async (t) => {
  t.ok(acceptsJson(undefined));
  t.ok(acceptsJson('application/json'));
  t.ok(acceptsJson('application/json;charset=UTF-8'));
  t.ok(acceptsJson('*/*'));
  t.notOk(acceptsJson('application/vnd.neo4j.jolt'));
  t.notOk(acceptsJson('application/vnd.neo4j.jolt-v2+json-seq, application/json'));
  t.notOk(acceptsJson('text/html'));
});

t.test('columns: every statement from a small body, the first from a prefix', async (t) => {
  const body = Buffer.from('{"results":[{"columns":["x","y"],"data":[{"row":[[1,"a"],2],"meta":[null]}]},{"columns":["i"],"data":[]}],"errors":[]}');
  t.same(columnsOf(body, true, 2), [['x', 'y'], ['i']]);
  t.same(columnsOf(body.subarray(0, 50), false, 2), [['x', 'y'], undefined]);
  t.same(columnsOf(Buffer.from('{"results":[{"columns":["a],\\"data\\":b"],"data":[]}]}'), false, 1), [['a],"data":b']], 'a column name with the end marker in it');
  t.same(columnsOf(Buffer.from('garbage'), true, 1), [undefined]);
  const m = new ColumnMemory();
  m.set('RETURN 1 AS a', ['a']);
  t.same(m.get('RETURN 1 AS a'), ['a']);
  for (let i = 0; i < 1100; i++) m.set(`RETURN ${i}`, ['x']);
  t.equal(m.get('RETURN 1 AS a'), undefined, 'bounded: the oldest goes');
  m.set('x'.repeat(20_000), ['a']);
  t.equal(m.get('x'.repeat(20_000)), undefined, 'very long texts are not kept');
});
