import zlib from 'node:zlib';
import fc from 'fast-check';
import t from 'tap';
import {
  CALLER_ERROR_CODES,
  SERVER_TROUBLE_CODES,
  classifyResponse,
  decodeBodyPrefix,
  exceptionCodeFromBody,
  exceptionCodeFromHeader,
  exceptionCodeName,
  isCallerErrorCode,
  isServerTroubleCode,
} from '../../../src/proxy/clickhouse/classify.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

// Bodies as the real servers write them (18.16 bodies copied from the Debian server here).
const OLD_SYNTAX = 'Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1: SELEC 1. Expected one of: ...';
const OLD_UNKNOWN_TABLE = "Code: 60, e.displayText() = DB::Exception: Table default.nosuchtable doesn't exist., e.what() = DB::Exception\n";
const OLD_MEMORY = 'Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded: would use 2.00 MiB';
const OLD_TIMEOUT = 'Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.000000031 seconds, maximum: 1';
const NEW_UNKNOWN_TABLE = 'Code: 60. DB::Exception: Unknown table expression identifier \'nope\' in scope SELECT * FROM nope. (UNKNOWN_TABLE) (version 24.8.1.1)\n';
const NEW_TOO_MANY_PARTS = 'Code: 252. DB::Exception: Too many parts (300 with average size of 1.00 KiB) in table. (TOO_MANY_PARTS)';

t.test('exceptionCodeFromBody: old and new layouts', async (t) => {
  t.equal(exceptionCodeFromBody(OLD_SYNTAX), 62);
  t.equal(exceptionCodeFromBody(b(OLD_UNKNOWN_TABLE)), 60);
  t.equal(exceptionCodeFromBody(b(NEW_UNKNOWN_TABLE)), 60);
  t.equal(exceptionCodeFromBody(NEW_TOO_MANY_PARTS), 252);
  t.equal(exceptionCodeFromBody('\n  Code: 241, x'), 241, 'leading whitespace');
  t.equal(exceptionCodeFromBody(new Uint8Array(b('Code: 1000, Poco'))), 1000);
});

t.test('exceptionCodeFromBody: anything else is undefined', async (t) => {
  for (const body of [
    '', 'Code:', 'Code: ', 'Code: 62', 'Code: 6', 'Code: x, ', 'code: 62, ', 'Code:62, ', 'Code:  62, ', 'Code: 62 ,',
    'Code: 1234567, too many digits', 'Error: Code: 62, ', '1\t2\n', '{"exception": "Code: 60. DB::Exception"}', 'Code: -1, ',
  ]) {
    t.equal(exceptionCodeFromBody(body), undefined, JSON.stringify(body));
    t.equal(exceptionCodeFromBody(b(body)), undefined, `${JSON.stringify(body)} (buffer)`);
  }
});

t.test('exceptionCodeFromHeader', async (t) => {
  t.equal(exceptionCodeFromHeader('60'), 60);
  t.equal(exceptionCodeFromHeader(' 241 '), 241);
  t.equal(exceptionCodeFromHeader(undefined), undefined);
  t.equal(exceptionCodeFromHeader(''), undefined);
  t.equal(exceptionCodeFromHeader('abc'), undefined);
  t.equal(exceptionCodeFromHeader('6x'), undefined);
  t.equal(exceptionCodeFromHeader('12345678'), undefined);
});

t.test('2xx without an exception code is a success, whatever the body says', async (t) => {
  t.equal(classifyResponse(200, undefined, undefined), 'success');
  t.equal(classifyResponse(200, undefined, b('Code: 241, looks like an error but is data')), 'success');
  t.equal(classifyResponse(204, undefined, b('')), 'success');
});

t.test('server trouble codes are failures, from the header or the body, whatever the status', async (t) => {
  t.equal(classifyResponse(500, '241', undefined), 'failure', 'memory limit');
  t.equal(classifyResponse(500, undefined, b(OLD_MEMORY)), 'failure', '18.16: code from the body');
  t.equal(classifyResponse(500, undefined, b(OLD_TIMEOUT)), 'failure', '18.16 timeout: 500');
  t.equal(classifyResponse(408, '159', b('Code: 159. DB::Exception: Timeout exceeded')), 'failure', 'current versions send 408 for 159');
  t.equal(classifyResponse(503, '209', undefined), 'failure', 'socket timeout');
  t.equal(classifyResponse(500, undefined, b(NEW_TOO_MANY_PARTS)), 'failure');
  t.equal(classifyResponse(500, '202', undefined), 'failure', 'too many simultaneous queries');
  t.equal(classifyResponse(500, '242', undefined), 'failure', 'table is read only (replica lost Keeper)');
  t.equal(classifyResponse(500, '999', undefined), 'failure', 'Keeper');
  t.equal(classifyResponse(200, '241', undefined), 'failure', 'exception header on a 200');
  t.equal(classifyResponse(500, '252', b(OLD_SYNTAX)), 'failure', 'the header wins over the body');
});

t.test('caller errors are ignored whatever the status', async (t) => {
  t.equal(classifyResponse(400, undefined, b(OLD_SYNTAX)), 'ignored', '18.16 syntax error: 400, no header');
  t.equal(classifyResponse(404, undefined, b(OLD_UNKNOWN_TABLE)), 'ignored');
  t.equal(classifyResponse(404, '60', b(NEW_UNKNOWN_TABLE)), 'ignored');
  t.equal(classifyResponse(500, undefined, b('Code: 43, e.displayText() = DB::Exception: Illegal types')), 'ignored', '18.16 sends 500 for type errors');
  t.equal(classifyResponse(500, undefined, b('Code: 164, e.displayText() = DB::Exception: Cannot insert into table in readonly mode')), 'ignored', 'READONLY is the caller');
  t.equal(classifyResponse(401, undefined, b('Code: 193, e.displayText() = DB::Exception: Wrong password for user default')), 'ignored');
  t.equal(classifyResponse(403, '516', undefined), 'ignored');
  t.equal(classifyResponse(403, '497', undefined), 'ignored');
  t.equal(classifyResponse(503, '62', undefined), 'ignored', 'a known caller code even behind a 503');
  t.equal(classifyResponse(200, '395', undefined), 'ignored', 'exception header on a 200, caller code');
  t.equal(classifyResponse(501, '48', undefined), 'ignored', 'NOT_IMPLEMENTED');
});

t.test('unrecognized codes are decided by the status', async (t) => {
  t.equal(classifyResponse(500, '49', undefined), 'ignored', 'a 500 with an unknown code: most likely the caller');
  t.equal(classifyResponse(500, undefined, b('Code: 1001, e.displayText() = std::exception')), 'ignored');
  t.equal(classifyResponse(400, '777', undefined), 'ignored');
  t.equal(classifyResponse(503, '76', undefined), 'failure', '503 is only used for trouble by ClickHouse');
  t.equal(classifyResponse(502, '1000', undefined), 'failure');
  t.equal(classifyResponse(504, '1000', undefined), 'failure');
  t.equal(classifyResponse(200, '49', undefined), 'ignored');
});

t.test('no code at all: 5xx, 408 and 429 are failures, other non-2xx ignored', async (t) => {
  t.equal(classifyResponse(500, undefined, undefined), 'failure');
  t.equal(classifyResponse(502, undefined, b('<html>Bad Gateway</html>')), 'failure');
  t.equal(classifyResponse(503, undefined, b('')), 'failure');
  t.equal(classifyResponse(408, undefined, undefined), 'failure');
  t.equal(classifyResponse(429, undefined, undefined), 'failure');
  t.equal(classifyResponse(400, undefined, b('garbage')), 'ignored');
  t.equal(classifyResponse(404, undefined, undefined), 'ignored');
  t.equal(classifyResponse(302, undefined, undefined), 'ignored');
});

t.test('compressed error bodies are inflated first (18.16 gzips some errors unasked)', async (t) => {
  const readonlyOverride = 'Code: 164, e.displayText() = DB::Exception: Setting \'readonly\' cannot be overrided in readonly mode';
  const gz = zlib.gzipSync(b(readonlyOverride));
  t.equal(classifyResponse(500, undefined, gz, 'gzip'), 'ignored', 'inflated: READONLY, a caller error');
  t.equal(classifyResponse(500, undefined, gz), 'failure', 'unread, the 500 alone would have counted');
  t.equal(classifyResponse(500, undefined, gz.subarray(0, 70), 'gzip'), 'ignored', 'a truncated gzip prefix still gives the code');
  t.equal(classifyResponse(500, undefined, zlib.deflateSync(b(OLD_MEMORY)), 'deflate'), 'failure');
  t.equal(classifyResponse(500, undefined, zlib.deflateRawSync(b(OLD_SYNTAX)), 'deflate'), 'ignored', 'raw deflate too');
  t.equal(classifyResponse(404, undefined, zlib.brotliCompressSync(b(OLD_UNKNOWN_TABLE)), 'br'), 'ignored');
  t.equal(classifyResponse(500, undefined, b(OLD_SYNTAX), 'identity'), 'ignored');
  t.equal(classifyResponse(500, undefined, b('\x28\xb5\x2f\xfd garbage'), 'zstd'), 'failure', 'unreadable encoding: the status decides');
  t.same(decodeBodyPrefix(gz.subarray(0, 30), 'gzip'), Buffer.alloc(0), 'too short to inflate anything: empty, no throw');
  t.equal(decodeBodyPrefix(b('not gzip at all'), 'gzip'), undefined);
  t.equal(decodeBodyPrefix(b('x'), 'zstd'), undefined);
  t.same(decodeBodyPrefix(b('plain'), undefined), b('plain'));
  const bomb = zlib.gzipSync(Buffer.alloc(1024 * 1024));
  t.equal(decodeBodyPrefix(bomb, 'gzip'), undefined, 'inflating is bounded');
});

t.test('code tables: disjoint, named, and the required members are there', async (t) => {
  for (const code of SERVER_TROUBLE_CODES) {
    t.ok(isServerTroubleCode(code), `${code}`);
    t.notOk(isCallerErrorCode(code), `${code} not also a caller error`);
    t.type(exceptionCodeName(code), 'string');
  }
  for (const code of CALLER_ERROR_CODES) {
    t.ok(isCallerErrorCode(code));
    t.type(exceptionCodeName(code), 'string');
  }
  for (const code of [159, 160, 202, 209, 210, 241, 242, 252, 279, 999]) t.ok(isServerTroubleCode(code), `${code} is trouble`);
  for (const code of [27, 47, 60, 62, 81, 115, 164, 192, 193, 456, 457, 497, 516]) t.notOk(isServerTroubleCode(code), `${code} is not trouble`);
  t.equal(exceptionCodeName(252), 'TOO_MANY_PARTS');
  t.equal(exceptionCodeName(62), 'SYNTAX_ERROR');
  t.notOk(isServerTroubleCode(-1));
  t.notOk(isServerTroubleCode(100000));
  t.equal(exceptionCodeName(5), undefined);
});

// ---- properties

t.test('property: exceptionCodeFromBody never throws', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const code = exceptionCodeFromBody(Buffer.from(bytes));
      return code === undefined || (Number.isInteger(code) && code >= 0);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
      const code = exceptionCodeFromBody(s);
      return code === undefined || Number.isInteger(code);
    }),
  );
  // near misses: strings built from the pieces of the real thing
  fc.assert(
    fc.property(fc.array(fc.constantFrom('Code', ':', ' ', '1', '62', ',', '.', 'e', '\n', 'DB'), { maxLength: 10 }), (parts) => {
      const code = exceptionCodeFromBody(parts.join(''));
      return code === undefined || Number.isInteger(code);
    }),
  );
  t.pass('ok');
});

t.test('property: generated error bodies round-trip', async (t) => {
  const ws = fc.constantFrom('', ' ', '\n', '\r\n', '\t ');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 999999 }), fc.constantFrom(',', '.'), ws, fc.string({ maxLength: 80 }), (code, sep, lead, rest) => {
      const text =
        sep === ',' ? `${lead}Code: ${code}, e.displayText() = DB::Exception: ${rest}` : `${lead}Code: ${code}. DB::Exception: ${rest}`;
      return exceptionCodeFromBody(text) === code && exceptionCodeFromBody(Buffer.from(text)) === code;
    }),
    { numRuns: 2000 },
  );
  // a prefix cut before the separator is never mistaken for a (different) code
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 999999 }), fc.constantFrom(',', '.'), (code, sep) => {
      const text = `Code: ${code}${sep} DB::Exception`;
      const sepAt = text.indexOf(sep, 6);
      for (let cut = 0; cut <= sepAt; cut++) {
        if (exceptionCodeFromBody(text.slice(0, cut)) !== undefined) return false;
      }
      return exceptionCodeFromBody(text.slice(0, sepAt + 1)) === code;
    }),
  );
  t.pass('ok');
});

t.test('property: classifyResponse is total and respects the code tables', async (t) => {
  const status = fc.integer({ min: 100, max: 599 });
  const header = fc.option(fc.oneof(fc.integer({ min: 0, max: 1100 }).map(String), fc.string({ maxLength: 8 })), { nil: undefined });
  const body = fc.option(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), { nil: undefined });
  const encoding = fc.option(fc.constantFrom('gzip', 'deflate', 'br', 'zstd', 'identity', ''), { nil: undefined });
  fc.assert(
    fc.property(status, header, body, encoding, (s, h, bd, enc) =>
      ['success', 'failure', 'ignored'].includes(classifyResponse(s, h, bd, enc)),
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(status, fc.constantFrom(...SERVER_TROUBLE_CODES), (s, code) => classifyResponse(s, String(code), undefined) === 'failure'),
  );
  fc.assert(
    fc.property(status, fc.constantFrom(...CALLER_ERROR_CODES), fc.boolean(), (s, code, inBody) =>
      inBody && (s < 200 || s > 299)
        ? classifyResponse(s, undefined, Buffer.from(`Code: ${code}, e.displayText() = x`)) === 'ignored'
        : classifyResponse(s, String(code), undefined) === 'ignored',
    ),
  );
  fc.assert(
    fc.property(fc.integer({ min: 200, max: 299 }), body, (s, bd) => classifyResponse(s, undefined, bd) === 'success'),
  );
  t.pass('ok');
});
