// PackStream v1 codec: generated values round trip, skipValue agrees with readValue, every
// truncation and any garbage is a PackStreamError, and our bytes are the neo4j driver's own
// (its packer from neo4j-driver-bolt-connection is the oracle), plus hand-written hex.
import { createRequire } from 'node:module';
import t from 'tap';
import fc from 'fast-check';
import {
  PackFloat,
  PackStreamError,
  PackWriter,
  isMap,
  isStruct,
  pack,
  packStruct,
  readStructHeader,
  readValue,
  skipValue,
  type PackMap,
  type PackStruct,
  type PackValue,
} from '../../../src/proxy/bolt/packstream.js';
import { inProperty } from '../../support/property-asserts.js';

// --- the driver's packer (internal API of neo4j-driver-bolt-connection, pinned by the lock file) ---

interface DriverChannelBuffer {
  position: number;
  _buffer: Buffer;
}
interface DriverPacker {
  packable(x: unknown): () => void;
}
const require = createRequire(import.meta.url);
const driverPackstream = require('neo4j-driver-bolt-connection/lib/packstream/index.js') as {
  v1: { Packer: new (channel: DriverChannelBuffer) => DriverPacker };
  structure: { Structure: new (signature: number, fields: unknown[]) => unknown };
};
const driverChannel = require('neo4j-driver-bolt-connection/lib/channel/index.js') as { alloc(size: number): DriverChannelBuffer };
const DRIVER_VERSION = (require('neo4j-driver-bolt-connection/package.json') as { version: string }).version;

/** Our value as the driver's packer expects it: ints as bigint, floats as numbers, bytes as Int8Array. */
function toDriver(v: PackValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (v instanceof PackFloat) return v.value;
  if (v instanceof Uint8Array) return new Int8Array(v.buffer, v.byteOffset, v.length);
  if (Array.isArray(v)) return v.map(toDriver);
  if (isStruct(v)) return new driverPackstream.structure.Structure(v.signature, v.fields.map(toDriver));
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(v)) out[k] = toDriver(v[k]!);
  return out;
}

function driverPack(v: PackValue, sizeHint: number): Buffer {
  const ch = driverChannel.alloc(sizeHint * 2 + 64);
  new driverPackstream.v1.Packer(ch).packable(toDriver(v))();
  return ch._buffer.subarray(0, ch.position);
}

// --- comparing values exactly: int vs bigint vs float, -0, NaN, map prototypes ---

type Tagged = string | Tagged[];
function tag(v: PackValue): Tagged {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `bool:${v}`;
  if (typeof v === 'number') return `int:${v}`;
  if (typeof v === 'bigint') return `bigint:${v}`;
  if (typeof v === 'string') return `str:${JSON.stringify(v)}`;
  if (v instanceof PackFloat) return `float:${Object.is(v.value, -0) ? '-0' : String(v.value)}`;
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return ['list', ...v.map(tag)];
  if (isStruct(v)) return ['struct', String(v.signature), ...v.fields.map(tag)];
  return ['map', Object.getPrototypeOf(v) === null ? 'null-proto' : 'object-proto', ...Object.keys(v).sort().map((k): Tagged => [k, tag(v[k]!)])];
}

function nullProto(entries: [string, PackValue][]): PackMap {
  const m = Object.create(null) as PackMap;
  for (const [k, v] of entries) m[k] = v;
  return m;
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

// --- generators ---

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE = Number.MAX_SAFE_INTEGER;
const boundaries = [0, -1, -16, -17, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, -(2 ** 32), SAFE, -SAFE, SAFE - 1];

/** Integers in decoded (canonical) form: numbers when safe, bigints beyond. */
const intValue: fc.Arbitrary<PackValue> = fc.oneof(
  fc.integer({ min: -16, max: 127 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(...boundaries),
  fc.bigInt({ min: INT64_MIN, max: -(2n ** 53n) }),
  fc.bigInt({ min: 2n ** 53n, max: INT64_MAX }),
  fc.constantFrom(INT64_MIN, INT64_MAX, 2n ** 53n, -(2n ** 53n), 2n ** 62n),
);
const floatValue = fc.oneof(fc.double(), fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 1, Number.MIN_VALUE)).map((d) => new PackFloat(d));
// full code points, astral ones included, never lone surrogates (they cannot round trip in UTF-8)
const stringValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 60, maxLength: 300 }) },
);
const keyValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('__proto__', 'signature', 'fields', 'constructor', 'toString', '0', '10', ''));
const bytesValue = fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 250, maxLength: 300 }));

const { value: packValue } = fc.letrec<{ value: PackValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    intValue,
    floatValue,
    stringValue,
    bytesValue,
    fc.array(tie('value'), { maxLength: 20 }),
    fc.uniqueArray(fc.tuple(keyValue, tie('value')), { selector: (e) => e[0], maxLength: 18 }).map(nullProto),
    fc.record({ signature: fc.integer({ min: 0, max: 255 }), fields: fc.array(tie('value'), { maxLength: 15 }) }).map((s): PackStruct => s),
  ),
}));

// --- properties ---

t.comment(`oracle: neo4j-driver-bolt-connection ${DRIVER_VERSION} Packer (lib/packstream/packstream-v1.js)`);

t.test('round trip: pack then readValue gives the same value and ends at the end', async () => {
  fc.assert(
    fc.property(packValue, (v) => {
      const t = inProperty;
      const bytes = pack(v);
      const got = readValue(bytes, 0, bytes.length);
      t.equal(got.end, bytes.length, 'readValue ends at the end of the encoding');
      t.same(tag(got.value), tag(v));
      // re-encoding a decoded value is stable (maps' key order may differ, so compare decoded)
      const again = pack(got.value);
      t.equal(again.length, bytes.length, 'a re-encode has the same length');
      t.same(tag(readValue(again, 0, again.length).value), tag(v));
    }),
    { numRuns: 500 },
  );
});

t.test('skipValue ends where readValue ends, also inside a larger buffer', async () => {
  fc.assert(
    fc.property(packValue, fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (v, before, after) => {
      const t = inProperty;
      const enc = pack(v);
      const buf = Buffer.concat([before, enc, after]);
      const start = before.length;
      t.equal(skipValue(buf, start, buf.length), start + enc.length, 'skipValue');
      t.equal(readValue(buf, start, buf.length).end, start + enc.length, 'readValue');
      // a plain Uint8Array (not a Buffer) reads the same
      const plain = new Uint8Array(buf);
      t.same(tag(readValue(plain, start, plain.length).value), tag(v));
    }),
    { numRuns: 300 },
  );
});

t.test('every strict prefix of a valid encoding is a PackStreamError for readValue and skipValue', async () => {
  fc.assert(
    fc.property(packValue, (v) => {
      const t = inProperty;
      const bytes = pack(v);
      for (let n = 0; n < bytes.length; n++) {
        t.ok(thrown(() => readValue(bytes, 0, n)) instanceof PackStreamError, `readValue of the first ${n} of ${bytes.length} bytes`);
        t.ok(thrown(() => skipValue(bytes, 0, n)) instanceof PackStreamError, `skipValue of the first ${n} of ${bytes.length} bytes`);
      }
    }),
    { numRuns: 150 },
  );
});

/** Runs both readers on any bytes: only PackStreamErrors, and they agree on validity and end. */
function checkGarbage(bytes: Uint8Array): void {
  const t = inProperty;
  let readEnd = -1;
  let value: PackValue = null;
  const readErr = thrown(() => {
    const r = readValue(bytes, 0, bytes.length);
    readEnd = r.end;
    value = r.value;
  });
  let skipEnd = -1;
  const skipErr = thrown(() => {
    skipEnd = skipValue(bytes, 0, bytes.length);
  });
  if (readErr !== undefined) t.ok(readErr instanceof PackStreamError, `readValue threw ${String(readErr)}`);
  if (skipErr !== undefined) t.ok(skipErr instanceof PackStreamError, `skipValue threw ${String(skipErr)}`);
  t.equal(readErr === undefined, skipErr === undefined, `readValue ${readErr === undefined ? 'accepted' : 'refused'} what skipValue ${skipErr === undefined ? 'accepted' : 'refused'}: ${String(readErr ?? skipErr)}`);
  if (readErr === undefined) {
    t.equal(skipEnd, readEnd, 'same end');
    const again = pack(value);
    t.same(tag(readValue(again, 0, again.length).value), tag(value), 'whatever decodes re-encodes to the same value');
  }
  const header = thrown(() => readStructHeader(bytes, 0, bytes.length));
  if (header !== undefined) t.ok(header instanceof PackStreamError, `readStructHeader threw ${String(header)}`);
}

t.test('random bytes: nothing but PackStreamError, and both readers agree', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), checkGarbage), { numRuns: 5000 });
});

t.test('mutated valid encodings: nothing but PackStreamError, and both readers agree', async () => {
  fc.assert(
    fc.property(packValue, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (v, edits, cut) => {
      const bytes = new Uint8Array(pack(v));
      for (const [at, b] of edits) bytes[at % bytes.length] = b;
      checkGarbage(bytes);
      checkGarbage(bytes.subarray(0, cut % (bytes.length + 1)));
    }),
    { numRuns: 2000 },
  );
});

t.test('oracle: our bytes are byte-identical to the neo4j driver packer', async () => {
  fc.assert(
    fc.property(packValue, (v) => {
      const t = inProperty;
      const ours = pack(v);
      const theirs = driverPack(v, ours.length);
      t.equal(ours.toString('hex'), theirs.toString('hex'), 'same bytes as the driver');
    }),
    { numRuns: 500 },
  );
});

// --- examples ---

t.test('hand-written Bolt messages', async (t) => {
  const success = hex('b1 70 a1 86 66 69 65 6c 64 73 91 81 78');
  const got = readValue(success, 0, success.length);
  t.ok(isStruct(got.value), 'a struct');
  const s = got.value as PackStruct;
  t.equal(s.signature, 0x70, 'SUCCESS');
  t.ok(isMap(s.fields[0]!), 'its metadata is a map');
  t.same(tag(s.fields[0]!), tag(nullProto([['fields', ['x']]])));
  t.equal(got.end, success.length);
  t.same(readStructHeader(success, 0, success.length), { size: 1, signature: 0x70, next: 2 });
  t.equal(packStruct(0x70, [nullProto([['fields', ['x']]])]).toString('hex'), success.toString('hex'), 'packStruct builds it back');

  // RUN "RETURN 1" {} {db: "neo4j"}
  const run = hex('b3 10 88 52 45 54 55 52 4e 20 31 a0 a1 82 64 62 85 6e 65 6f 34 6a');
  const r = readValue(run, 0, run.length).value as PackStruct;
  t.equal(r.signature, 0x10);
  t.equal(r.fields[0], 'RETURN 1');
  t.same(Object.keys(r.fields[1] as PackMap), []);
  t.equal((r.fields[2] as PackMap).db, 'neo4j');
  t.equal(packStruct(0x10, ['RETURN 1', nullProto([]), { db: 'neo4j' }]).toString('hex'), run.toString('hex'), 'plain objects encode as maps too');

  // PULL {n: -1}
  t.equal(packStruct(0x3f, [{ n: -1 }]).toString('hex'), 'b13fa1816eff');
  // FAILURE {neo4j_code, message}
  const failure = packStruct(0x7f, [{ neo4j_code: 'Neo.ClientError.Security.Unauthorized', message: 'no' }]);
  const f = readValue(failure, 0, failure.length).value as PackStruct;
  t.equal((f.fields[0] as PackMap).neo4j_code, 'Neo.ClientError.Security.Unauthorized');
});

t.test('integer encodings: smallest size, and number vs bigint on decode', async (t) => {
  const cases: [number | bigint, string][] = [
    [0, '00'],
    [127, '7f'],
    [-1, 'ff'],
    [-16, 'f0'],
    [-17, 'c8ef'],
    [-128, 'c880'],
    [128, 'c90080'],
    [-129, 'c9ff7f'],
    [32767, 'c97fff'],
    [32768, 'ca00008000'],
    [-32769, 'caffff7fff'],
    [2 ** 31 - 1, 'ca7fffffff'],
    [2 ** 31, 'cb0000000080000000'],
    [-(2 ** 31) - 1, 'cbffffffff7fffffff'],
    [SAFE, 'cb001fffffffffffff'],
    [-SAFE, 'cbffe0000000000001'],
    [2n ** 53n, 'cb0020000000000000'],
    [INT64_MAX, 'cb7fffffffffffffff'],
    [INT64_MIN, 'cb8000000000000000'],
  ];
  for (const [n, want] of cases) {
    const bytes = pack(n);
    t.equal(bytes.toString('hex'), want, `${n} encodes as ${want}`);
    const back = readValue(bytes, 0, bytes.length).value;
    t.equal(back, n, `${want} decodes to ${typeof n} ${n}`);
  }
  t.equal(pack(5n).toString('hex'), '05', 'a small bigint takes the small encoding');
  t.equal(pack(-(2n ** 40n)).toString('hex'), pack(-(2 ** 40)).toString('hex'), 'bigint and number agree');
  t.equal(readValue(hex('cb 00 00 00 00 00 00 00 05'), 0, 9).value, 5, 'a non-minimal INT_64 still decodes to a number');
  t.equal(readValue(hex('c9 ff fe'), 0, 3).value, -2);
  t.equal(pack(new PackFloat(1)).toString('hex'), 'c13ff0000000000000', 'a PackFloat stays a float');
  t.ok(Object.is((readValue(hex('c1 80 00 00 00 00 00 00 00'), 0, 9).value as PackFloat).value, -0), '-0.0 survives');
  for (const bad of [1.5, NaN, Infinity, 2 ** 64, 2n ** 63n, -(2n ** 63n) - 1n]) {
    t.throws(() => pack(bad), PackStreamError, `${String(bad)} is refused`);
  }
  t.match(thrown(() => pack(1.5)), { code: 'PACKSTREAM', message: /PackFloat/ }, 'the message says to use PackFloat');
  t.equal(pack(2 ** 60).toString('hex'), pack(2n ** 60n).toString('hex'), 'an exact integer number past 2^53 is an INT_64');
});

t.test('sizes: strings, bytes, lists and maps cross their 8/16/32-bit headers', async (t) => {
  const sizes = [0, 15, 16, 255, 256, 65535, 65536];
  for (const n of sizes) {
    const s = 'a'.repeat(n);
    const enc = pack(s);
    const marker = n < 16 ? (0x80 | n).toString(16) : n < 256 ? 'd0' : n < 65536 ? 'd1' : 'd2';
    t.equal(enc[0]!.toString(16), marker, `a ${n}-byte string's marker`);
    t.equal(readValue(enc, 0, enc.length).value, s);
    const b = pack(new Uint8Array(n));
    t.equal(b[0]!.toString(16), n < 256 ? 'cc' : n < 65536 ? 'cd' : 'ce', `${n} bytes' marker`);
    t.equal((readValue(b, 0, b.length).value as Uint8Array).length, n);
    if (n <= 65536) {
      const list = pack(new Array<PackValue>(n).fill(null));
      t.equal(list[0]!.toString(16), n < 16 ? (0x90 | n).toString(16) : n < 256 ? 'd4' : n < 65536 ? 'd5' : 'd6', `a list of ${n}`);
      t.equal((readValue(list, 0, list.length).value as PackValue[]).length, n);
      t.equal(skipValue(list, 0, list.length), list.length);
      const map = pack(nullProto(Array.from({ length: n }, (_, i): [string, PackValue] => [`k${i}`, i])));
      t.equal(map[0]!.toString(16), n < 16 ? (0xa0 | n).toString(16) : n < 256 ? 'd8' : n < 65536 ? 'd9' : 'da', `a map of ${n}`);
      t.equal(Object.keys(readValue(map, 0, map.length).value as PackMap).length, n);
      t.equal(skipValue(map, 0, map.length), map.length);
    }
  }
  t.equal(pack('é😀').toString('hex'), '86c3a9f09f9880', 'UTF-8, astral characters as 4 bytes');
});

t.test('maps: null prototype, "__proto__" is just a key, keys must be strings', async (t) => {
  const m = nullProto([['__proto__', 1], ['constructor', 'x']]);
  const enc = pack(m);
  const back = readValue(enc, 0, enc.length).value as PackMap;
  t.equal(Object.getPrototypeOf(back), null, 'decoded maps have no prototype');
  t.equal(back['__proto__'], 1);
  t.same(Object.keys(back).sort(), ['__proto__', 'constructor']);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing leaked into Object.prototype');
  // a map with struct-like keys stays a map
  const lookalike = nullProto([['signature', 1], ['fields', []]]);
  t.ok(isMap(lookalike) && !isStruct(lookalike));
  t.equal(pack(lookalike)[0], 0xa2);
  // {1: "x"}: an integer key
  t.match(thrown(() => readValue(hex('a1 01 81 78'), 0, 4)), { code: 'PACKSTREAM', message: /map key at offset 1 is not a string/ });
  t.match(thrown(() => skipValue(hex('a1 01 81 78'), 0, 4)), { code: 'PACKSTREAM', message: /map key at offset 1 is not a string/ });
  t.match(thrown(() => pack({ a: undefined } as unknown as PackValue)), { code: 'PACKSTREAM', message: /"a".*undefined/ });
  t.match(thrown(() => pack(new Date() as unknown as PackValue)), { code: 'PACKSTREAM', message: /Date/ });
});

t.test('malformed input: unknown markers, truncation, depth, bad ranges', async (t) => {
  for (const m of [0xc4, 0xc5, 0xc6, 0xc7, 0xcf, 0xd3, 0xd7, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xe8, 0xef]) {
    const buf = Buffer.from([m, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    t.match(thrown(() => readValue(buf, 0, buf.length)), { code: 'PACKSTREAM', message: new RegExp(`marker 0x${m.toString(16).toUpperCase()} at offset 0`) });
    t.type(thrown(() => skipValue(buf, 0, buf.length)), PackStreamError);
  }
  t.match(thrown(() => readValue(hex('d2 ff ff ff ff 41'), 0, 6)), { message: /STRING of 4294967295 bytes at offset 0 is truncated/ });
  t.match(thrown(() => readValue(hex('d6 ff ff ff ff 00'), 0, 6)), { message: /LIST of 4294967295 items/ }, 'a huge count fails at once');
  t.match(thrown(() => readValue(hex('91 92 81'), 0, 3)), { message: /LIST of 2 items at offset 1 is truncated/ });
  t.match(thrown(() => readValue(hex('92 81 78'), 0, 3)), { message: /value at offset 3 is truncated/ }, 'the second item is missing');
  const deep = (n: number): Buffer => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0x90])]);
  const ok = deep(63); // 64 lists: the innermost is inside 63 others
  t.equal(readValue(ok, 0, ok.length).end, ok.length, '64 nested lists are fine');
  t.equal(skipValue(ok, 0, ok.length), ok.length);
  const tooDeep = deep(64);
  t.match(thrown(() => readValue(tooDeep, 0, tooDeep.length)), { code: 'PACKSTREAM', message: /deeper than 64/ });
  t.match(thrown(() => skipValue(tooDeep, 0, tooDeep.length)), { code: 'PACKSTREAM', message: /deeper than 64/ });
  const cyclic: PackValue[] = [];
  cyclic.push(cyclic);
  t.match(thrown(() => pack(cyclic)), { code: 'PACKSTREAM', message: /deeper than 64/ }, 'a cycle is refused, not a stack overflow');
  const huge = Buffer.alloc(100_000, 0x91);
  t.type(thrown(() => readValue(huge, 0, huge.length)), PackStreamError, '100k nested lists: no stack overflow');
  t.type(thrown(() => skipValue(huge, 0, huge.length)), PackStreamError);
  t.match(thrown(() => readValue(Buffer.from([1]), 0, 5)), { code: 'PACKSTREAM', message: /read range 0\.\.5/ });
  t.match(thrown(() => readStructHeader(hex('a0 00'), 0, 2)), { code: 'PACKSTREAM', message: /expected a PackStream struct/ });
  t.match(thrown(() => packStruct(0x70, new Array<PackValue>(16).fill(null))), { code: 'PACKSTREAM', message: /0\.\.15 fields/ });
});

t.test('PackWriter: headers, reuse, growth, copies', async (t) => {
  const w = new PackWriter(16);
  w.structHeader(3, 0x10).string('RETURN $x').mapHeader(1).string('x').int(1).mapHeader(0);
  const first = w.bytes();
  t.equal(first.toString('hex'), packStruct(0x10, ['RETURN $x', { x: 1 }, {}]).toString('hex'));
  w.reset();
  w.listHeader(2).value('a'.repeat(1000)).value(new PackFloat(0.5));
  const second = w.bytes();
  t.equal(first.toString('hex'), packStruct(0x10, ['RETURN $x', { x: 1 }, {}]).toString('hex'), 'bytes() returned a copy');
  t.same(tag(readValue(second, 0, second.length).value), tag(['a'.repeat(1000), new PackFloat(0.5)]), 'grew past its initial 16 bytes');
  t.throws(() => w.structHeader(16, 1), PackStreamError);
  t.throws(() => w.structHeader(1, 256), PackStreamError);
  t.throws(() => w.listHeader(-1), PackStreamError);
});
