import fc from 'fast-check';
import t from 'tap';
import {
  DEFAULT_FORMAT,
  formatClause,
  isKnownFormat,
  normalizeFormatName,
  requestedFormat,
} from '../../../src/proxy/clickhouse/format.js';

t.test('FORMAT clause at the end of the query wins', async (t) => {
  const cases: Array<[string, string]> = [
    ['SELECT 1 FORMAT JSON', 'JSON'],
    ['SELECT 1 format JSONEachRow', 'JSONEachRow'],
    ['SELECT 1 FORMAT JSONEachRow;', 'JSONEachRow'],
    ['SELECT 1 FORMAT JSONEachRow ; ;', 'JSONEachRow'],
    ['SELECT 1 FORMAT JSONEachRow -- comment', 'JSONEachRow'],
    ['SELECT 1 FORMAT JSONEachRow /* comment */', 'JSONEachRow'],
    ['SELECT 1 FORMAT\nCSV\n', 'CSV'],
    ['SELECT 1 FORMAT `CSV`', 'CSV'],
    ['SELECT 1 FORMAT "CSV"', 'CSV'],
    ['SELECT 1 FORMAT /* between */ CSV', 'CSV'],
    ['SELECT 1 SETTINGS max_threads = 1 FORMAT CSV', 'CSV'],
    ['SELECT 1 FORMAT JSON SETTINGS max_threads = 1', 'JSON'],
    ['SELECT 1 UNION ALL SELECT 2 FORMAT CSVWithNames', 'CSVWithNames'],
    ['SELECT 1 AS format FORMAT CSV', 'CSV'],
    ['SELECT format FORMAT JSON', 'JSON'],
    ['SELECT 1 INTO OUTFILE \'x.csv\' FORMAT CSV', 'CSV'],
    ['SHOW TABLES FORMAT JSONCompact', 'JSONCompact'],
    ['DESCRIBE TABLE t FORMAT Vertical', 'Vertical'],
    ['SELECT (SELECT 1) AS x FORMAT Pretty', 'Pretty'],
    ['SELECT 1\nFORMAT JSON\n', 'JSON'],
  ];
  for (const [sql, format] of cases) t.equal(requestedFormat(sql, null), format, JSON.stringify(sql));
});

t.test('FORMAT inside strings, comments, identifiers or expressions is not a clause', async (t) => {
  const cases = [
    "SELECT 'FORMAT CSV'",
    "SELECT 'it''s FORMAT CSV'",
    "SELECT 'a\\' FORMAT CSV'",
    'SELECT 1 AS `FORMAT CSV`',
    'SELECT 1 AS "FORMAT CSV"',
    'SELECT 1 -- FORMAT CSV',
    'SELECT 1 # FORMAT CSV',
    'SELECT 1 // FORMAT CSV',
    'SELECT 1 /* FORMAT CSV */',
    'SELECT 1 /* a /* nested */ FORMAT CSV */',
    'SELECT $$FORMAT CSV$$',
    'SELECT $tag$ FORMAT CSV $tag$',
    'SELECT \u2018FORMAT CSV\u2019',
    'SELECT format FROM t',
    'SELECT format FROM t WHERE x',
    'SELECT t.format FROM t',
    'SELECT x FROM t ORDER BY format',
    'SELECT x FROM t ORDER BY format SETTINGS max_threads = 1',
    'SELECT format(\'{} {}\', \'a\', \'b\')',
    'SELECT (1 FORMAT CSV)',
    'SELECT [format] FROM t',
    'SELECT 1 FORMAT',
    'SELECT 1 FORMAT ;',
    'SELECT 1 FORMAT "',
    "SELECT 'unterminated FORMAT CSV",
    'SELECT 1 /* unterminated FORMAT CSV',
    'SELECT 1; SELECT 2 FORMAT CSV',
  ];
  for (const sql of cases) {
    t.equal(formatClause(sql), undefined, JSON.stringify(sql));
    t.equal(requestedFormat(sql, null), 'TabSeparated', `${JSON.stringify(sql)} → default`);
  }
});

t.test('default_format parameter, then TabSeparated', async (t) => {
  t.equal(requestedFormat('SELECT 1', 'JSONEachRow'), 'JSONEachRow');
  t.equal(requestedFormat('SELECT 1', 'tsv'), 'TabSeparated');
  t.equal(requestedFormat('SELECT 1 FORMAT CSV', 'JSONEachRow'), 'CSV', 'the query wins (checked on 18.16)');
  t.equal(requestedFormat('SELECT 1', ''), 'TabSeparated', 'empty parameter = absent');
  t.equal(requestedFormat('SELECT 1', null), 'TabSeparated');
  t.equal(DEFAULT_FORMAT, 'TabSeparated');
});

t.test('aliases and case are normalized; unknown names pass through', async (t) => {
  const cases: Array<[string, string]> = [
    ['TSV', 'TabSeparated'],
    ['tsv', 'TabSeparated'],
    ['TSVRaw', 'TabSeparatedRaw'],
    ['Raw', 'TabSeparatedRaw'],
    ['TSVWithNames', 'TabSeparatedWithNames'],
    ['TSVWithNamesAndTypes', 'TabSeparatedWithNamesAndTypes'],
    ['TSVRawWithNames', 'TabSeparatedRawWithNames'],
    ['TSVRawWithNamesAndTypes', 'TabSeparatedRawWithNamesAndTypes'],
    ['JSONLines', 'JSONEachRow'],
    ['NDJSON', 'JSONEachRow'],
    ['ndjson', 'JSONEachRow'],
    ['PrettyNDJSON', 'PrettyJSONEachRow'],
    ['json', 'JSON'],
    ['jsoncompact', 'JSONCompact'],
    ['csvwithnames', 'CSVWithNames'],
    ['RowBinary', 'RowBinary'],
    ['NoSuchFormat', 'NoSuchFormat'],
    ['', ''],
  ];
  for (const [name, canonical] of cases) t.equal(normalizeFormatName(name), canonical, name);
  t.equal(requestedFormat('SELECT 1 FORMAT ndjson', null), 'JSONEachRow');
  t.equal(requestedFormat('SELECT 1 FORMAT NoSuchFormat', null), 'NoSuchFormat');
  t.ok(isKnownFormat('jsonstrings'));
  t.notOk(isKnownFormat('NoSuchFormat'));
});

// ---- properties

const FRAGMENTS = [
  ' ', '\n', '(', ')', '[', ']', '{', '}', ',', '.', ';', '--', '//', '# ', '#', '/*', '*/', "'", '"', '`', '\\', '$', '$$', '$a$',
  '\u2018', '\u2019', '\u201c', '\u201d', 'FORMAT', 'format', 'SETTINGS', 'JSON', 'CSV', 'TSV', 'x', 't', '1', 'SELECT', 'FROM',
];
const sqlish = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 30 }).map((parts) => parts.join(''));

t.test('property: never throws, always a string', async (t) => {
  fc.assert(
    fc.property(fc.oneof(sqlish, fc.string({ unit: 'binary', maxLength: 300 })), fc.option(fc.string({ maxLength: 30 })), (sql, param) => {
      const f = requestedFormat(sql, param);
      return typeof f === 'string';
    }),
    { numRuns: 3000 },
  );
  t.pass('ok');
});

// A query body made of tokens that cannot hide or form a FORMAT clause.
const cleanToken = fc.constantFrom(
  'SELECT', 'x', 'y', '1', '2.5', ',', '+', '*', '(x)', '[1, 2]', "'a FORMAT CSV'", '`FORMAT`', '"FORMAT"', '/* FORMAT CSV */',
  '-- FORMAT CSV\n', 'FROM', 't', 'WHERE', 'format(x)', 't.format', 'AS', 'a', '\n', ' ',
);
const cleanQuery = fc.array(cleanToken, { minLength: 1, maxLength: 20 }).map((parts) => `SELECT ${parts.join(' ')}`);
const formatName = fc.constantFrom('JSON', 'JSONEachRow', 'CSV', 'TSV', 'TabSeparatedWithNames', 'Pretty', 'RowBinary', 'jsoncompact');
const trailer = fc.constantFrom('', ';', ' ;\n', ' -- done', ' /* done */', '\n', ' SETTINGS max_threads = 1');

t.test('property: a trailing FORMAT clause is found after any clean query', async (t) => {
  fc.assert(
    fc.property(cleanQuery, formatName, trailer, fc.constantFrom('', '`', '"'), (q, name, tail, quote) => {
      const sql = `${q} FORMAT ${quote}${name}${quote}${tail}`;
      return requestedFormat(sql, 'Values') === normalizeFormatName(name);
    }),
    { numRuns: 2000 },
  );
  t.pass('ok');
});

t.test('property: without a clause the parameter (or TabSeparated) is used', async (t) => {
  fc.assert(
    fc.property(cleanQuery, fc.option(formatName), (q, param) => {
      return requestedFormat(q, param) === (param ? normalizeFormatName(param) : 'TabSeparated');
    }),
    { numRuns: 2000 },
  );
  t.pass('ok');
});
