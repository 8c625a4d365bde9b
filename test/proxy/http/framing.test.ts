// HTTP/1.x framing for the byte relay: request and response heads, where a body ends
// (Content-Length, chunked, read-until-close), and what must be refused (smuggling shapes,
// oversized heads, malformed lines). Unit cases plus fast-check properties: a reference chunked
// encoder split into arbitrary pieces, generated requests/responses that round-trip, and
// arbitrary bytes that may only ever yield undefined, a head, or an HttpFramingError.
import t from 'tap';
import fc from 'fast-check';
import { deepStrictEqual, strictEqual } from 'node:assert';
import {
  ChunkedScanner,
  HttpFramingError,
  MAX_HEAD_BYTES,
  headEnd,
  headerValue,
  parseRequestHead,
  parseResponseHead,
  responseHasBody,
  type Head,
} from '../../../src/proxy/http/framing.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const req = (s: string, start = 0) => parseRequestHead(bytes(s), start);
const res = (s: string, start = 0) => parseResponseHead(bytes(s), start);

/** The HttpFramingError code fn throws, 'no error' when it returns; any other exception propagates. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpFramingError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Header pairs of a head, as [name, value] tuples. */
function pairs(head: Head): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < head.headers.length; i += 2) out.push([head.headers[i]!, head.headers[i + 1]!]);
  return out;
}

/** Feeds `buf` to a fresh scanner in one go from `start`; returns bytes consumed and done. */
function scanAll(buf: Buffer, start = 0): { used: number; done: boolean } {
  const s = new ChunkedScanner();
  const used = s.push(buf, start, buf.length);
  return { used, done: s.done };
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

t.test('request without a body', async (t) => {
  const s = 'GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n';
  const h = req(s)!;
  t.ok(h, 'complete head parses');
  t.equal(h.method, 'GET');
  t.equal(h.target, '/path?q=1');
  t.equal(h.http11, true);
  t.equal(h.contentLength, -1, 'no Content-Length is -1');
  t.equal(h.chunked, false);
  t.equal(h.close, false, 'HTTP/1.1 is persistent by default');
  t.equal(h.expectContinue, false);
  t.equal(h.upgrade, false);
  t.equal(h.end, s.length, 'end is just past CRLF CRLF');
  t.same(h.headers, ['Host', 'example.com', 'Accept', '*/*'], 'flat name/value list, names as sent');
  t.equal(headerValue(h, 'host'), 'example.com');
  t.equal(headerValue(h, 'accept'), '*/*');
  t.equal(headerValue(h, 'content-type'), undefined);
});

t.test('request line only, no header fields', async (t) => {
  const h = req('OPTIONS * HTTP/1.1\r\n\r\n')!;
  t.equal(h.method, 'OPTIONS');
  t.equal(h.target, '*');
  t.same(h.headers, []);
  t.equal(h.end, 'OPTIONS * HTTP/1.1\r\n\r\n'.length);
  const c = req('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')!;
  t.equal(c.target, 'example.com:443', 'authority-form target');
  const a = req('GET http://example.com/x HTTP/1.1\r\n\r\n')!;
  t.equal(a.target, 'http://example.com/x', 'absolute-form target');
});

t.test('POST with Content-Length: end points at the body', async (t) => {
  const s = 'POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world';
  const buf = bytes(s);
  const h = parseRequestHead(buf, 0)!;
  t.equal(h.method, 'POST');
  t.equal(h.contentLength, 11);
  t.equal(h.chunked, false);
  t.equal(buf.toString('latin1', h.end, h.end + h.contentLength), 'hello world');
  t.equal(h.end + h.contentLength, buf.length);
});

t.test('Content-Length values', async (t) => {
  const cl = (v: string) => req(`POST / HTTP/1.1\r\nContent-Length:${v}\r\n\r\n`)!.contentLength;
  t.equal(cl(' 0'), 0);
  t.equal(cl('0'), 0, 'no OWS at all');
  t.equal(cl(' \t 42 \t '), 42, 'OWS around the value is not part of it');
  t.equal(cl(' 007'), 7, 'leading zeros');
  t.equal(cl(' 999999999999999'), 999999999999999, '15 digits');
  t.equal(req('POST / HTTP/1.1\r\ncontent-LENGTH: 3\r\n\r\n')!.contentLength, 3, 'name is case-insensitive');
  for (const bad of ['', 'abc', '-1', '+5', '5 5', '1,1', '1, 1', '0x10', '1.0', '1e3', '9999999999999999']) {
    t.equal(codeOf(() => req(`POST / HTTP/1.1\r\nContent-Length: ${bad}\r\n\r\n`)), 'bad_content_length', `Content-Length ${JSON.stringify(bad)}`);
  }
});

t.test('duplicate and conflicting Content-Length', async (t) => {
  const dup = req('POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\ncontent-length: 5\r\n\r\n')!;
  t.equal(dup.contentLength, 5, 'identical duplicates are accepted');
  const dupZeros = req('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n')!;
  t.equal(dupZeros.contentLength, 5, 'duplicates equal as numbers are accepted');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n')), 'bad_content_length', 'conflict');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 10\r\n\r\n')), 'bad_content_length', 'conflict with 0');
});

t.test('chunked requests', async (t) => {
  const h = req('POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')!;
  t.equal(h.chunked, true);
  t.equal(h.contentLength, -1);
  t.equal(req('POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\n')!.chunked, true, 'case-insensitive name and value');
  t.equal(req('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')!.chunked, true, 'chunked last in a list');
  t.equal(req('POST / HTTP/1.1\r\nTransfer-Encoding: gzip ,\tchunked \r\n\r\n')!.chunked, true, 'OWS around list members');
});

t.test('Transfer-Encoding without chunked last is unsupported', async (t) => {
  for (const te of ['gzip', 'chunked, gzip', 'identity', 'deflate', '', 'chunkedx', 'x-chunked']) {
    t.equal(codeOf(() => req(`POST / HTTP/1.1\r\nTransfer-Encoding: ${te}\r\n\r\n`)), 'unsupported', `Transfer-Encoding: ${JSON.stringify(te)}`);
  }
  t.equal(
    codeOf(() => req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n')),
    'unsupported',
    'a later Transfer-Encoding field that is not chunked',
  );
  t.equal(codeOf(() => res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')), 'unsupported', 'responses too');
});

t.test('Transfer-Encoding together with Content-Length is refused (smuggling)', async (t) => {
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n')), 'bad_content_length', 'TE then CL');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n')), 'bad_content_length', 'CL then TE');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n')), 'bad_content_length', 'CL 0 with TE');
  t.equal(codeOf(() => res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n')), 'bad_content_length', 'response');
});

t.test('HEAD request', async (t) => {
  const h = req('HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n')!;
  t.equal(h.method, 'HEAD');
  t.equal(h.contentLength, -1);
  t.equal(h.chunked, false);
  const r = res('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n')!;
  t.equal(r.contentLength, 1234, 'a HEAD response still reports its Content-Length');
  t.equal(responseHasBody(h.method, r.status), false, 'but has no body');
});

t.test('persistence: HTTP/1.1 vs HTTP/1.0 and Connection', async (t) => {
  const close = (version: string, fields: string) => req(`GET / HTTP/${version}\r\nHost: a\r\n${fields}\r\n`)!.close;
  t.equal(close('1.1', ''), false, '1.1 default keep-alive');
  t.equal(close('1.0', ''), true, '1.0 default close');
  t.equal(close('1.1', 'Connection: close\r\n'), true);
  t.equal(close('1.1', 'Connection: CLOSE\r\n'), true, 'case-insensitive value');
  t.equal(close('1.1', 'connection: Close\r\n'), true, 'case-insensitive name');
  t.equal(close('1.1', 'Connection: keep-alive, close\r\n'), true, 'close in a list');
  t.equal(close('1.1', 'Connection: foo,close,bar\r\n'), true, 'no spaces in the list');
  t.equal(close('1.1', 'Connection: foo , \tclose\t\r\n'), true, 'OWS in the list');
  t.equal(close('1.1', 'Connection: foo\r\nConnection: close\r\n'), true, 'close in a second Connection field');
  t.equal(close('1.1', 'Connection: keep-alive\r\n'), false);
  t.equal(close('1.1', 'Connection: closed\r\n'), false, 'a token that only starts with close');
  t.equal(close('1.1', 'Connection: x-close\r\n'), false);
  t.equal(close('1.1', 'X-Connection: close\r\n'), false, 'another header with the same value');
  t.equal(close('1.0', 'Connection: keep-alive\r\n'), false, '1.0 with keep-alive');
  t.equal(close('1.0', 'Connection: Keep-Alive\r\n'), false, '1.0 with Keep-Alive (case-insensitive)');
  t.equal(close('1.0', 'Connection: Upgrade, Keep-Alive\r\n'), false, '1.0 keep-alive in a list');
  t.equal(close('1.0', 'Connection: keep-alive-ish\r\n'), true, '1.0 with an unrelated token');
  t.equal(close('1.0', 'Keep-Alive: timeout=5\r\n'), true, 'the Keep-Alive header alone does not keep 1.0 alive');
  t.equal(req('GET / HTTP/1.0\r\n\r\n')!.http11, false);
});

t.test('Expect: 100-continue', async (t) => {
  const exp = (fields: string) => req(`POST / HTTP/1.1\r\nContent-Length: 3\r\n${fields}\r\n`)!.expectContinue;
  t.equal(exp(''), false);
  t.equal(exp('Expect: 100-continue\r\n'), true);
  t.equal(exp('expect: 100-Continue\r\n'), true, 'case-insensitive');
  t.equal(exp('Expect:   100-continue  \r\n'), true, 'OWS');
  t.equal(exp('Expect: 100-continue-ish\r\n'), false);
  t.equal(exp('Expect: 200-ok\r\n'), false);
  t.equal(exp('X-Expect: 100-continue\r\n'), false);
  t.equal(exp('Expect: foo\r\nExpect: 100-continue\r\n'), true, 'in a later Expect field');
});

t.test('Connection: upgrade', async (t) => {
  const h = req('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')!;
  t.equal(h.upgrade, true);
  t.equal(h.close, false);
  t.equal(headerValue(h, 'upgrade'), 'websocket');
  t.equal(req('GET / HTTP/1.1\r\nConnection: keep-alive, upgrade\r\nUpgrade: h2c\r\n\r\n')!.upgrade, true, 'in a list');
  t.equal(req('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n')!.upgrade, false, 'Upgrade without Connection: upgrade');
  t.equal(req('GET / HTTP/1.1\r\nConnection: close, upgrade\r\n\r\n')!.close, true, 'both close and upgrade');
});

t.test('empty lines before the request line are skipped', async (t) => {
  const s = '\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n';
  const h = req(s)!;
  t.equal(h.method, 'GET');
  t.equal(h.target, '/');
  t.equal(h.end, s.length);
  t.equal(req('\r\n'), undefined, 'one empty line: incomplete');
  t.equal(req('\r\n\r\n'), undefined, 'two empty lines: incomplete, not an empty head');
  t.equal(req('\r\n\r'), undefined);
  t.equal(req('\r\nGET / HTTP/1.1\r\n'), undefined);
  t.equal(codeOf(() => req('\n\nGET / HTTP/1.1\r\n\r\n')), 'bad_request_line', 'bare LF lines are not skipped');
  t.equal(codeOf(() => req(' \r\nGET / HTTP/1.1\r\n\r\n')), 'bad_request_line', 'a whitespace line is not empty');
});

t.test('incomplete heads return undefined at every prefix', async (t) => {
  const s = 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n';
  let undef = 0;
  for (let k = 0; k < s.length; k++) if (req(s.slice(0, k)) === undefined) undef++;
  t.equal(undef, s.length, 'every strict prefix is incomplete');
  t.equal(req(s)!.end, s.length);
  t.equal(req(''), undefined, 'empty buffer');
  t.equal(req('GET / HTTP/1.1\r\n\r'), undefined);
  t.equal(req('GET / HTTP/1.1\n\n'), undefined, 'bare LF LF does not end a head');
  t.equal(res('HTTP/1.1 200 OK\r\n'), undefined);
  t.equal(res(''), undefined);
});

t.test('end is exactly past the first CRLF CRLF, even when the body starts with CRLFs', async (t) => {
  const head = 'POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n';
  const buf = bytes(head + '\r\n\r\nGET / HTTP/1.1\r\n\r\n');
  const h = parseRequestHead(buf, 0)!;
  t.equal(h.end, head.length);
  t.equal(buf.toString('latin1', h.end - 4, h.end), '\r\n\r\n');
  t.equal(headEnd(buf, 0), head.length, 'headEnd agrees');
  t.equal(headEnd(bytes('abc'), 0), -1);
  t.equal(headEnd(buf, head.length), head.length + 4, 'headEnd from an offset');
});

t.test('pipelined requests in one buffer, parsed from non-zero start offsets', async (t) => {
  const r1 = 'POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello';
  const r2 = 'POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
  const r2body = '3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const r3 = '\r\nGET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
  const buf = bytes(r1 + r2 + r2body + r3);

  const h1 = parseRequestHead(buf, 0)!;
  t.equal(h1.target, '/one');
  const next2 = h1.end + h1.contentLength;
  t.equal(next2, r1.length);

  const h2 = parseRequestHead(buf, next2)!;
  t.equal(h2.target, '/two');
  t.equal(h2.end, r1.length + r2.length, 'end is absolute, not relative to start');
  t.equal(h2.chunked, true);
  const sc = new ChunkedScanner();
  const used = sc.push(buf, h2.end, buf.length);
  t.equal(used, r2body.length, 'the chunked body stops before the next request');
  t.equal(sc.done, true);

  const h3 = parseRequestHead(buf, h2.end + used)!;
  t.equal(h3.target, '/three', 'the empty line between messages is skipped');
  t.equal(h3.close, true);
  t.equal(h3.end, buf.length);

  t.equal(parseRequestHead(buf, buf.length), undefined, 'start at the end: nothing yet');
  t.equal(parseRequestHead(buf.subarray(0, r1.length + 10), r1.length), undefined, 'partial second head');
});

t.test('malformed request lines', async (t) => {
  const bad = [
    'GET /  HTTP/1.1',
    'GET  / HTTP/1.1',
    'GET / HTTP/1.2',
    'GET / HTTP/2.0',
    'GET / HTTP/1.10',
    'GET / HTTP/1.',
    'GET / HTTP/1',
    'GET / http/1.1',
    'GET /',
    'GET',
    '/ HTTP/1.1',
    ' GET / HTTP/1.1',
    'GET / HTTP/1.1 ',
    'GET\t/ HTTP/1.1',
    'GET /\tHTTP/1.1',
    'G(T / HTTP/1.1',
    'GET@ / HTTP/1.1',
    'G\x80T / HTTP/1.1',
    'GET / a HTTP/1.1',
    'GET /\x00 HTTP/1.1\x00',
    'GET / HTTP/1.1\rX',
    'GET / HTTP/1.1\nHost: a',
    'GET /\xa0x HTTP/1.1',
    'HTTP/1.1 200 OK',
    'Host: a',
  ];
  for (const line of bad) t.equal(codeOf(() => req(`${line}\r\n\r\n`)), 'bad_request_line', JSON.stringify(line));
  t.equal(codeOf(() => req('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), 'no error', 'control');
  t.equal(req("!#$%&'*+-.^_`|~09azAZ /x HTTP/1.1\r\n\r\n")!.method, "!#$%&'*+-.^_`|~09azAZ", 'any token is a method');
  t.equal(req('get / HTTP/1.1\r\n\r\n')!.method, 'get', 'methods are case-sensitive and kept as sent');
});

t.test('malformed header lines and invalid header names', async (t) => {
  const bad = [
    'NoColon',
    ': empty name',
    ':',
    'Bad Name: x',
    'Host : spaced-colon',
    'Host\t: tab-before-colon',
    ' Folded: x',
    '\tFolded: x',
    'Na(me: x',
    'Na"me: x',
    'Na/me: x',
    'Na@me: x',
    'Na{me}: x',
    'N\x80me: x',
    'N\xa0me: x',
    'N\x00me: x',
    '[x]: y',
  ];
  for (const line of bad) t.equal(codeOf(() => req(`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`)), 'bad_header', JSON.stringify(line));
  t.equal(codeOf(() => req('GET / HTTP/1.1\r\nX: a\r\n continued\r\n\r\n')), 'bad_header', 'obs-fold continuation line');
  t.equal(codeOf(() => res('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n')), 'bad_header', 'responses too');
  const h = req("GET / HTTP/1.1\r\nX-Odd!#$%&'*+-.^_`|~: v\r\nEmpty:\r\nColons: a:b:c\r\n\r\n")!;
  t.same(pairs(h), [
    ["X-Odd!#$%&'*+-.^_`|~", 'v'],
    ['Empty', ''],
    ['Colons', 'a:b:c'],
  ], 'token names, empty values and colons in values');
});

t.test('header field values with CR, LF or NUL are refused (bare-LF smuggling)', async (t) => {
  // A backend that accepts a bare LF as a line end would see a Transfer-Encoding field here that
  // the relay does not see, and the two would disagree on where the body ends.
  t.equal(
    codeOf(() => req('POST / HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n')),
    'bad_header',
    'bare LF inside a value',
  );
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nX: a\rContent-Length: 5\r\n\r\n')), 'bad_header', 'bare CR inside a value');
  t.equal(codeOf(() => req('GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n')), 'bad_header', 'NUL inside a value');
  // "X: a\n" + CRLF is the end of the head for a lenient backend; here it is part of a longer head.
  t.equal(req('GET / HTTP/1.1\r\nX: a\n\r\n'), undefined, 'LF CRLF does not end a head');
  t.equal(codeOf(() => req('GET / HTTP/1.1\r\nX: a\n\r\nY: b\r\n\r\n')), 'bad_header', 'bare LF ending a value');
  t.equal(codeOf(() => res('HTTP/1.1 200 OK\r\nX: a\nContent-Length: 5\r\n\r\n')), 'bad_header', 'responses too');
  const h = req('GET / HTTP/1.1\r\nX: a\tb c\x7f\x80\xff\r\n\r\n')!;
  t.equal(headerValue(h, 'x'), 'a\tb c\x7f\x80\xff', 'HTAB, SP and obs-text inside a value are fine');
});

t.test('only SP and HTAB are trimmed from values', async (t) => {
  // latin1 0xA0 (NBSP) and 0x85 (NEL) are not OWS; a backend would see "chunked\xa0", not chunked.
  const h = req('GET / HTTP/1.1\r\nX: \t a b \t \r\nY: \xa0v\xa0\r\nZ: \x85v\x85\r\n\r\n')!;
  t.same(pairs(h), [
    ['X', 'a b'],
    ['Y', '\xa0v\xa0'],
    ['Z', '\x85v\x85'],
  ]);
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nContent-Length: 5\xa0\r\n\r\n')), 'bad_content_length', 'Content-Length with NBSP');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nContent-Length: \xa05\r\n\r\n')), 'bad_content_length', 'Content-Length with leading NBSP');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\xa0\r\n\r\n')), 'unsupported', 'chunked with NBSP is not chunked');
  t.equal(codeOf(() => req('POST / HTTP/1.1\r\nTransfer-Encoding: gzip,\xa0chunked\r\n\r\n')), 'unsupported', 'list member with NBSP');
  t.equal(req('GET / HTTP/1.1\r\nConnection: \xa0close\r\n\r\n')!.close, false, 'NBSP close is not close');
});

t.test('heads larger than MAX_HEAD_BYTES', async (t) => {
  const line = 'GET / HTTP/1.1\r\nX: ';
  const complete = (size: number) => line + 'a'.repeat(size - line.length - 4) + '\r\n\r\n';
  const incomplete = (size: number) => line + 'a'.repeat(size - line.length);
  t.equal(complete(MAX_HEAD_BYTES).length, MAX_HEAD_BYTES);

  t.equal(req(complete(MAX_HEAD_BYTES))!.end, MAX_HEAD_BYTES, 'a complete head of exactly the limit is fine');
  t.equal(codeOf(() => req(complete(MAX_HEAD_BYTES + 1))), 'head_too_large', 'a complete head one byte over');
  t.equal(req(incomplete(MAX_HEAD_BYTES)), undefined, 'an incomplete head of exactly the limit waits');
  t.equal(codeOf(() => req(incomplete(MAX_HEAD_BYTES + 1))), 'head_too_large', 'an incomplete head one byte over');
  t.equal(codeOf(() => req(incomplete(MAX_HEAD_BYTES * 2))), 'head_too_large', 'an incomplete head far over');

  const junk = 'x'.repeat(1000);
  t.equal(parseRequestHead(bytes(junk + complete(MAX_HEAD_BYTES)), junk.length)!.end, junk.length + MAX_HEAD_BYTES, 'measured from start');
  t.equal(codeOf(() => parseRequestHead(bytes(junk + complete(MAX_HEAD_BYTES + 1)), junk.length)), 'head_too_large', 'complete, from start');
  t.equal(parseRequestHead(bytes(junk + incomplete(MAX_HEAD_BYTES)), junk.length), undefined, 'incomplete at the limit, from start');
  t.equal(codeOf(() => parseRequestHead(bytes(junk + incomplete(MAX_HEAD_BYTES + 1)), junk.length)), 'head_too_large', 'incomplete, from start');

  const body = 'b'.repeat(MAX_HEAD_BYTES);
  const withBody = complete(1000) + body;
  t.equal(req(withBody)!.end, 1000, 'a small head followed by a large body is fine');

  // Responses: same limit, complete and incomplete.
  const sline = 'HTTP/1.1 200 OK\r\nX: ';
  const rcomplete = (size: number) => sline + 'a'.repeat(size - sline.length - 4) + '\r\n\r\n';
  const rincomplete = (size: number) => sline + 'a'.repeat(size - sline.length);
  t.equal(res(rcomplete(MAX_HEAD_BYTES))!.end, MAX_HEAD_BYTES, 'response at the limit');
  t.equal(codeOf(() => res(rcomplete(MAX_HEAD_BYTES + 1))), 'head_too_large', 'complete response head one byte over');
  t.equal(res(rincomplete(MAX_HEAD_BYTES)), undefined, 'incomplete response at the limit');
  t.equal(codeOf(() => res(rincomplete(MAX_HEAD_BYTES + 1))), 'head_too_large', 'incomplete response head one byte over');
  t.equal(codeOf(() => parseResponseHead(bytes(junk + rcomplete(MAX_HEAD_BYTES + 1)), junk.length)), 'head_too_large', 'complete response, from start');
});

t.test('an endless run of empty lines before a request counts against the head limit', async (t) => {
  // Otherwise the caller would buffer CRLFs forever: every call skips them and returns undefined.
  t.equal(codeOf(() => req('\r\n'.repeat(MAX_HEAD_BYTES / 2 + 1))), 'head_too_large');
  t.equal(req('\r\n'.repeat(100)), undefined, 'a few empty lines just wait');
  t.equal(req('\r\n'.repeat(100) + 'GET / HTTP/1.1\r\n\r\n')!.end, 200 + 18);
});

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

t.test('status lines', async (t) => {
  const ok = res('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi')!;
  t.equal(ok.status, 200);
  t.equal(ok.reason, 'OK');
  t.equal(ok.http11, true);
  t.equal(ok.contentLength, 2);
  t.equal(ok.end, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'.length);
  t.equal(res('HTTP/1.1 404 Not Found\r\n\r\n')!.reason, 'Not Found', 'reason with spaces');
  t.equal(res('HTTP/1.1 200\r\n\r\n')!.reason, '', 'no reason, no space');
  t.equal(res('HTTP/1.1 200 \r\n\r\n')!.reason, '', 'empty reason after the space');
  t.equal(res('HTTP/1.1 200  two  spaces \r\n\r\n')!.reason, ' two  spaces ', 'reason kept as sent');
  t.equal(res('HTTP/1.1 500 \xe9chec\t!\r\n\r\n')!.reason, '\xe9chec\t!', 'obs-text and HTAB in a reason');
  t.equal(res('HTTP/1.0 200 OK\r\n\r\n')!.http11, false);
  t.equal(res('HTTP/1.1 599 X\r\n\r\n')!.status, 599);
  t.equal(res('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')!.status, 101);

  const bad = [
    'HTTP/1.1 20 OK',
    'HTTP/1.1 2000 OK',
    'HTTP/1.1 200OK',
    'HTTP/1.1  200 OK',
    'HTTP/1.1 OK',
    'HTTP/1.2 200 OK',
    'HTTP/2 200 OK',
    'HTTP/2.0 200 OK',
    'http/1.1 200 OK',
    ' HTTP/1.1 200 OK',
    'HTTP/1.1\t200 OK',
    'HTTP/1.1 2x0 OK',
    'HTTP/1.1 200 OK\rX',
    'HTTP/1.1 200 OK\nContent-Length: 5',
    'GET / HTTP/1.1',
    '',
  ];
  for (const line of bad) t.equal(codeOf(() => res(`${line}\r\n\r\n`)), 'bad_status_line', JSON.stringify(line));
  t.equal(codeOf(() => res('\r\nHTTP/1.1 200 OK\r\n\r\n')), 'bad_status_line', 'no empty lines are skipped before a status line');
});

t.test('response framing: chunked, Content-Length, read-until-close', async (t) => {
  const chunked = res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')!;
  t.equal(chunked.chunked, true);
  t.equal(chunked.contentLength, -1);
  const sized = res('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')!;
  t.equal(sized.contentLength, 0);
  t.equal(sized.chunked, false);
  const neither = res('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n')!;
  t.equal(neither.contentLength, -1, 'neither: the body runs until the connection closes');
  t.equal(neither.chunked, false);
  t.equal(codeOf(() => res('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')), 'bad_content_length');
  t.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n')!.contentLength, 2);
});

t.test('response persistence', async (t) => {
  t.equal(res('HTTP/1.1 200 OK\r\n\r\n')!.close, false);
  t.equal(res('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n')!.close, true);
  t.equal(res('HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\n\r\n')!.close, true);
  t.equal(res('HTTP/1.0 200 OK\r\n\r\n')!.close, true);
  t.equal(res('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n')!.close, false);
  t.equal(res('HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n')!.close, true);
});

t.test('responses at a non-zero start offset (pipelined responses)', async (t) => {
  const a = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc';
  const b = 'HTTP/1.1 204 No Content\r\n\r\n';
  const c = 'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n';
  const d = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n';
  const buf = bytes(a + b + c + d);
  const ha = parseResponseHead(buf, 0)!;
  t.equal(ha.status, 200);
  const hb = parseResponseHead(buf, ha.end + ha.contentLength)!;
  t.equal(hb.status, 204);
  t.equal(responseHasBody('GET', hb.status), false);
  const hc = parseResponseHead(buf, hb.end)!;
  t.equal(hc.status, 304);
  t.equal(hc.contentLength, 99, 'reported, but a 304 has no body');
  t.equal(responseHasBody('GET', hc.status), false);
  const hd = parseResponseHead(buf, hc.end)!;
  t.equal(hd.chunked, true);
  t.same(scanAll(buf, hd.end), { used: buf.length - hd.end, done: true });
});

t.test('responseHasBody', async (t) => {
  for (const s of [100, 101, 102, 103, 199]) t.equal(responseHasBody('GET', s), false, `${s}`);
  t.equal(responseHasBody('GET', 204), false, '204');
  t.equal(responseHasBody('POST', 304), false, '304');
  for (const s of [200, 201, 202, 203, 205, 206, 301, 302, 400, 404, 500, 503]) t.equal(responseHasBody('GET', s), true, `${s}`);
  for (const s of [100, 200, 204, 304, 404, 500]) t.equal(responseHasBody('HEAD', s), false, `HEAD ${s}`);
  t.equal(responseHasBody('head', 200), true, 'method names are case-sensitive: "head" is not HEAD');
  fc.assert(
    fc.property(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 999 }), (method, status) => {
      const expected = method !== 'HEAD' && !(status >= 100 && status <= 199) && status !== 204 && status !== 304;
      return responseHasBody(method, status) === expected;
    }),
    { numRuns: 2000 },
  );
  t.pass('responseHasBody matches RFC 9112 §6.3 for arbitrary methods and statuses');
});

t.test('headerValue', async (t) => {
  const h = req('GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-AB: 3\r\n\r\n')!;
  t.equal(headerValue(h, 'x-a'), '1', 'the first of several');
  t.equal(headerValue(h, 'x-ab'), '3', 'a longer name with the same prefix');
  t.equal(headerValue(h, 'x'), undefined);
  t.equal(headerValue(h, 'x-abc'), undefined);
  t.same(h.headers, ['X-A', '1', 'x-a', '2', 'X-AB', '3'], 'every field kept in order');
});

// ---------------------------------------------------------------------------------------------
// ChunkedScanner
// ---------------------------------------------------------------------------------------------

t.test('chunked: simple bodies', async (t) => {
  const whole = (body: string, what: string, after = '') => t.same(scanAll(bytes(body + after)), { used: body.length, done: true }, what);
  whole('0\r\n\r\n', 'empty body');
  whole('5\r\nhello\r\n0\r\n\r\n', 'one chunk');
  whole('5\r\nhello\r\n0\r\n\r\n', 'stops at the end of the body', 'GET / HTTP/1.1\r\n\r\n');
  whole('A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n', 'hex, both cases');
  whole('5;a=b;c="d e"\r\nhello\r\n0;last\r\n\r\n', 'extensions');
  whole('5 ;a=b\r\nhello\r\n0\t;x\r\n\r\n', 'BWS before an extension');
  whole('0\r\nX-Sum: 1\r\nY: 2\r\n\r\n', 'trailers', 'NEXT');
  whole('000000000005\r\nhello\r\n000\r\n\r\n', '12 hex digits, leading zeros');
  whole('5\r\n\r\n0\r\n\r\n0\r\n\r\n', 'data that looks like framing', '0\r\n\r\n');
  t.same(scanAll(bytes('5\r\nhel')), { used: 6, done: false }, 'incomplete: everything consumed, not done');
  t.same(scanAll(bytes('ffffffffffff\r\nabc')), { used: 17, done: false }, 'a huge chunk just keeps consuming');

  const s = new ChunkedScanner();
  const buf = bytes('0\r\n\r\nrest');
  t.equal(s.push(buf, 0, buf.length), 5);
  t.equal(s.push(buf, 5, buf.length), 0, 'after done nothing is consumed');
  t.equal(s.done, true);
  const e = new ChunkedScanner();
  t.equal(e.push(buf, 2, 2), 0, 'an empty range');
  t.equal(e.done, false);
});

t.test('chunked: byte at a time', async (t) => {
  const body = bytes('3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n');
  const buf = Buffer.concat([body, bytes('HTTP/1.1 200 OK\r\n\r\n')]);
  const s = new ChunkedScanner();
  let total = 0;
  let doneAt = -1;
  for (let i = 0; i < buf.length; i++) {
    total += s.push(buf, i, i + 1);
    if (s.done && doneAt < 0) doneAt = i + 1;
  }
  t.equal(total, body.length);
  t.equal(doneAt, body.length, 'done exactly after the last byte of the body');
});

t.test('chunked: malformed bodies throw bad_chunk', async (t) => {
  const bad: [string, string][] = [
    ['g\r\n', 'bad hex'],
    ['5g\r\n', 'bad hex after a digit'],
    ['\r\n', 'empty size'],
    [';ext\r\n', 'extension without size'],
    [' 5\r\n', 'leading space'],
    ['-5\r\n', 'negative'],
    ['0x5\r\n', '0x prefix'],
    ['5\nhello\r\n0\r\n\r\n', 'bare LF after the size'],
    ['5\rhello', 'CR not followed by LF after the size'],
    ['5;ext\nhello\r\n0\r\n\r\n', 'bare LF after an extension'],
    ['5\r\nhelloX\r\n0\r\n\r\n', 'data longer than the size'],
    ['5\r\nhello\n0\r\n\r\n', 'bare LF after data'],
    ['5\r\nhello\rX', 'CR without LF after data'],
    ['5\r\nhell\r\n0\r\n\r\n', 'data shorter than the size'],
    ['0\r\n\n', 'bare LF ending the body'],
    ['0\r\n\r\r\n', 'CR CR at the end'],
    ['0\r\n\rX', 'CR then not LF at the end'],
    ['0\r\nX: a\rY: b\r\n\r\n', 'bare CR in a trailer'],
    ['0\r\nX: a\nGET /admin HTTP/1.1\r\n\r\n', 'bare LF ending a trailer line'],
    ['0\r\nX: a\n\r\n', 'bare LF then CRLF'],
    ['0000000000000\r\n\r\n', '13 hex digits, even zeros'],
    ['1000000000000\r\n', '13 hex digits'],
    ['fffffffffffffffffffff\r\n', 'far too many digits'],
  ];
  for (const [body, what] of bad) t.equal(codeOf(() => scanAll(bytes(body))), 'bad_chunk', what);
  // The same failures when the bytes arrive one at a time.
  for (const [body, what] of bad) {
    const s = new ChunkedScanner();
    const buf = bytes(body);
    t.equal(
      codeOf(() => {
        for (let i = 0; i < buf.length; i++) s.push(buf, i, i + 1);
      }),
      'bad_chunk',
      `${what}, byte at a time`,
    );
  }
});

// A reference chunked encoder for the properties below.
const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 10 });
const VCHAR_OBS = [...Array(0x7e - 0x21 + 1).keys()].map((i) => String.fromCharCode(0x21 + i)).concat([...Array(0x80).keys()].map((i) => String.fromCharCode(0x80 + i)));
/** A field value as it must parse: field-vchars with SP/HTAB inside, none at the edges. */
const fieldValue = fc
  .string({ unit: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VCHAR_OBS) }, { weight: 1, arbitrary: fc.constantFrom(' ', '\t') }), maxLength: 20 })
  .map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
const ows = fc.constantFrom('', ' ', '\t', '  ', ' \t ');
const qdtext = fc.string({ unit: fc.constantFrom(...VCHAR_OBS.filter((c) => c !== '"' && c !== '\\'), ' ', '\t'), maxLength: 8 });
const chunkExt = fc
  .array(fc.record({ bws: fc.constantFrom('', ' ', '\t'), name: token, value: fc.option(fc.oneof(token, qdtext.map((q) => `"${q}"`))) }), { maxLength: 3 })
  .map((exts) => exts.map((e) => `${e.bws};${e.name}${e.value === null ? '' : `=${e.value}`}`).join(''));
const chunkData = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '0\r\n\r\n', '\r\n0\r\n\r\n', '\r', '\n', 'GET / HTTP/1.1\r\n\r\n').map((s) => new Uint8Array(bytes(s))) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 5000 }).map((n) => new Uint8Array(n).fill(0x61)) },
);
const chunkSpec = fc.record({ data: chunkData, ext: chunkExt, zeros: fc.nat(4), upper: fc.boolean() });
const chunkedBody = fc.record({
  chunks: fc.array(chunkSpec, { maxLength: 6 }),
  last: fc.record({ ext: chunkExt, zeros: fc.nat(5) }),
  trailers: fc.array(fc.tuple(token, ows, fieldValue), { maxLength: 3 }),
});
type ChunkedBody = typeof chunkedBody extends fc.Arbitrary<infer T> ? T : never;

function encodeChunked(b: ChunkedBody): Buffer {
  const parts: Buffer[] = [];
  for (const c of b.chunks) {
    let hex = c.data.length.toString(16);
    if (c.upper) hex = hex.toUpperCase();
    hex = '0'.repeat(Math.min(c.zeros, 12 - hex.length)) + hex;
    parts.push(bytes(`${hex}${c.ext}\r\n`), Buffer.from(c.data), bytes('\r\n'));
  }
  parts.push(bytes(`${'0'.repeat(1 + b.last.zeros)}${b.last.ext}\r\n`));
  for (const [name, sp, value] of b.trailers) parts.push(bytes(`${name}:${sp}${value}\r\n`));
  parts.push(bytes('\r\n'));
  return Buffer.concat(parts);
}

const following = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.constantFrom('GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n', '0\r\n\r\n', '\r\n', '\n').map((s) => new Uint8Array(bytes(s))),
  fc.uint8Array({ minLength: 1, maxLength: 30 }),
);
/** Cut points (sorted, distinct, inside (0, len)) from arbitrary naturals. */
function cuts(raw: number[], len: number): number[] {
  return [...new Set(raw.map((n) => (len > 1 ? 1 + (n % (len - 1)) : 0)).filter((n) => n > 0 && n < len))].sort((a, b) => a - b);
}

t.test('property: chunked bodies split anywhere are consumed exactly', async (t) => {
  fc.assert(
    fc.property(chunkedBody, following, fc.nat(20), fc.array(fc.nat(), { maxLength: 12 }), (spec, next, offset, rawCuts) => {
      const body = encodeChunked(spec);
      // The body sits at `offset` inside a larger buffer, as it would after a head.
      const buf = Buffer.concat([Buffer.alloc(offset, 0x7a), body, Buffer.from(next)]);
      const bodyEnd = offset + body.length;
      const points = [offset, ...cuts(rawCuts, buf.length - offset).map((c) => offset + c), buf.length];
      const s = new ChunkedScanner();
      let total = 0;
      for (let i = 0; i + 1 < points.length; i++) {
        const a = points[i]!;
        const b = points[i + 1]!;
        const used = s.push(buf, a, b);
        strictEqual(used, Math.max(0, Math.min(b, bodyEnd) - a), `piece [${a}, ${b}) of a body ending at ${bodyEnd}`);
        strictEqual(s.done, b >= bodyEnd, `done after piece [${a}, ${b}), body ends at ${bodyEnd}`);
        total += used;
      }
      strictEqual(total, body.length);
      strictEqual(s.push(buf, bodyEnd, buf.length), 0, 'nothing after done');
    }),
    { numRuns: 1500 },
  );
  t.pass('sum of consumed bytes is the body length, done exactly at its end, following bytes untouched');
});

t.test('property: a chunked body whose last byte is missing is never done', async (t) => {
  fc.assert(
    fc.property(chunkedBody, (spec) => {
      const body = encodeChunked(spec);
      const r = scanAll(body.subarray(0, body.length - 1));
      return r.used === body.length - 1 && !r.done;
    }),
    { numRuns: 500 },
  );
  t.pass('every strict prefix is consumed whole and not done');
});

type Outcome = { error: string } | { used: number; done: boolean };
function scanPieces(buf: Buffer, points: number[]): Outcome {
  const s = new ChunkedScanner();
  let used = 0;
  try {
    for (let i = 0; i + 1 < points.length; i++) used += s.push(buf, points[i]!, points[i + 1]!);
  } catch (err) {
    if (err instanceof HttpFramingError) return { error: err.code };
    throw err;
  }
  return { used, done: s.done };
}

t.test('property: mutated chunked bodies give the same outcome however they are split', async (t) => {
  const mutated = fc
    .tuple(chunkedBody, following, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }))
    .map(([spec, next, edits]) => {
      const buf = Buffer.concat([encodeChunked(spec), Buffer.from(next)]);
      for (const [at, byte] of edits) buf[at % buf.length] = byte;
      return buf;
    });
  fc.assert(
    fc.property(mutated, fc.array(fc.nat(), { maxLength: 10 }), (buf, rawCuts) => {
      const whole = scanPieces(buf, [0, buf.length]);
      const split = scanPieces(buf, [0, ...cuts(rawCuts, buf.length), buf.length]);
      deepStrictEqual(split, whole);
      if ('used' in whole) {
        if (whole.used > buf.length) throw new Error('consumed more than given');
        if (!whole.done && whole.used !== buf.length) throw new Error('stopped early without being done');
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('outcome (error, or bytes consumed and done) is independent of how the bytes arrive');
});

t.test('property: arbitrary bytes make the scanner throw only HttpFramingError', async (t) => {
  const alphabet = fc.constantFrom('0', '1', 'a', 'F', 'g', ';', ' ', '\t', '\r', '\n', '\r\n', '=', '"', 'x', '\x00', '0\r\n', '\r\n\r\n');
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)),
    fc.array(alphabet, { maxLength: 40 }).map((parts) => bytes(parts.join(''))),
  );
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 6 }), (buf, rawCuts) => {
      const r = scanPieces(buf, [0, ...cuts(rawCuts, buf.length), buf.length]);
      if ('used' in r && (r.used < 0 || r.used > buf.length)) throw new Error(`consumed ${r.used} of ${buf.length}`);
    }),
    { numRuns: 3000 },
  );
  t.pass('no exception other than HttpFramingError, consumption within the input');
});

// ---------------------------------------------------------------------------------------------
// Head properties
// ---------------------------------------------------------------------------------------------

function headOutcome(fn: () => Head | undefined, buf: Buffer, start: number): void {
  let h: Head | undefined;
  try {
    h = fn();
  } catch (err) {
    if (err instanceof HttpFramingError) return;
    throw err;
  }
  if (h === undefined) return;
  if (!(h.end > start && h.end <= buf.length)) throw new Error(`end ${h.end} outside (${start}, ${buf.length}]`);
  if (buf.toString('latin1', h.end - 4, h.end) !== '\r\n\r\n') throw new Error('end not just past CRLF CRLF');
  if (h.headers.length % 2 !== 0) throw new Error('odd header list');
}

t.test('property: arbitrary bytes yield undefined, a head, or HttpFramingError', async (t) => {
  const pieces = [
    'GET', 'POST', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/', '200', '1', ' ', '/', '\r\n', '\r\n\r\n', '\r', '\n', ':', ': ', ',',
    'Content-Length', 'Transfer-Encoding', 'chunked', 'gzip', 'Connection', 'close', 'keep-alive', 'upgrade', 'Expect',
    '100-continue', '5', '\t', '\x00', '\xa0', '\x85', 'X', 'OK', '\xff',
  ];
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
    fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((p) => bytes(p.join(''))),
  );
  fc.assert(
    fc.property(input, fc.nat(), (buf, s) => {
      const start = buf.length === 0 ? 0 : s % (buf.length + 1);
      headOutcome(() => parseRequestHead(buf, start), buf, start);
      headOutcome(() => parseResponseHead(buf, start), buf, start);
    }),
    { numRuns: 5000 },
  );
  t.pass('requests and responses: no other exception, end within the buffer and past CRLF CRLF');
});

const plainName = token.filter((n) => !['content-length', 'transfer-encoding', 'connection', 'expect'].includes(n.toLowerCase()));
const target = fc.string({ unit: fc.constantFrom(...VCHAR_OBS.slice(0, 0x7e - 0x21 + 1)), minLength: 1, maxLength: 40 });
const connTokens = fc.array(fc.mixedCase(fc.constantFrom('close', 'keep-alive', 'upgrade', 'te', 'foo')), { maxLength: 3 });
const fieldLine = fc.record({ name: plainName, before: ows, value: fieldValue, after: ows });
type FieldLine = { name: string; before: string; value: string; after: string };

const requestArb = fc.record({
  lead: fc.nat(3),
  method: token,
  target,
  http11: fc.boolean(),
  fields: fc.array(fieldLine, { maxLength: 8 }),
  contentLength: fc.option(fc.record({ n: fc.nat({ max: 1e9 }), name: fc.mixedCase(fc.constant('content-length')), twice: fc.boolean(), at: fc.nat() })),
  connection: fc.option(fc.record({ tokens: connTokens, name: fc.mixedCase(fc.constant('connection')), at: fc.nat() })),
  expect: fc.option(fc.record({ value: fc.mixedCase(fc.constantFrom('100-continue', '100-continuE', 'something')), at: fc.nat() })),
});
type RequestSpec = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function insertAt(fields: FieldLine[], at: number, f: FieldLine): void {
  fields.splice(at % (fields.length + 1), 0, f);
}

function buildRequest(r: RequestSpec): { text: string; fields: FieldLine[] } {
  const fields = [...r.fields];
  if (r.contentLength) {
    const f = { name: r.contentLength.name, before: ' ', value: String(r.contentLength.n), after: '' };
    insertAt(fields, r.contentLength.at, f);
    if (r.contentLength.twice) insertAt(fields, r.contentLength.at * 7 + 3, { ...f, before: '\t', after: ' ' });
  }
  if (r.connection) insertAt(fields, r.connection.at, { name: r.connection.name, before: ' ', value: r.connection.tokens.join(', '), after: '' });
  if (r.expect) insertAt(fields, r.expect.at, { name: 'Expect', before: ' ', value: r.expect.value, after: '' });
  const text =
    '\r\n'.repeat(r.lead) +
    `${r.method} ${r.target} HTTP/1.${r.http11 ? 1 : 0}\r\n` +
    fields.map((f) => `${f.name}:${f.before}${f.value}${f.after}\r\n`).join('') +
    '\r\n';
  return { text, fields };
}

t.test('property: generated requests round-trip, and every earlier split is incomplete', async (t) => {
  fc.assert(
    fc.property(requestArb, fc.uint8Array({ maxLength: 16 }), following, (spec, junk, after) => {
      const { text, fields } = buildRequest(spec);
      const head = bytes(text);
      const start = junk.length;
      const buf = Buffer.concat([Buffer.from(junk), head, Buffer.from(after)]);
      const h = parseRequestHead(buf, start);
      if (!h) throw new Error('complete head returned undefined');
      strictEqual(h.end, start + head.length, 'end');
      strictEqual(h.method, spec.method);
      strictEqual(h.target, spec.target);
      strictEqual(h.http11, spec.http11);
      deepStrictEqual(pairs(h), fields.map((f) => [f.name, f.value]));
      strictEqual(h.contentLength, spec.contentLength ? spec.contentLength.n : -1, 'contentLength');
      strictEqual(h.chunked, false);
      const tokens = spec.connection ? spec.connection.tokens.map((x) => x.toLowerCase()) : [];
      strictEqual(h.close, spec.http11 ? tokens.includes('close') : !tokens.includes('keep-alive'), 'close');
      strictEqual(h.upgrade, tokens.includes('upgrade'), 'upgrade');
      strictEqual(h.expectContinue, spec.expect !== null && spec.expect.value.toLowerCase() === '100-continue', 'expectContinue');
      for (let k = start; k < h.end; k++) {
        if (parseRequestHead(buf.subarray(0, k), start) !== undefined) throw new Error(`prefix of ${k} bytes parsed`);
      }
    }),
    { numRuns: 400 },
  );
  t.pass('method, target, version, headers, Content-Length, close/upgrade/expect match; prefixes are undefined');
});

const responseArb = fc.record({
  http11: fc.boolean(),
  status: fc.integer({ min: 0, max: 999 }),
  reason: fc.option(fc.string({ unit: fc.constantFrom(...VCHAR_OBS, ' ', '\t'), maxLength: 20 })),
  fields: fc.array(fieldLine, { maxLength: 8 }),
  framing: fc.constantFrom('none', 'length', 'chunked'),
  n: fc.nat({ max: 1e12 }),
  close: fc.boolean(),
});

t.test('property: generated responses round-trip, and every earlier split is incomplete', async (t) => {
  fc.assert(
    fc.property(responseArb, fc.uint8Array({ maxLength: 16 }), following, (spec, junk, after) => {
      const fields: FieldLine[] = [...spec.fields];
      if (spec.framing === 'length') fields.push({ name: 'Content-Length', before: ' ', value: String(spec.n), after: '' });
      if (spec.framing === 'chunked') fields.unshift({ name: 'transfer-encoding', before: ' ', value: 'chunked', after: ' ' });
      if (spec.close) fields.push({ name: 'Connection', before: '', value: 'close', after: '' });
      const status = String(spec.status).padStart(3, '0');
      const text =
        `HTTP/1.${spec.http11 ? 1 : 0} ${status}${spec.reason === null ? '' : ` ${spec.reason}`}\r\n` +
        fields.map((f) => `${f.name}:${f.before}${f.value}${f.after}\r\n`).join('') +
        '\r\n';
      const head = bytes(text);
      const start = junk.length;
      const buf = Buffer.concat([Buffer.from(junk), head, Buffer.from(after)]);
      const h = parseResponseHead(buf, start);
      if (!h) throw new Error('complete head returned undefined');
      strictEqual(h.end, start + head.length, 'end');
      strictEqual(h.status, spec.status);
      strictEqual(h.reason, spec.reason ?? '');
      strictEqual(h.http11, spec.http11);
      deepStrictEqual(pairs(h), fields.map((f) => [f.name, f.value]));
      strictEqual(h.contentLength, spec.framing === 'length' ? spec.n : -1);
      strictEqual(h.chunked, spec.framing === 'chunked');
      strictEqual(h.close, spec.close || !spec.http11);
      for (let k = start; k < h.end; k++) {
        if (parseResponseHead(buf.subarray(0, k), start) !== undefined) throw new Error(`prefix of ${k} bytes parsed`);
      }
    }),
    { numRuns: 400 },
  );
  t.pass('status, reason, version, headers, framing and close match; prefixes are undefined');
});

t.test('property: a generated request followed by its body and a second request (pipelining)', async (t) => {
  fc.assert(
    fc.property(
      requestArb,
      fc.oneof(fc.uint8Array({ maxLength: 50 }).map((u) => ({ kind: 'length' as const, body: u })), chunkedBody.map((c) => ({ kind: 'chunked' as const, body: c }))),
      requestArb,
      (a, body, b) => {
        const first = buildRequest({ ...a, contentLength: null }).text;
        const headA =
          body.kind === 'length'
            ? first.slice(0, -2) + `Content-Length: ${body.body.length}\r\n\r\n`
            : first.slice(0, -2) + 'Transfer-Encoding: chunked\r\n\r\n';
        const bodyBytes = body.kind === 'length' ? Buffer.from(body.body) : encodeChunked(body.body);
        const second = bytes(buildRequest(b).text);
        const buf = Buffer.concat([bytes(headA), bodyBytes, second]);
        const h1 = parseRequestHead(buf, 0)!;
        let next: number;
        if (h1.chunked) {
          const s = new ChunkedScanner();
          next = h1.end + s.push(buf, h1.end, buf.length);
          if (!s.done) throw new Error('chunked body not done');
        } else next = h1.end + h1.contentLength;
        strictEqual(next, headA.length + bodyBytes.length, 'the first message ends where the second starts');
        const h2 = parseRequestHead(buf, next)!;
        strictEqual(h2.end, buf.length);
        strictEqual(h2.method, b.method);
        strictEqual(h2.target, b.target);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('head + body (Content-Length or chunked) + next head, all located from offsets');
});
