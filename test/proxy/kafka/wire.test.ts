// Kafka wire primitives: every reader undoes its writer (edge values included), known
// encodings from the protocol guide, truncation and garbage only ever raise KafkaWireError.
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../support/property-asserts.js';
import { KafkaWireError, Reader, Writer } from '../../../src/proxy/kafka/wire.js';

const RUNS = { numRuns: 300 };

type Op =
  | { k: 'int8'; v: number }
  | { k: 'int16'; v: number }
  | { k: 'int32'; v: number }
  | { k: 'int64'; v: bigint }
  | { k: 'bool'; v: boolean }
  | { k: 'uvarint'; v: number }
  | { k: 'varint'; v: number }
  | { k: 'nullableString'; v: string | null }
  | { k: 'compactNullableString'; v: string | null }
  | { k: 'nullableBytes'; v: Uint8Array | null }
  | { k: 'compactNullableBytes'; v: Uint8Array | null }
  | { k: 'arrayLength'; v: number | null }
  | { k: 'compactArrayLength'; v: number | null }
  | { k: 'taggedFields'; v: { tag: number; data: Uint8Array }[] };

const UVARINT_EDGES = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xfffffff, 0x10000000, 0x7fffffff, 0x80000000, 0xffffffff];
const VARINT_EDGES = [0, 1, -1, 63, -64, 64, -65, 0x7fffffff, -0x80000000, 0x3fffffff, -0x40000000];

const u32 = fc.oneof(fc.constantFrom(...UVARINT_EDGES), fc.integer({ min: 0, max: 0xffffffff }));
const i32 = fc.oneof(fc.constantFrom(...VARINT_EDGES), fc.integer({ min: -0x80000000, max: 0x7fffffff }));
const str = fc.string({ unit: 'grapheme', maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 40 });

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('int8' as const), v: fc.integer({ min: -128, max: 127 }) }),
  fc.record({ k: fc.constant('int16' as const), v: fc.integer({ min: -32768, max: 32767 }) }),
  fc.record({ k: fc.constant('int32' as const), v: i32 }),
  fc.record({ k: fc.constant('int64' as const), v: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
  fc.record({ k: fc.constant('bool' as const), v: fc.boolean() }),
  fc.record({ k: fc.constant('uvarint' as const), v: u32 }),
  fc.record({ k: fc.constant('varint' as const), v: i32 }),
  fc.record({ k: fc.constant('nullableString' as const), v: fc.option(str, { nil: null }) }),
  fc.record({ k: fc.constant('compactNullableString' as const), v: fc.option(str, { nil: null }) }),
  fc.record({ k: fc.constant('nullableBytes' as const), v: fc.option(bytes, { nil: null }) }),
  fc.record({ k: fc.constant('compactNullableBytes' as const), v: fc.option(bytes, { nil: null }) }),
  fc.record({ k: fc.constant('arrayLength' as const), v: fc.option(fc.integer({ min: 0, max: 0x7fffffff }), { nil: null }) }),
  fc.record({ k: fc.constant('compactArrayLength' as const), v: fc.option(fc.integer({ min: 0, max: 0xfffffffe }), { nil: null }) }),
  fc.record({
    k: fc.constant('taggedFields' as const),
    v: fc.array(fc.record({ tag: u32, data: bytes }), { maxLength: 4 }),
  }),
);

function write(w: Writer, o: Op): void {
  switch (o.k) {
    case 'int8': w.int8(o.v); break;
    case 'int16': w.int16(o.v); break;
    case 'int32': w.int32(o.v); break;
    case 'int64': w.int64(o.v); break;
    case 'bool': w.bool(o.v); break;
    case 'uvarint': w.uvarint(o.v); break;
    case 'varint': w.varint(o.v); break;
    case 'nullableString': w.nullableString(o.v); break;
    case 'compactNullableString': w.compactNullableString(o.v); break;
    case 'nullableBytes': w.nullableBytes(o.v); break;
    case 'compactNullableBytes': w.compactNullableBytes(o.v); break;
    case 'arrayLength': w.arrayLength(o.v); break;
    case 'compactArrayLength': w.compactArrayLength(o.v); break;
    case 'taggedFields': w.taggedFields(o.v); break;
  }
}

function read(r: Reader, k: Op['k']): unknown {
  switch (k) {
    case 'nullableBytes': { const b = r.nullableBytes(); return b === null ? null : Buffer.from(b); }
    case 'compactNullableBytes': { const b = r.compactNullableBytes(); return b === null ? null : Buffer.from(b); }
    case 'taggedFields': return r.taggedFields().map((f) => ({ tag: f.tag, data: Buffer.from(f.data) }));
    default: return (r[k] as () => unknown).call(r);
  }
}

function normalize(o: Op): unknown {
  if (o.k === 'nullableBytes' || o.k === 'compactNullableBytes') return o.v === null ? null : Buffer.from(o.v);
  if (o.k === 'taggedFields') return o.v.map((f) => ({ tag: f.tag, data: Buffer.from(f.data) }));
  return o.v;
}

t.test('every primitive reads back what was written, in any sequence', async (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
      const t = inProperty;
      const w = new Writer(16); // small start: exercises growth
      for (const o of ops) write(w, o);
      const buf = w.toBuffer();
      const r = new Reader(buf);
      for (const o of ops) t.same(read(r, o.k), normalize(o), o.k);
      t.equal(r.remaining, 0, 'nothing left over');
    }),
    RUNS,
  );
});

t.test('known encodings from the protocol guide', async (t) => {
  const enc = (f: (w: Writer) => void): string => { const w = new Writer(); f(w); return w.toBuffer().toString('hex'); };
  t.equal(enc((w) => w.uvarint(0)), '00');
  t.equal(enc((w) => w.uvarint(127)), '7f');
  t.equal(enc((w) => w.uvarint(128)), '8001');
  t.equal(enc((w) => w.uvarint(300)), 'ac02');
  t.equal(enc((w) => w.uvarint(0xffffffff)), 'ffffffff0f');
  t.equal(enc((w) => w.varint(-1)), '01');
  t.equal(enc((w) => w.varint(1)), '02');
  t.equal(enc((w) => w.varint(-0x80000000)), 'ffffffff0f');
  t.equal(enc((w) => w.varint(0x7fffffff)), 'feffffff0f');
  t.equal(enc((w) => w.nullableString(null)), 'ffff');
  t.equal(enc((w) => w.nullableString('ab')), '00026162');
  t.equal(enc((w) => w.compactNullableString(null)), '00');
  t.equal(enc((w) => w.compactString('')), '01');
  t.equal(enc((w) => w.compactString('ab')), '036162');
  t.equal(enc((w) => w.compactArrayLength(null)), '00');
  t.equal(enc((w) => w.arrayLength(null)), 'ffffffff');
  t.equal(enc((w) => w.taggedFields([])), '00');
  t.equal(enc((w) => w.taggedFields([{ tag: 1, data: Buffer.from([9]) }])), '01010109');
  t.throws(() => new Writer().uvarint(-1), RangeError);
  t.throws(() => new Writer().uvarint(2 ** 32), RangeError);
  t.throws(() => new Writer().varint(2 ** 31), RangeError);
});

t.test('uvarint sizes grow by one byte per 7 bits', async (t) => {
  for (const v of UVARINT_EDGES) {
    const w = new Writer();
    w.uvarint(v);
    const expected = v === 0 ? 1 : Math.ceil(Math.log2(v + 1) / 7);
    t.equal(w.pos, expected, `uvarint(${v}) takes ${expected} bytes`);
  }
});

t.test('truncated input raises KafkaWireError truncated, never reads past the end', async (t) => {
  fc.assert(
    fc.property(op, fc.nat(), (o, cut) => {
      const t = inProperty;
      const w = new Writer();
      write(w, o);
      const full = w.toBuffer();
      if (full.length === 0) return;
      const n = cut % full.length; // strictly shorter
      const r = new Reader(Buffer.concat([full.subarray(0, n), Buffer.from([0xaa, 0xbb])]), 0, n);
      try {
        read(r, o.k);
        t.fail(`reading ${o.k} from ${n}/${full.length} bytes did not throw`);
      } catch (e) {
        t.ok(e instanceof KafkaWireError && e.code === 'truncated', `${o.k} ${n}/${full.length}: ${String(e)}`);
      }
    }),
    { numRuns: 200 },
  );
});

t.test('overlong or oversized uvarints are malformed', async (t) => {
  for (const hex of ['ffffffffff', 'ffffffff1f', '8080808080']) {
    t.throws(() => new Reader(Buffer.from(hex + '00', 'hex')).uvarint(), { code: 'malformed' }, hex);
  }
  t.throws(() => new Reader(Buffer.from('ffff', 'hex')).string(), { code: 'malformed' }, 'null non-nullable string');
  t.throws(() => new Reader(Buffer.from('fffe', 'hex')).nullableString(), { code: 'malformed' }, 'length -2');
  t.throws(() => new Reader(Buffer.from('00', 'hex')).compactString(), { code: 'malformed' });
});

t.test('garbage never throws anything but KafkaWireError', async (t) => {
  const kinds: Op['k'][] = ['int8', 'int16', 'int32', 'int64', 'bool', 'uvarint', 'varint', 'nullableString', 'compactNullableString', 'nullableBytes', 'compactNullableBytes', 'arrayLength', 'compactArrayLength', 'taggedFields'];
  let threw = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 30 }), (g, seq) => {
      const t = inProperty;
      const r = new Reader(Buffer.from(g));
      try {
        for (const k of seq) read(r, k);
      } catch (e) {
        threw++;
        if (!(e instanceof KafkaWireError)) throw e;
      }
      return r.pos <= g.length;
    }),
    { numRuns: 500 },
  );
  t.ok(threw > 0, `garbage raised KafkaWireError ${threw} times`);
});
