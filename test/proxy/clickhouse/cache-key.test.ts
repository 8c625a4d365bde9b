import fc from 'fast-check';
import t from 'tap';
import { NON_RESULT_PARAMS, clickhouseCacheKeyParts, normalizeSql } from '../../../src/proxy/clickhouse/cache-key.js';

interface Req {
  sql: string;
  params?: Record<string, string> | [string, string][] | string;
  headers?: Record<string, string>;
}

/** The key parts of a request given the way a listener sees it. */
function parts(req: Req): string[] | undefined {
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return clickhouseCacheKeyParts({
    sql: req.sql,
    params: req.params === undefined ? null : new URLSearchParams(req.params),
    header: (name) => headers[name],
  });
}

const keyOf = (req: Req): string => {
  const p = parts(req);
  if (p === undefined) throw new Error(`not cacheable: ${JSON.stringify(req)}`);
  return JSON.stringify(p);
};

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

t.test('normalizeSql: whitespace and comments collapse, literals stay', async (t) => {
  const cases: [string, string][] = [
    ['  SELECT   1  ', 'SELECT 1'],
    ['SELECT\n\t1\r\n', 'SELECT 1'],
    ['SELECT 1;', 'SELECT 1'],
    ['SELECT 1 ; ;\n', 'SELECT 1'],
    ['SELECT 1 -- the answer\n', 'SELECT 1'],
    ['SELECT 1 // c-style\nFROM t', 'SELECT 1 FROM t'],
    ['SELECT 1 # hash\nFROM t', 'SELECT 1 FROM t'],
    ['#!shebang\nSELECT 1', 'SELECT 1'],
    ['/* lead */SELECT/* mid */1/* end */', 'SELECT 1'],
    ['SELECT /* outer /* nested */ still */ 1', 'SELECT 1'],
    ['SELECT a-b, a/b, a#b', 'SELECT a-b, a/b, a#b'],
    ["SELECT 'a  b'", "SELECT 'a  b'"],
    ["SELECT 'it''s  -- not a comment'", "SELECT 'it''s  -- not a comment'"],
    ["SELECT 'back\\'slash  /* x */'", "SELECT 'back\\'slash  /* x */'"],
    ['SELECT "weird  col", `other  col` FROM t', 'SELECT "weird  col", `other  col` FROM t'],
    ['SELECT $$ a  b $$, $tag$ -- x $tag$', 'SELECT $$ a  b $$, $tag$ -- x $tag$'],
    ['SELECT \u2018a  b\u2019, \u201cc  d\u201d', 'SELECT \u2018a  b\u2019, \u201cc  d\u201d'],
    ["SELECT ';'", "SELECT ';'"],
    ['SeLeCt Foo FROM Bar', 'SeLeCt Foo FROM Bar'],
    ["SELECT 'unterminated  ", "SELECT 'unterminated  "],
    ['SELECT 1 /* unterminated  ', 'SELECT 1 /* unterminated  '],
    ['SELECT 1 FORMAT JSON;', 'SELECT 1 FORMAT JSON'],
    ['SELECT - -1', 'SELECT - -1'],
    ['SELECT -/**/-1', 'SELECT - -1'],
    ['SELECT a #\t b', 'SELECT a #\tb'],
    ['SELECT a ##! c\n b', 'SELECT a #\tb'],
  ];
  for (const [sql, want] of cases) t.equal(normalizeSql(sql), want, JSON.stringify(sql));
});

t.test('equal keys for whitespace and comment variants', async (t) => {
  const base = keyOf({ sql: 'SELECT a, b FROM t WHERE x = 1' });
  for (const sql of [
    'SELECT  a,\n\tb FROM t -- why\n WHERE x = 1;',
    '/* report v2 */ SELECT a, /* mid */ b FROM t WHERE x = 1 ;  ; ',
    '\n\nSELECT a, b\nFROM t\nWHERE x = 1\n',
    '-- leading comment\nSELECT a, b FROM t WHERE x = 1 # trailing comment',
  ]) {
    t.equal(keyOf({ sql }), base, JSON.stringify(sql));
  }
});

t.test('different keys for different SQL', async (t) => {
  const pairs: [string, string][] = [
    ["SELECT 'a  b'", "SELECT 'a b'"],
    ["SELECT 'a--b'", "SELECT 'a'"],
    ['SELECT "a  b" FROM t', 'SELECT "a b" FROM t'],
    ['SELECT $$a  b$$', 'SELECT $$a b$$'],
    ['SELECT a FROM T', 'SELECT a FROM t'],
    ['SELECT 1', 'SELECT 2'],
    ['SELECT 1', 'SELECT 1 FORMAT JSON'],
    ['SELECT 1 FORMAT JSON', 'SELECT 1 FORMAT JSONEachRow'],
    ['SELECT a-b', 'SELECT a- b'],
  ];
  for (const [a, b] of pairs) t.not(keyOf({ sql: a }), keyOf({ sql: b }), `${a} vs ${b}`);
});

t.test('database, user, format, settings and compression are in the key', async (t) => {
  const sql = 'SELECT * FROM posts';
  const variants: Req[] = [
    { sql },
    { sql, params: { database: 'a' } },
    { sql, params: { database: 'b' } },
    { sql, headers: { 'X-ClickHouse-Database': 'a' } },
    { sql, params: { user: 'alice' } },
    { sql, params: { user: 'bob' } },
    { sql, headers: { 'X-ClickHouse-User': 'alice' } },
    { sql, headers: { Authorization: basic('alice', 'pw') } },
    { sql, headers: { Authorization: basic('bob', 'pw') } },
    { sql, params: { user: 'alice' }, headers: { 'X-ClickHouse-Key': 'pw' } },
    { sql, params: { default_format: 'JSON' } },
    { sql, params: { default_format: 'TabSeparated' } },
    { sql, headers: { 'X-ClickHouse-Format': 'JSON' } },
    { sql, params: { max_result_rows: '10', result_overflow_mode: 'break' } },
    { sql, params: { max_result_rows: '20', result_overflow_mode: 'break' } },
    { sql, params: { max_execution_time: '1' } },
    { sql, params: { max_threads: '1' } },
    { sql, params: { param_id: '1' } },
    { sql, params: { param_id: '2' } },
    { sql, params: { role: 'analyst' } },
    { sql, params: { some_future_setting: '1' } },
    { sql, params: { enable_http_compression: '1' } },
    { sql, params: { enable_http_compression: '1' }, headers: { 'Accept-Encoding': 'gzip' } },
    { sql, params: { enable_http_compression: '1' }, headers: { 'Accept-Encoding': 'br' } },
    { sql, headers: { 'Accept-Encoding': 'gzip' } },
    { sql, params: { compress: '1' } },
  ];
  const keys = variants.map(keyOf);
  t.equal(new Set(keys).size, keys.length, 'every variant has a key of its own');
});

t.test('a FORMAT clause makes default_format and X-ClickHouse-Format irrelevant; aliases are one format', async (t) => {
  const sql = 'SELECT 1 FORMAT JSON';
  const base = keyOf({ sql });
  t.equal(keyOf({ sql, params: { default_format: 'CSV' } }), base);
  t.equal(keyOf({ sql, headers: { 'X-ClickHouse-Format': 'CSV' } }), base);
  t.ok(parts({ sql: 'SELECT 1 FORMAT TSV' })?.includes('format:TabSeparated'), 'the clause by its canonical name (the SQL text still tells them apart)');
  t.equal(keyOf({ sql: 'SELECT 1', params: { default_format: 'JSONLines' } }), keyOf({ sql: 'SELECT 1', params: { default_format: 'JSONEachRow' } }));
});

t.test('query_id, session_id and the other non-result parameters are ignored', async (t) => {
  const sql = 'SELECT count() FROM events';
  const base = keyOf({ sql, params: { database: 'db', max_result_rows: '5' } });
  const noise: Record<string, string> = {
    query_id: 'a1b2',
    session_id: 's-42',
    session_timeout: '60',
    session_check: '1',
    close_session: '1',
    send_progress_in_http_headers: '1',
    http_headers_progress_interval_ms: '100',
    wait_end_of_query: '1',
    buffer_size: '1048576',
    log_queries: '0',
    log_comment: 'dashboard',
    stacktrace: '1',
    quota_key: 'team-a',
  };
  for (const [name, value] of Object.entries(noise)) {
    t.ok(NON_RESULT_PARAMS.has(name), `${name} is listed`);
    t.equal(keyOf({ sql, params: { database: 'db', max_result_rows: '5', [name]: value } }), base, name);
  }
  t.equal(keyOf({ sql, params: { ...noise, database: 'db', max_result_rows: '5' } }), base, 'all at once');
  t.equal(keyOf({ sql, params: { database: 'db', max_result_rows: '5', query_id: 'other' } }), keyOf({ sql, params: { database: 'db', max_result_rows: '5', query_id: 'x' } }));
});

t.test('settings order does not matter; the query parameter is the SQL, not a setting', async (t) => {
  const sql = 'SELECT 1';
  t.equal(keyOf({ sql, params: [['a', '1'], ['b', '2']] }), keyOf({ sql, params: [['b', '2'], ['a', '1']] }));
  t.equal(keyOf({ sql, params: { query: sql } }), keyOf({ sql }));
  t.not(keyOf({ sql, params: [['a', '1'], ['a', '2']] }), keyOf({ sql, params: [['a', '2'], ['a', '1']] }), 'repeats keep their order');
  t.not(keyOf({ sql, params: [['a=b', 'c']] }), keyOf({ sql, params: [['a', 'b=c']] }), 'a name cannot absorb part of its value');
});

t.test('passwords never reach the parts', async (t) => {
  const secret = 'hunter2-very-secret';
  const reqs: Req[] = [
    { sql: 'SELECT 1', params: { user: 'alice', password: secret } },
    { sql: 'SELECT 1', headers: { 'X-ClickHouse-User': 'alice', 'X-ClickHouse-Key': secret } },
    { sql: 'SELECT 1', headers: { Authorization: basic('alice', secret) } },
  ];
  for (const req of reqs) {
    const p = parts(req);
    t.ok(p !== undefined && p.some((part) => part.includes('alice')), 'the user is in');
    t.notOk(JSON.stringify(p).includes(secret), 'the password is not');
    t.notOk(JSON.stringify(p).includes(Buffer.from(`alice:${secret}`).toString('base64')), 'nor the encoded credentials');
  }
  // same user, other password: same entry (the password is not a result input)
  t.equal(keyOf({ sql: 'SELECT 1', params: { user: 'alice', password: 'a' } }), keyOf({ sql: 'SELECT 1', params: { user: 'alice', password: 'b' } }));
});

t.test('not cacheable', async (t) => {
  const cases: [string, Req][] = [
    ['an INSERT', { sql: 'INSERT INTO t VALUES (1)' }],
    ['a CREATE', { sql: 'CREATE TABLE t (x UInt8) ENGINE = Memory' }],
    ['external data (multipart)', { sql: 'SELECT * FROM ext', params: { ext_structure: 'x UInt8' }, headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' } }],
    ['a compressed body (decompress=1)', { sql: 'SELECT 1', params: { decompress: '1' } }],
    ['a compressed body (Content-Encoding)', { sql: 'SELECT 1', headers: { 'Content-Encoding': 'gzip' } }],
    ['a bearer token', { sql: 'SELECT 1', headers: { Authorization: 'Bearer eyJhbGciOi' } }],
    ['a repeated database', { sql: 'SELECT 1', params: [['database', 'a'], ['database', 'b']] }],
  ];
  for (const [what, req] of cases) t.equal(parts(req), undefined, what);
  t.ok(parts({ sql: 'SELECT 1', params: { decompress: '0' } }), 'decompress=0 is fine');
  t.ok(parts({ sql: 'SELECT 1', headers: { 'Content-Type': 'text/plain' } }), 'a plain body is fine');
  t.ok(parts({ sql: 'SELECT * FROM tmp', params: { session_id: 's', param_x: '1' } }), 'session_id and param_* are fine');
});

// --- properties -------------------------------------------------------------

const alnum = 'abcXYZ019_';
const word = fc.string({ unit: fc.constantFrom(...alnum), minLength: 1, maxLength: 6 });
// Pieces that look like whitespace, comments and quotes of other kinds, inside a literal.
const inside = (quote: string) =>
  fc
    .array(fc.constantFrom('a', 'Z', ' ', '  ', '\t', '\n', '--', '/*', '*/', '#', '$', ';', '\\\\', `\\${quote}`, `${quote}${quote}`, '"', '`', "'", '\u2019'), { maxLength: 8 })
    .map((pieces) => pieces.filter((p) => p !== quote && p !== '\u2019').join(''));
const literal = fc.oneof(
  inside("'").map((s) => `'${s}'`),
  inside('"').map((s) => `"${s}"`),
  inside('`').map((s) => `\`${s}\``),
  fc.tuple(fc.constantFrom('', 'q', 'tag'), fc.array(fc.constantFrom('a', ' ', '  ', '\n', '--', '/*', "'"), { maxLength: 6 })).map(([tag, body]) => `$${tag}$${body.join('')}$${tag}$`),
);
// '-', '/' and '#' are left out: next to a comment they would start one of their own.
const token = fc.oneof(word, fc.integer({ min: 0, max: 999 }).map(String), fc.constantFrom(',', '(', ')', '=', '+', '*', '<', '>', '.', '[', ']'), literal);
// A separator: starts and ends with whitespace (so it cannot join a neighbour), comments inside.
const separator = fc
  .array(
    fc.oneof(
      fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', '\f', '\v'),
      fc.string({ unit: fc.constantFrom('a', ' ', '-', '*', "'"), maxLength: 6 }).map((c) => `/*${c.replace(/\*\//g, '')}*/`),
      fc.string({ unit: fc.constantFrom('a', ' ', "'", '*'), maxLength: 6 }).map((c) => `-- ${c}\n`),
      fc.string({ unit: fc.constantFrom('a', ' ', "'"), maxLength: 6 }).map((c) => `// ${c}\n`),
      fc.string({ unit: fc.constantFrom('a', ' ', "'"), maxLength: 6 }).map((c) => `# ${c}\n`),
    ),
    { maxLength: 4 },
  )
  .map((pieces) => ` ${pieces.join('')} `);

t.test('property: normalization is idempotent', async (t) => {
  const anySql = fc.string({ unit: fc.constantFrom('a', 'B', '1', ' ', '\t', '\n', "'", '"', '`', '$', '-', '/', '*', '#', '!', ';', '\\', '(', '\u2018', '\u2019', '\u201c', '\u201d', '$a$', '/*', '*/', '--', '# '), maxLength: 60 });
  fc.assert(
    fc.property(fc.oneof(anySql, fc.array(fc.oneof(token, separator), { maxLength: 20 }).map((p) => p.join(''))), (sql) => {
      const once = normalizeSql(sql);
      return normalizeSql(once) === once;
    }),
    { numRuns: 2000 },
  );
  t.pass('normalize(normalize(x)) === normalize(x)');
});

t.test('property: whitespace and comments outside literals never change the key', async (t) => {
  const query = fc.array(fc.tuple(token, fc.boolean()), { minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(query, fc.infiniteStream(separator), fc.infiniteStream(separator), fc.nat(3), fc.nat(3), (tokens, sepA, sepB, semisA, semisB) => {
      // the same tokens, each followed by nothing or by a separator; the separators differ between the two
      const build = (seps: IterableIterator<string>, semis: number): string =>
        `${seps.next().value}SELECT${seps.next().value}${tokens.map(([tok, spaced]) => `${tok}${spaced ? seps.next().value : ''}`).join('')}${';'.repeat(semis)}${seps.next().value}`;
      const a = build(sepA, semisA);
      const b = build(sepB, semisB);
      return keyOf({ sql: a }) === keyOf({ sql: b });
    }),
    { numRuns: 1000 },
  );
  t.pass('same tokens, other whitespace/comments: same key');
});

t.test('property: different literal contents never share a key', async (t) => {
  fc.assert(
    fc.property(literal, literal, (x, y) => {
      fc.pre(x !== y);
      return keyOf({ sql: `SELECT ${x} AS v` }) !== keyOf({ sql: `SELECT ${y} AS v` });
    }),
    { numRuns: 1000 },
  );
  t.pass('literals are compared byte for byte');
});
