// breakwater's ClickHouse pieces against a REAL ClickHouse (the Debian 18.16
// here, started by the shared harness), and its canned replies against the
// real @clickhouse/client. Nothing here fakes ClickHouse: the tiny HTTP
// server at the end serves breakwater's own fallback bodies, which is what
// the sidecar does when the breaker is open.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@clickhouse/client';
import t from 'tap';
import { withClickHouse } from '../../services/index.js';
import {
  classifyResponse,
  decodeBodyPrefix,
  exceptionCodeFromBody,
  exceptionCodeFromHeader,
} from '../../../src/proxy/clickhouse/classify.js';
import { normalizeFormatName, requestedFormat } from '../../../src/proxy/clickhouse/format.js';
import { EMPTY_RESULT_FORMATS, emptyResult } from '../../../src/proxy/clickhouse/replies.js';
import { statementKind } from '../../../src/proxy/clickhouse/statement.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body exactly as sent (not decompressed). */
  body: Buffer;
}

/** One HTTP request with node:http: raw bytes, no automatic decompression. */
function request(
  baseUrl: string,
  opts: { method?: 'GET' | 'POST'; body?: string; params?: Record<string, string>; headers?: Record<string, string> },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  for (const [k, v] of Object.entries(opts.params ?? {})) url.searchParams.set(k, v);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
    req.end(opts.body);
  });
}

/** classifyResponse the way the proxy calls it: header, the first 256 bytes as received, Content-Encoding. */
function verdictOf(res: RawResponse) {
  const header = res.headers['x-clickhouse-exception-code'];
  const encoding = res.headers['content-encoding'];
  return classifyResponse(
    res.status,
    typeof header === 'string' ? header : undefined,
    res.body.subarray(0, 256),
    typeof encoding === 'string' ? encoding : undefined,
  );
}

/** The exception code of a real error answer, from the header or the (decoded) body. */
function codeOf(res: RawResponse): number | undefined {
  const header = res.headers['x-clickhouse-exception-code'];
  const fromHeader = exceptionCodeFromHeader(typeof header === 'string' ? header : undefined);
  if (fromHeader !== undefined) return fromHeader;
  const encoding = res.headers['content-encoding'];
  const text = decodeBodyPrefix(res.body, typeof encoding === 'string' ? encoding : undefined);
  return text === undefined ? undefined : exceptionCodeFromBody(text);
}

/**
 * A real empty-result body with the column information taken out, i.e. what
 * breakwater can reproduce without knowing the columns: JSON/XML column lists
 * emptied, the timing zeroed, header lines of the WithNames formats dropped.
 */
function withoutColumns(format: string, text: string): string {
  switch (format) {
    case 'JSON':
    case 'JSONCompact':
    case 'JSONStrings':
    case 'JSONCompactStrings':
      return text.replace(/"meta":\n\t\[\n[\s\S]*?\n\t\],/, '"meta":\n\t[\n\t],').replace(/"elapsed": [0-9.eE+-]+/, '"elapsed": 0');
    case 'XML':
      return text
        .replace(/<columns>\n[\s\S]*?\t\t<\/columns>/, '<columns>\n\t\t</columns>')
        .replace(/<elapsed>[^<]*<\/elapsed>/, '<elapsed>0</elapsed>');
    case 'TabSeparatedWithNames':
    case 'TabSeparatedRawWithNames':
    case 'CSVWithNames':
      return text.split('\n').slice(1).join('\n');
    case 'TabSeparatedWithNamesAndTypes':
    case 'TabSeparatedRawWithNamesAndTypes':
    case 'CSVWithNamesAndTypes':
      return text.split('\n').slice(2).join('\n');
    default:
      return text;
  }
}

const ch = await withClickHouse(t);

// Formats 18.16 must know (checked by hand before this test existed); the
// test fails if any of them is missing rather than silently skipping it.
const KNOWN_TO_18_16 = [
  'JSON', 'JSONCompact', 'JSONEachRow', 'TabSeparated', 'TabSeparatedRaw', 'TabSeparatedWithNames',
  'TabSeparatedWithNamesAndTypes', 'CSV', 'CSVWithNames', 'RowBinary', 'Native', 'Null', 'Pretty', 'PrettyCompact',
  'PrettyCompactMonoBlock', 'PrettyNoEscapes', 'PrettySpace', 'Values', 'Vertical', 'XML', 'TSKV',
];

t.test('empty results look like the real server\'s, minus the columns', async (t) => {
  const answered: string[] = [];
  for (const format of EMPTY_RESULT_FORMATS) {
    const ours = emptyResult(format);
    if (!ours) throw new Error(`no empty result for listed format ${format}`);
    const res = await request(ch.url, { body: `SELECT 1 AS x WHERE 0 FORMAT ${format}` });
    if (res.status === 404 && codeOf(res) === 73) {
      // UNKNOWN_FORMAT: a format only newer versions have. 18.16's answer is a caller error.
      t.equal(verdictOf(res), 'ignored', `${format}: unknown to 18.16 (404, Code 73) → ignored`);
      continue;
    }
    answered.push(format);
    t.equal(res.status, 200, `${format}: status`);
    t.equal(res.headers['content-type'], ours.contentType, `${format}: content type`);
    t.equal(res.headers['x-clickhouse-format'], undefined, `${format}: 18.16 sends no X-ClickHouse-Format`);
    t.equal(ours.body.toString('latin1'), withoutColumns(format, res.body.toString('latin1')), `${format}: body`);
  }
  for (const format of KNOWN_TO_18_16) t.ok(answered.includes(format), `${format} was compared`);
});

t.test('aliases: the server and normalizeFormatName agree', async (t) => {
  for (const alias of ['TSV', 'TSVRaw', 'TSVWithNames', 'TSVWithNamesAndTypes']) {
    const res = await request(ch.url, { body: `SELECT 1 AS x WHERE 0 FORMAT ${alias}` });
    const ours = emptyResult(alias);
    t.equal(res.status, 200, alias);
    t.equal(ours?.format, normalizeFormatName(alias));
    t.equal(res.headers['content-type'], ours?.contentType, `${alias}: content type`);
    t.equal(ours?.body.toString(), withoutColumns(normalizeFormatName(alias), res.body.toString()), `${alias}: body`);
  }
});

t.test('requestedFormat picks the format the server picked', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['SELECT 1 AS x WHERE 0 FORMAT JSONEachRow -- trailing comment', null],
    ['SELECT 1 AS x WHERE 0 FORMAT JSON /* trailing comment */', null],
    ["SELECT 'FORMAT CSV' AS x WHERE 0", null],
    ['SELECT 1 AS `FORMAT` WHERE 0', null],
    ['SELECT 1 AS format WHERE 0 FORMAT XML', null],
    ['SELECT 1 AS x WHERE 0', 'JSON'],
    ['SELECT 1 AS x WHERE 0', 'CSVWithNames'],
    ['SELECT 1 AS x WHERE 0 FORMAT CSV', 'JSON'],
    ['SELECT 1 AS x WHERE 0 FORMAT CSVWithNames;', null],
    ['/* FORMAT JSON */ SELECT 1 AS x WHERE 0 FORMAT\nRowBinary', null],
    ['SELECT 1 AS x WHERE 0 SETTINGS max_threads = 1 FORMAT JSONCompact', null],
    ['SELECT 1 AS x WHERE 0 FORMAT `TabSeparatedWithNames`', null],
    ['SELECT 1 AS x WHERE 0 FORMAT "Vertical"', null],
    ['(SELECT 1 AS x WHERE 0) FORMAT TSKV', null],
  ];
  for (const [sql, param] of cases) {
    const res = await request(ch.url, { body: sql, params: param ? { default_format: param } : {} });
    const format = requestedFormat(sql, param);
    const ours = emptyResult(format);
    const label = `${JSON.stringify(sql)}${param ? ` default_format=${param}` : ''} → ${format}`;
    t.equal(res.status, 200, label);
    t.equal(res.headers['content-type'], ours?.contentType, `${label}: content type`);
    t.equal(ours?.body.toString('latin1'), withoutColumns(format, res.body.toString('latin1')), `${label}: body`);
  }
});

t.test('statementKind agrees with what the server runs in readonly (GET) mode', async (t) => {
  await ch.query('CREATE TABLE IF NOT EXISTS conformance_t (x UInt8) ENGINE = Memory');
  // ClickHouse runs GET requests read-only: reads work, writes fail with Code 164 READONLY.
  const reads = [
    'SELECT 1',
    '(SELECT 1)',
    '/* comment */ -- comment\n ( SELECT 1 )',
    '// comment\nSELECT 1',
    'WITH 1 AS x SELECT x',
    'SHOW TABLES',
    'DESC system.one',
    'DESCRIBE TABLE system.one',
    'EXISTS TABLE system.one',
    'select 1',
  ];
  for (const sql of reads) {
    const res = await request(ch.url, { method: 'GET', params: { query: sql } });
    t.equal(res.status, 200, `${JSON.stringify(sql)} runs read-only`);
    t.equal(statementKind(sql), 'read', `${JSON.stringify(sql)} is a read`);
  }
  const writes: Array<[string, string]> = [
    ['INSERT INTO conformance_t VALUES (1)', 'write'],
    ['  insert into conformance_t values (1)', 'write'],
    ['CREATE TABLE conformance_u (x UInt8) ENGINE = Memory', 'other'],
    ['DROP TABLE conformance_t', 'other'],
    ['OPTIMIZE TABLE conformance_t', 'other'],
  ];
  for (const [sql, kind] of writes) {
    const res = await request(ch.url, { method: 'GET', params: { query: sql } });
    t.equal(codeOf(res), 164, `${JSON.stringify(sql)} is refused read-only (READONLY)`);
    t.equal(verdictOf(res), 'ignored', `${JSON.stringify(sql)}: READONLY is the caller's doing`);
    t.equal(statementKind(sql), kind, `${JSON.stringify(sql)} is ${kind}`);
  }
});

t.test('caller errors from the real server are ignored', async (t) => {
  const cases: Array<{ label: string; code: number; status: number; req: Parameters<typeof request>[1] }> = [
    { label: 'syntax error', code: 62, status: 400, req: { body: 'SELEC 1' } },
    { label: 'unknown table', code: 60, status: 404, req: { body: 'SELECT * FROM no_such_table' } },
    { label: 'unknown column', code: 47, status: 404, req: { body: 'SELECT no_such_column FROM system.one' } },
    { label: 'unknown database', code: 81, status: 404, req: { body: 'SELECT * FROM no_such_db.t' } },
    { label: 'unknown database (URL)', code: 81, status: 404, req: { body: 'SELECT 1', params: { database: 'no_such_db' } } },
    { label: 'wrong password', code: 193, status: 401, req: { body: 'SELECT 1', params: { user: 'default', password: 'wrong' } } },
    { label: 'unknown user', code: 192, status: 401, req: { body: 'SELECT 1', params: { user: 'nobody' } } },
    { label: 'unknown setting', code: 115, status: 404, req: { body: 'SELECT 1', params: { no_such_setting: '1' } } },
    { label: 'illegal argument types', code: 43, status: 500, req: { body: "SELECT 1 + 'a'" } },
    { label: 'cannot parse', code: 6, status: 400, req: { body: "SELECT toUInt8('a')" } },
    { label: 'readonly user writes', code: 164, status: 500, req: { body: 'CREATE TABLE ro (x UInt8) ENGINE = Memory', params: { user: 'readonly' } } },
    { label: 'unknown format', code: 73, status: 404, req: { body: 'SELECT 1 FORMAT NoSuchFormat' } },
  ];
  for (const { label, code, status, req } of cases) {
    const res = await request(ch.url, req);
    t.equal(res.status, status, `${label}: status`);
    t.equal(res.headers['x-clickhouse-exception-code'], undefined, `${label}: 18.16 sends no exception-code header`);
    t.equal(codeOf(res), code, `${label}: code from the body`);
    t.equal(verdictOf(res), 'ignored', `${label}: ignored`);
  }
});

t.test('18.16 gzips some errors unasked; the classifier reads through it', async (t) => {
  const gz = { 'accept-encoding': 'gzip' };
  const cases: Array<{ label: string; code: number; status: number; params: Record<string, string> }> = [
    { label: 'unknown setting', code: 115, status: 404, params: { no_such_setting: '1' } },
    { label: 'readonly override (a 500!)', code: 164, status: 500, params: { user: 'readonly', readonly: '0' } },
  ];
  for (const { label, code, status, params } of cases) {
    const res = await request(ch.url, { body: 'SELECT 1', params, headers: gz });
    t.equal(res.status, status, `${label}: status`);
    t.equal(res.headers['content-encoding'], 'gzip', `${label}: gzipped without enable_http_compression`);
    t.equal(exceptionCodeFromBody(res.body), undefined, `${label}: raw bytes are not text`);
    t.equal(codeOf(res), code, `${label}: code after inflating`);
    t.equal(verdictOf(res), 'ignored', `${label}: ignored`);
  }
});

t.test('server trouble from the real server is a failure', async (t) => {
  const memory = await request(ch.url, {
    body: 'SELECT count() FROM (SELECT number FROM numbers(1000000) GROUP BY number)',
    params: { max_memory_usage: '1000' },
  });
  t.equal(codeOf(memory), 241, 'MEMORY_LIMIT_EXCEEDED');
  t.equal(memory.status, 500);
  t.equal(verdictOf(memory), 'failure', 'memory limit → failure');

  const timeout = await request(ch.url, {
    body: 'SELECT sleepEachRow(0.5) FROM numbers(4)',
    params: { max_execution_time: '1', max_block_size: '1' },
  });
  t.equal(codeOf(timeout), 159, 'TIMEOUT_EXCEEDED');
  t.equal(timeout.status, 500, '18.16 sends 500 (current versions: 408)');
  t.equal(verdictOf(timeout), 'failure', 'timeout → failure');

  // TOO_MANY_SIMULTANEOUS_QUERIES: one slow query holds the only slot.
  let overload: RawResponse | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const slow = request(ch.url, { body: 'SELECT sleep(1)', params: { max_concurrent_queries_for_user: '1' } });
    await new Promise((r) => setTimeout(r, 300));
    overload = await request(ch.url, { body: 'SELECT 1', params: { max_concurrent_queries_for_user: '1' } });
    await slow;
    if (codeOf(overload) === 202) break;
  }
  t.ok(overload);
  if (overload) {
    t.equal(codeOf(overload), 202, 'TOO_MANY_SIMULTANEOUS_QUERIES');
    t.equal(verdictOf(overload), 'failure', 'overload → failure');
  }
});

t.test('successful answers are successes, even when the data looks like an error', async (t) => {
  const ok = await request(ch.url, { body: 'SELECT 1' });
  t.equal(ok.status, 200);
  t.equal(verdictOf(ok), 'success');
  const lookalike = await request(ch.url, { body: "SELECT 'Code: 241, e.displayText() = DB::Exception: not really'" });
  t.equal(lookalike.status, 200);
  t.match(lookalike.body.toString(), /^Code: 241,/);
  t.equal(verdictOf(lookalike), 'success');
});

t.test('@clickhouse/client reads the canned empty results as empty results', async (t) => {
  // breakwater's static fallback, served the way the proxy serves it.
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const sql = url.searchParams.get('query') ?? Buffer.concat(chunks).toString('utf8');
      const reply = emptyResult(requestedFormat(sql, url.searchParams.get('default_format')));
      if (!reply) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('no canned reply');
        return;
      }
      res.writeHead(200, { 'content-type': reply.contentType, 'x-breakwater-fallback': 'static' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const client = createClient({ url: `http://127.0.0.1:${port}` });
  t.teardown(() => client.close());

  const emptyJson = { meta: [], data: [], rows: 0, statistics: { elapsed: 0, rows_read: 0, bytes_read: 0 } };
  for (const format of ['JSON', 'JSONCompact', 'JSONStrings', 'JSONCompactStrings'] as const) {
    const rs = await client.query({ query: 'SELECT * FROM t', format });
    t.same(await rs.json(), emptyJson, `${format}.json()`);
  }
  const withMeta = await client.query({ query: 'SELECT * FROM t', format: 'JSONColumnsWithMetadata' });
  t.same(await withMeta.json(), { ...emptyJson, data: {} }, 'JSONColumnsWithMetadata.json()');
  const objects = await client.query({ query: 'SELECT * FROM t', format: 'JSONObjectEachRow' });
  t.same(await objects.json(), {}, 'JSONObjectEachRow.json()');
  for (const format of ['JSONEachRow', 'JSONStringsEachRow', 'JSONCompactEachRow', 'JSONCompactStringsEachRow', 'JSONEachRowWithProgress'] as const) {
    const rs = await client.query({ query: 'SELECT * FROM t', format });
    t.same(await rs.json(), [], `${format}.json()`);
    const streamed = await client.query({ query: 'SELECT * FROM t', format });
    let rows = 0;
    for await (const batch of streamed.stream()) rows += (batch as unknown[]).length;
    t.equal(rows, 0, `${format}.stream(): no rows`);
  }
  for (const format of [
    'TabSeparated', 'TabSeparatedRaw', 'TabSeparatedWithNames', 'TabSeparatedWithNamesAndTypes', 'CSV', 'CSVWithNames',
    'CSVWithNamesAndTypes',
  ] as const) {
    const rs = await client.query({ query: 'SELECT * FROM t', format });
    t.equal(await rs.text(), '', `${format}.text()`);
  }
  // the client's default format
  const dflt = await client.query({ query: 'SELECT * FROM t' });
  t.same(await dflt.json(), emptyJson, 'default format (JSON).json()');
});
