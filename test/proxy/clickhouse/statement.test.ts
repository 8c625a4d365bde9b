import fc from 'fast-check';
import t from 'tap';
import {
  STATEMENT_PREFIX_BYTES,
  statementKind,
  statementKindOfPrefix,
  statementKindOfRequest,
  type StatementKind,
} from '../../../src/proxy/clickhouse/statement.js';

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

t.test('first keyword decides, case-insensitively', async (t) => {
  const cases: Array<[string, StatementKind]> = [
    ['SELECT 1', 'read'],
    ['select 1', 'read'],
    ['SeLeCt*FROM t', 'read'],
    ['WITH 1 AS x SELECT x', 'read'],
    ['SHOW TABLES', 'read'],
    ['DESCRIBE TABLE t', 'read'],
    ['DESC t', 'read'],
    ['desc\tt', 'read'],
    ['EXISTS TABLE t', 'read'],
    ['EXPLAIN SELECT 1', 'read'],
    ['INSERT INTO t VALUES (1)', 'write'],
    ['insert into t format CSV\n1', 'write'],
    ['CREATE TABLE t (x UInt8) ENGINE = Memory', 'other'],
    ['ALTER TABLE t DELETE WHERE 1', 'other'],
    ['DROP TABLE t', 'other'],
    ['SET max_threads = 1', 'other'],
    ['OPTIMIZE TABLE t FINAL', 'other'],
    ['SYSTEM FLUSH LOGS', 'other'],
    ['TRUNCATE TABLE t', 'other'],
    ['KILL QUERY WHERE 1', 'other'],
    ['USE db', 'other'],
    ['DELETE FROM t WHERE 1', 'other'],
    ['SELECTX', 'other'],
    ['SELECT_1', 'other'],
    ['SELECT$', 'other'],
    ['DESCX t', 'other'],
    ['INSERTED', 'other'],
    ['1', 'other'],
    [';', 'other'],
    ["'SELECT'", 'other'],
    ['', 'other'],
    ['   \n\t', 'other'],
  ];
  for (const [sql, kind] of cases) {
    t.equal(statementKind(sql), kind, JSON.stringify(sql));
    t.equal(statementKindOfPrefix(buf(sql), true), kind, `${JSON.stringify(sql)} (buffer, end)`);
  }
});

t.test('skips whitespace, comments and opening parentheses', async (t) => {
  const cases: Array<[string, StatementKind]> = [
    ['  \r\n\t\f\vSELECT 1', 'read'],
    ['-- a comment\nSELECT 1', 'read'],
    ['// a comment\nINSERT INTO t VALUES (1)', 'write'],
    ['# a comment\nSELECT 1', 'read'],
    ['#!/usr/bin/clickhouse-local\nSELECT 1', 'read'],
    ['/* block */SELECT 1', 'read'],
    ['/* multi\nline */ -- and\n/**/ select 1', 'read'],
    ['/* nested /* comment */ still comment */ SELECT 1', 'read'],
    ['(SELECT 1)', 'read'],
    ['((  (SELECT 1)))', 'read'],
    ['( /* c */ ( -- c\n WITH 1 AS x SELECT x))', 'read'],
    ['#comment\nSELECT 1', 'other'], // `#` without space is not a comment
    ['- SELECT', 'other'],
    ['/ SELECT', 'other'],
    ['/* never closed SELECT 1', 'other'],
    ['-- only a comment', 'other'],
  ];
  for (const [sql, kind] of cases) t.equal(statementKind(sql), kind, JSON.stringify(sql));
});

t.test('prefix: undefined until the first word is complete', async (t) => {
  t.equal(statementKindOfPrefix(buf(''), false), undefined);
  t.equal(statementKindOfPrefix(buf('  \n'), false), undefined);
  t.equal(statementKindOfPrefix(buf('-- comment without newline'), false), undefined);
  t.equal(statementKindOfPrefix(buf('/* open'), false), undefined);
  t.equal(statementKindOfPrefix(buf('/* open *'), false), undefined);
  t.equal(statementKindOfPrefix(buf('-'), false), undefined, 'a lone - may start a comment');
  t.equal(statementKindOfPrefix(buf('/'), false), undefined);
  t.equal(statementKindOfPrefix(buf('#'), false), undefined);
  t.equal(statementKindOfPrefix(buf('SEL'), false), undefined);
  t.equal(statementKindOfPrefix(buf('SELECT'), false), undefined, 'SELECT could still become SELECTX');
  t.equal(statementKindOfPrefix(buf('SELECT '), false), 'read');
  t.equal(statementKindOfPrefix(buf('SELECT('), false), 'read');
  t.equal(statementKindOfPrefix(buf('DESC'), false), undefined, 'DESC could become DESCRIBE');
  t.equal(statementKindOfPrefix(buf('DESC\n'), false), 'read');
  t.equal(statementKindOfPrefix(buf('CREA'), false), 'other', 'not a prefix of any keyword: decided');
  t.equal(statementKindOfPrefix(buf('SELECTED'), false), 'other', 'longer than any keyword that matches');
  t.equal(statementKindOfPrefix(buf('X'), false), 'other');
  t.equal(statementKindOfPrefix(buf('SEL'), true), 'other', 'end: what is there is all there is');
  t.equal(statementKindOfPrefix(buf('SELECT'), true), 'read');
  t.equal(statementKindOfPrefix(buf('-- x'), true), 'other');
});

t.test('STATEMENT_PREFIX_BYTES is a sane peek size', async (t) => {
  t.ok(STATEMENT_PREFIX_BYTES >= 256 && STATEMENT_PREFIX_BYTES <= 65536);
  const longComment = `/* ${'x'.repeat(STATEMENT_PREFIX_BYTES)} */ SELECT 1`;
  const peek = buf(longComment).subarray(0, STATEMENT_PREFIX_BYTES);
  t.equal(statementKindOfPrefix(peek, false), undefined);
  t.equal(statementKindOfPrefix(peek, true), 'other', 'still undecided after the peek: other');
});

t.test('statementKindOfRequest: query parameter first, then the body', async (t) => {
  t.equal(statementKindOfRequest('INSERT INTO t FORMAT CSV', buf('SELECT,1\n'), false), 'write', 'body of an INSERT is data');
  t.equal(statementKindOfRequest('SELECT 1', buf(''), true), 'read');
  t.equal(statementKindOfRequest(null, buf('SELECT 1'), true), 'read');
  t.equal(statementKindOfRequest(undefined, buf('INSERT'), false), undefined);
  t.equal(statementKindOfRequest('', buf('INSERT '), false), 'write', 'empty parameter = absent');
  t.equal(statementKindOfRequest('/* only a comment */', buf(' SELECT 1'), true), 'read', 'comment-only parameter: look at the body');
  t.equal(statementKindOfRequest('-- c\n', buf(''), false), undefined);
  t.equal(statementKindOfRequest('-- c\n', buf(''), true), 'other');
});

// ---- properties

const FRAGMENTS = [
  ' ', '\n', '\t', '(', ')', '--', '//', '#', '# ', '#!', '/*', '*/', '/', '*', '-', ';', "'", '"', '`', '$',
  'SELECT', 'select', 'INSERT', 'WITH', 'SHOW', 'DESC', 'RIBE', 'DESCRIBE', 'EXISTS', 'EXPLAIN', 'CREATE', 'x', '1', '_', 'é',
];
const sqlish = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 20 }).map((parts) => parts.join(''));

t.test('property: never throws, and strings agree with buffers (ASCII)', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const k = statementKind(s);
      return k === 'read' || k === 'write' || k === 'other';
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, end) => {
      const k = statementKindOfPrefix(bytes, end);
      return k === undefined ? !end : ['read', 'write', 'other'].includes(k);
    }),
  );
  fc.assert(
    fc.property(sqlish.filter((s) => /^[\x00-\x7f]*$/.test(s)), (s) => statementKind(s) === statementKindOfPrefix(buf(s), true)),
  );
  t.pass('ok');
});

t.test('property: a decided prefix stays decided whatever follows', async (t) => {
  const tail = fc.oneof(sqlish, fc.string({ unit: 'binary', maxLength: 50 }));
  fc.assert(
    fc.property(sqlish, tail, fc.boolean(), (head, rest, end) => {
      const decided = statementKindOfPrefix(buf(head), false);
      if (decided === undefined) return true;
      return statementKindOfPrefix(buf(head + rest), end) === decided;
    }),
    { numRuns: 2000 },
  );
  // every cut of a full query is either undecided or agrees with the whole
  fc.assert(
    fc.property(sqlish, (sql) => {
      const whole = statementKindOfPrefix(buf(sql), true);
      const bytes = buf(sql);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const k = statementKindOfPrefix(bytes.subarray(0, cut), false);
        if (k !== undefined && k !== whole) return false;
      }
      return true;
    }),
    { numRuns: 1000 },
  );
  t.pass('ok');
});

t.test('property: junk before a keyword does not change its kind', async (t) => {
  const junk = fc
    .array(
      fc.oneof(
        fc.constantFrom(' ', '\n', '\t', '(', '\r\n'),
        fc.string({ maxLength: 10 }).map((s) => `-- ${s.replace(/\n/g, '')}\n`),
        fc.string({ maxLength: 10 }).map((s) => `/* ${s.replace(/[*/]/g, '')} */`),
      ),
      { maxLength: 6 },
    )
    .map((parts) => parts.join(''));
  const keyword = fc.constantFrom<[string, StatementKind]>(
    ['SELECT', 'read'], ['with', 'read'], ['Show', 'read'], ['DESCRIBE', 'read'], ['desc', 'read'], ['EXISTS', 'read'],
    ['EXPLAIN', 'read'], ['INSERT', 'write'], ['CREATE', 'other'], ['ALTER', 'other'], ['DROP', 'other'], ['SET', 'other'],
  );
  const after = fc.constantFrom(' 1', '\n*', '(1)', ' INTO t', '');
  fc.assert(
    fc.property(junk, keyword, after, fc.string({ maxLength: 20 }), (j, [kw, kind], a, rest) => {
      const sql = `${j}${kw}${a}${a === '' ? '' : rest}`;
      return statementKind(sql) === kind;
    }),
  );
  t.pass('ok');
});
