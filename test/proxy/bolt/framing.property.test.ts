// Property tests of Bolt's chunk framing (MessageReader) and the handshake parsers: any split
// of a valid stream into reads gives the same messages; NOOPs are reported as such; truncated
// chunks leave a partial message and never a wrong one; oversized and non-structure messages
// are refused with BoltFramingError, never another exception.
import t from 'tap';
import fc from 'fast-check';
import { BoltFramingError, chunk, MessageReader, NOOP, payloadOf, rawOf } from '../../../src/proxy/bolt/framing.js';
import {
  BoltHandshakeError,
  chooseLocalVersion,
  localManifest,
  parseClientChoice,
  parseClientHandshake,
  parseServerAnswer,
  readVarint,
} from '../../../src/proxy/bolt/handshake.js';
import { inProperty } from '../../support/property-asserts.js';

/** A message payload: a structure marker, a signature, and arbitrary field bytes. */
const payloadArb = fc
  .tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }))
  .map(([n, sig, body]) => Buffer.concat([Buffer.from([0xb0 | n, sig]), body]));

/** Chunk a payload with chunks of at most max bytes. */
function chunked(payload: Buffer, max: number): Buffer {
  const parts: Buffer[] = [];
  for (let p = 0; p < payload.length; p += max) {
    const piece = payload.subarray(p, p + max);
    parts.push(Buffer.from([piece.length >> 8, piece.length & 0xff]), piece);
  }
  parts.push(Buffer.from([0, 0]));
  return Buffer.concat(parts);
}

const streamArb = fc.record({
  items: fc.array(fc.oneof({ weight: 5, arbitrary: payloadArb }, { weight: 1, arbitrary: fc.constant(undefined) }), { maxLength: 20 }),
  maxChunk: fc.integer({ min: 1, max: 400 }),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
});

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % (buf.length + 1))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out.filter((b) => b.length > 0);
}

function collect(max = 1 << 20): { reader: MessageReader; got: { sig: number; raw: Buffer }[] } {
  const got: { sig: number; raw: Buffer }[] = [];
  const reader = new MessageReader(max, (sig, buf, start, end, parts) => {
    got.push({ sig, raw: Buffer.from(rawOf(buf, start, end, parts)) });
  });
  return { reader, got };
}

t.test('any split of a chunked stream yields its messages and NOOPs, in order, byte for byte', async (t) => {
  fc.assert(
    fc.property(streamArb, ({ items, maxChunk, cuts }) =>
      {
        const t = inProperty;
        const encoded = items.map((p) => (p === undefined ? Buffer.from([0, 0]) : chunked(p, maxChunk)));
        const stream = Buffer.concat(encoded);
        const { reader, got } = collect();
        for (const piece of splitAt(stream, cuts)) t.equal(reader.push(piece), piece.length);
        t.equal(got.length, items.length);
        items.forEach((p, i) => {
          t.same(got[i]!.raw, encoded[i]);
          if (p === undefined) t.equal(got[i]!.sig, NOOP);
          else {
            t.equal(got[i]!.sig, p[1]);
            t.same(payloadOf(got[i]!.raw), p);
          }
        });
        t.equal(reader.partial, false);
      },
    ),
    { numRuns: 300 },
  );
});

t.test('a truncated stream gives only its whole messages and is left partial', async (t) => {
  fc.assert(
    fc.property(fc.array(payloadArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 200 }), fc.nat(), (payloads, maxChunk, cut) =>
      {
        const t = inProperty;
        const encoded = payloads.map((p) => chunked(p, maxChunk));
        const stream = Buffer.concat(encoded);
        const at = 1 + (cut % (stream.length - 1));
        const { reader, got } = collect();
        reader.push(stream.subarray(0, at));
        let whole = 0;
        let offset = 0;
        for (const e of encoded) {
          if (offset + e.length > at) break;
          offset += e.length;
          whole++;
        }
        t.equal(got.length, whole, 'only messages that ended');
        t.equal(reader.partial, offset < at, 'partial when a message began');
        got.forEach((g, i) => t.same(g.raw, encoded[i]));
      },
    ),
    { numRuns: 300 },
  );
});

t.test('a message over the bound is refused, whatever the chunking', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 200 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 100 }), (max, maxChunk, extra) =>
      {
        const t = inProperty;
        const payload = Buffer.concat([Buffer.from([0xb1, 0x10]), Buffer.alloc(max - 2 + extra)]);
        const { reader, got } = collect(max);
        t.throws(() => reader.push(chunked(payload, maxChunk)), { code: 'BOLT_FRAMING' });
        t.equal(got.length, 0);
      },
    ),
    { numRuns: 200 },
  );
});

t.test('random bytes give messages, NOOPs or BoltFramingError, nothing else', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) =>
      {
        const t = inProperty;
        const { reader, got } = collect(4096);
        try {
          for (const piece of splitAt(Buffer.from(bytes), cuts)) reader.push(piece);
        } catch (err) {
          t.ok(err instanceof BoltFramingError, `only BoltFramingError: ${String(err)}`);
        }
        for (const g of got) t.ok(g.sig === NOOP || (g.raw.length >= 6 && (payloadOf(g.raw)[0]! & 0xf0) === 0xb0));
      },
    ),
    { numRuns: 400 },
  );
});

t.test('a lone byte is not a structure: refused', async (t) => {
  const { reader } = collect();
  t.throws(() => reader.push(Buffer.from([0, 1, 0x41, 0, 0])), { code: 'BOLT_FRAMING' });
  const r2 = collect().reader;
  t.throws(() => r2.push(Buffer.from([0, 2, 0x91, 0x01, 0, 0])), /not a PackStream structure/);
});

t.test('chunk() splits at 65535 bytes and round-trips', async (t) => {
  for (const n of [2, 65535, 65536, 200_000]) {
    const payload = Buffer.alloc(n, 7);
    payload[0] = 0xb1;
    payload[1] = 0x71;
    const c = chunk(payload);
    const { reader, got } = collect(1 << 20);
    reader.push(c);
    t.equal(got.length, 1);
    t.same(payloadOf(got[0]!.raw), payload, `${n} bytes`);
  }
});

t.test('handshake: client proposals', async (t) => {
  t.throws(() => parseClientHandshake(Buffer.from('474554202f20485454502f312e310d0a0d0a0000', 'hex')), { code: 'BOLT_HANDSHAKE' }, 'HTTP is not Bolt');
  const manifest = Buffer.from('6060b017000001ff00080805000204040000000' + '3', 'hex');
  const p = parseClientHandshake(manifest);
  t.same(p[0], { major: 0xff, minor: 1, range: 0 });
  t.same(chooseLocalVersion(p), { major: 5, minor: 8 });
  t.same(chooseLocalVersion(parseClientHandshake(Buffer.from('6060b01700000404000000000000000000000000', 'hex'))), { major: 4, minor: 4 });
  t.same(chooseLocalVersion(parseClientHandshake(Buffer.from('6060b01700020305000000000000000000000000', 'hex'))), { major: 5, minor: 3 });
  t.equal(chooseLocalVersion(parseClientHandshake(Buffer.from('6060b01700000003000000000000000000000000', 'hex'))), undefined, 'Bolt 3 is not answered');
});

t.test('handshake: server answers and client choices, incrementally', async (t) => {
  // Neo4j 5.26.30's manifest answer, as seen on the wire.
  const answer = Buffer.from('000001ff03000404040004040500020805' + '00', 'hex');
  for (let n = 0; n < answer.length; n++) t.equal(parseServerAnswer(answer.subarray(0, n)), undefined, `incomplete at ${n}`);
  t.same(parseServerAnswer(answer), { length: answer.length, version: undefined, manifest: true });
  t.same(parseServerAnswer(Buffer.from('00000805', 'hex')), { length: 4, version: { major: 5, minor: 8 }, manifest: false });
  t.equal(parseClientChoice(Buffer.from('00000805', 'hex')), undefined);
  t.same(parseClientChoice(Buffer.from('0000080500', 'hex')), { length: 5, version: { major: 5, minor: 8 } });
  t.same(localManifest(), Buffer.from('000001ff02' + '00080805' + '00000404' + '00', 'hex'));
  t.same(readVarint(Buffer.from([0x96, 0x01]), 0), [150, 2]);
  t.throws(() => readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0), { code: 'BOLT_HANDSHAKE' });
});

t.test('handshake parsers never throw anything but BoltHandshakeError', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) =>
      {
        const t = inProperty;
        const b = Buffer.from(bytes);
        for (const f of [() => parseServerAnswer(b), () => parseClientChoice(b), () => parseClientHandshake(b)]) {
          try {
            f();
          } catch (err) {
            t.ok(err instanceof BoltHandshakeError, String(err));
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
