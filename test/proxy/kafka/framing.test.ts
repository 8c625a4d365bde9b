// Kafka framing: frames found across arbitrary chunk boundaries (views when inside one chunk),
// incomplete input waits, oversized declared sizes are typed errors, request header v1/v2 and
// response header v0/v1 lengths.
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../support/property-asserts.js';
import { FrameScanner, isFlexibleRequest, parseRequestHeader, requestBodyOffset, responseHeaderLength } from '../../../src/proxy/kafka/framing.js';
import { KafkaWireError, Writer } from '../../../src/proxy/kafka/wire.js';

function frameOf(body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + body.length);
  b.writeInt32BE(body.length, 0);
  b.set(body, 4);
  return b;
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(Buffer.from(bytes.subarray(prev, p))); // own memory per chunk
    prev = p;
  }
  if (prev < bytes.length) out.push(Buffer.from(bytes.subarray(prev)));
  return out;
}

const bodies = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 });

t.test('frames split at random chunk boundaries come out whole and in order', async (t) => {
  fc.assert(
    fc.property(bodies, fc.array(fc.nat(), { maxLength: 30 }), (bs, cuts) => {
      const t = inProperty;
      const stream = Buffer.concat(bs.map(frameOf));
      const s = new FrameScanner(1024);
      const got: Buffer[] = [];
      for (const c of split(stream, cuts)) {
        s.push(c);
        for (let f = s.next(); f !== null; f = s.next()) got.push(Buffer.from(f));
      }
      t.same(got, bs.map(frameOf));
      t.equal(s.pending, 0);
    }),
    { numRuns: 200 },
  );
});

t.test('a frame inside one chunk is a view of that chunk, not a copy', async (t) => {
  const chunk = Buffer.concat([frameOf(Buffer.from('hello')), frameOf(Buffer.from('world!')), Buffer.from([0, 0])]);
  const s = new FrameScanner();
  s.push(chunk);
  const a = s.next()!;
  const b = s.next()!;
  t.equal(a.buffer, chunk.buffer, 'same memory');
  t.equal(a.byteOffset, chunk.byteOffset);
  t.equal(b.byteOffset, chunk.byteOffset + 9);
  t.equal(b.subarray(4).toString(), 'world!');
  t.equal(s.next(), null, 'two bytes of a size prefix wait');
  t.equal(s.pending, 2);
  s.push(Buffer.from([0, 1, 42]));
  t.same([...s.next()!], [0, 0, 0, 1, 42], 'size prefix split across chunks');
});

t.test('truncated streams wait for more bytes and never throw', async (t) => {
  fc.assert(
    fc.property(bodies, fc.nat(), fc.array(fc.nat(), { maxLength: 10 }), (bs, cut, cuts) => {
      const t = inProperty;
      const stream = Buffer.concat(bs.map(frameOf));
      const n = stream.length === 0 ? 0 : cut % stream.length;
      const s = new FrameScanner(1024);
      let complete = 0;
      for (const c of split(stream.subarray(0, n), cuts)) {
        s.push(c);
        while (s.next() !== null) complete++;
      }
      // how many whole frames fit in n bytes
      let expected = 0;
      let used = 0;
      for (const b of bs) {
        if (used + 4 + b.length > n) break;
        used += 4 + b.length;
        expected++;
      }
      t.equal(complete, expected);
      t.equal(s.pending, n - used);
    }),
    { numRuns: 200 },
  );
});

t.test('declared sizes beyond the maximum, or negative, are frame_too_large', async (t) => {
  for (const size of [1025, 0x7fffffff, -1, -0x80000000]) {
    const s = new FrameScanner(1024);
    const b = Buffer.alloc(4);
    b.writeInt32BE(size, 0);
    s.push(b.subarray(0, 2));
    t.equal(s.next(), null, 'two bytes: not yet known');
    s.push(b.subarray(2));
    t.throws(() => s.next(), { code: 'frame_too_large' }, `size ${size}`);
  }
  const ok = new FrameScanner(1024);
  ok.push(frameOf(Buffer.alloc(1024)));
  t.equal(ok.next()?.length, 1028, 'exactly the maximum is accepted');
  // HTTP on a Kafka port: "GET " is 0x47455420 = 1195725856 bytes
  const http = new FrameScanner();
  http.push(Buffer.from('GET / HTTP/1.1\r\n'));
  t.throws(() => http.next(), KafkaWireError);
});

t.test('garbage never throws anything but KafkaWireError', async (t) => {
  let typed = 0;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), (chunks) => {
      const t = inProperty;
      const s = new FrameScanner(64);
      try {
        for (const c of chunks) {
          s.push(Buffer.from(c));
          for (let f = s.next(); f !== null; f = s.next()) {
            try {
              parseRequestHeader(f);
              responseHeaderLength(3, 12, f, 4);
            } catch (e) {
              if (!(e instanceof KafkaWireError)) throw e;
              typed++;
            }
          }
        }
      } catch (e) {
        if (!(e instanceof KafkaWireError)) throw e;
        typed++;
      }
    }),
    { numRuns: 500 },
  );
  t.ok(typed > 0, `typed errors: ${typed}`);
});

t.test('flexible request versions', async (t) => {
  const cases: [number, number, boolean][] = [
    [3, 8, false], [3, 9, true], [3, 12, true],
    [10, 2, false], [10, 3, true], [10, 4, true],
    [60, 0, true], [60, 1, true],
    [18, 2, false], [18, 3, true],
    [0, 8, false], [0, 9, true],
    [1, 11, false], [1, 12, true],
    [17, 1, false],
  ];
  for (const [k, v, flex] of cases) t.equal(isFlexibleRequest(k, v), flex, `api ${k} v${v}`);
  t.equal(isFlexibleRequest(5000, 0), true, 'apis added after KIP-482 are flexible');
});

t.test('request header v1 and v2 parse, headerEnd points at the body', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 3, 10, 18, 60, 17),
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
      fc.option(fc.string({ maxLength: 30 }), { nil: null }),
      fc.array(fc.record({ tag: fc.nat(1000), data: fc.uint8Array({ maxLength: 10 }) }), { maxLength: 3 }),
      fc.uint8Array({ maxLength: 20 }),
      (apiKey, apiVersion, correlationId, clientId, tags, body) => {
        const t = inProperty;
        const flexible = isFlexibleRequest(apiKey, apiVersion)!;
        const w = new Writer();
        w.int32(0).int16(apiKey).int16(apiVersion).int32(correlationId).nullableString(clientId);
        if (flexible) w.taggedFields(tags);
        const headerEnd = w.pos;
        w.raw(body);
        const frame = w.toBuffer();
        frame.writeInt32BE(frame.length - 4, 0);
        t.same(parseRequestHeader(frame), { apiKey, apiVersion, correlationId, clientId, flexible, headerEnd });
        t.equal(requestBodyOffset(frame, flexible), headerEnd, 'requestBodyOffset (no client id decoding) agrees');
      },
    ),
    { numRuns: 200 },
  );
  t.throws(() => parseRequestHeader(Buffer.from('000000050003000c00', 'hex')), { code: 'truncated' });
});

t.test('response header length: v0 for ApiVersions and non-flexible, v1 with tagged fields otherwise', async (t) => {
  const v1 = new Writer().int32(7).taggedFields([{ tag: 0, data: Buffer.from('xyz') }]).raw(Buffer.from('body')).toBuffer();
  t.equal(responseHeaderLength(3, 9, v1, 0), 4 + 1 + 1 + 1 + 3);
  t.equal(responseHeaderLength(3, 8, v1, 0), 4);
  t.equal(responseHeaderLength(18, 3, v1, 0), 4, 'ApiVersions v3 response header is v0');
  t.equal(responseHeaderLength(60, 0, Buffer.from('0000000100', 'hex'), 0), 5);
  t.equal(responseHeaderLength(60, 0, Buffer.from('ffffffff0000000100', 'hex')), 5, 'default offset 4: a frame with its size prefix');
  t.throws(() => responseHeaderLength(3, 9, Buffer.from('00000001', 'hex'), 0), { code: 'truncated' });
});
