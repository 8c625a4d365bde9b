import fc from 'fast-check';
import t from 'tap';
import { EMPTY_RESULT_FORMATS, emptyResult } from '../../../src/proxy/clickhouse/replies.js';

const REQUIRED = [
  'JSON', 'JSONCompact', 'JSONEachRow', 'JSONStrings', 'JSONCompactEachRow', 'TabSeparated', 'TabSeparatedRaw',
  'TabSeparatedWithNames', 'TabSeparatedWithNamesAndTypes', 'CSV', 'CSVWithNames', 'RowBinary', 'Null', 'Pretty',
  'PrettyCompact', 'PrettySpace', 'PrettyCompactMonoBlock', 'PrettyNoEscapes', 'Values',
];

t.test('every required format has an empty result', async (t) => {
  for (const format of REQUIRED) {
    const r = emptyResult(format);
    t.ok(r, format);
    t.equal(r?.format, format);
    t.ok(Buffer.isBuffer(r?.body));
    t.match(r?.contentType, /^[a-z]+\/[a-z0-9.+-]+/);
  }
});

t.test('JSON documents: meta/data empty, rows 0, statistics present', async (t) => {
  for (const format of ['JSON', 'JSONCompact', 'JSONStrings', 'JSONCompactStrings']) {
    const r = emptyResult(format);
    t.equal(r?.contentType, 'application/json; charset=UTF-8');
    t.same(JSON.parse(r?.body.toString('utf8') ?? ''), {
      meta: [],
      data: [],
      rows: 0,
      statistics: { elapsed: 0, rows_read: 0, bytes_read: 0 },
    }, format);
  }
  t.same(JSON.parse(emptyResult('JSONColumnsWithMetadata')?.body.toString() ?? ''), {
    meta: [],
    data: {},
    rows: 0,
    statistics: { elapsed: 0, rows_read: 0, bytes_read: 0 },
  });
  t.same(JSON.parse(emptyResult('JSONColumns')?.body.toString() ?? ''), {});
  t.same(JSON.parse(emptyResult('JSONCompactColumns')?.body.toString() ?? ''), []);
  t.same(JSON.parse(emptyResult('JSONObjectEachRow')?.body.toString() ?? ''), {});
});

t.test('line and text formats: empty bodies, ClickHouse content types', async (t) => {
  const expected: Array<[string, string]> = [
    ['JSONEachRow', 'text/plain; charset=UTF-8'],
    ['JSONCompactEachRow', 'text/plain; charset=UTF-8'],
    ['JSONStringsEachRow', 'application/x-ndjson; charset=UTF-8'],
    ['TabSeparated', 'text/tab-separated-values; charset=UTF-8'],
    ['TabSeparatedRaw', 'text/tab-separated-values; charset=UTF-8'],
    ['TabSeparatedWithNames', 'text/tab-separated-values; charset=UTF-8'],
    ['TabSeparatedWithNamesAndTypes', 'text/tab-separated-values; charset=UTF-8'],
    ['TSKV', 'text/tab-separated-values; charset=UTF-8'],
    ['CSV', 'text/csv; charset=UTF-8; header=absent'],
    ['CSVWithNames', 'text/csv; charset=UTF-8; header=present'],
    ['RowBinary', 'application/octet-stream'],
    ['Native', 'application/octet-stream'],
    ['Null', 'text/plain; charset=UTF-8'],
    ['Pretty', 'text/plain; charset=UTF-8'],
    ['Values', 'text/plain; charset=UTF-8'],
    ['Vertical', 'text/plain; charset=UTF-8'],
  ];
  for (const [format, contentType] of expected) {
    const r = emptyResult(format);
    t.equal(r?.contentType, contentType, format);
    t.equal(r?.body.length, 0, `${format}: empty body`);
  }
});

t.test('XML: a result document with no columns and no rows', async (t) => {
  const r = emptyResult('XML');
  t.equal(r?.contentType, 'application/xml; charset=UTF-8');
  const text = r?.body.toString() ?? '';
  t.match(text, /^<\?xml version='1\.0' encoding='UTF-8' \?>\n<result>/);
  t.match(text, /<columns>\n\t\t<\/columns>/);
  t.match(text, /<rows>0<\/rows>/);
  t.match(text, /<\/result>\n$/);
});

t.test('aliases and case resolve to the canonical entry; the same object every time', async (t) => {
  t.equal(emptyResult('TSV'), emptyResult('TabSeparated'));
  t.equal(emptyResult('tsvwithnames'), emptyResult('TabSeparatedWithNames'));
  t.equal(emptyResult('NDJSON'), emptyResult('JSONEachRow'));
  t.equal(emptyResult('json'), emptyResult('JSON'));
  t.equal(emptyResult('JSON'), emptyResult('JSON'), 'precomputed: identical object');
  t.equal(emptyResult('JSON')?.body, emptyResult('JSON')?.body, 'identical buffer');
  t.ok(Object.isFrozen(emptyResult('JSON')));
});

t.test('formats that need a schema, and unknown names: undefined', async (t) => {
  for (const format of ['Parquet', 'Arrow', 'ORC', 'Avro', 'Protobuf', 'CapnProto', 'Template', 'RowBinaryWithNamesAndTypes',
    'JSONCompactEachRowWithNames', 'NoSuchFormat', '', 'CustomSeparated']) {
    t.equal(emptyResult(format), undefined, format);
  }
});

t.test('EMPTY_RESULT_FORMATS lists exactly what emptyResult answers for', async (t) => {
  for (const f of EMPTY_RESULT_FORMATS) t.equal(emptyResult(f)?.format, f);
  t.ok(EMPTY_RESULT_FORMATS.length >= REQUIRED.length);
});

t.test('property: never throws; any answer is for a listed format', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...EMPTY_RESULT_FORMATS).map((f) => f.toUpperCase())), (name) => {
      const r = emptyResult(name);
      return r === undefined || EMPTY_RESULT_FORMATS.includes(r.format);
    }),
  );
  t.pass('ok');
});
