// parseClickHouseType: the strings system.columns reports (18.16 and current),
// and generated type strings rendered with varying whitespace.
import fc from 'fast-check';
import t from 'tap';
import { parseClickHouseType } from '../../src/cdc/clickhouse-type.js';
import { inProperty } from '../support/property-asserts.js';

t.test('examples as ClickHouse reports them', async (t) => {
  t.match(parseClickHouseType('String'), { kind: 'string', nullable: false, lowCardinality: false, raw: 'String' });
  t.match(parseClickHouseType('FixedString(16)'), { kind: 'string', fixedLength: 16 });
  t.match(parseClickHouseType('UUID'), { kind: 'uuid' });
  t.match(parseClickHouseType('Int8'), { kind: 'int', bits: 8 });
  t.match(parseClickHouseType('UInt64'), { kind: 'uint', bits: 64 });
  t.match(parseClickHouseType('Int256'), { kind: 'int', bits: 256 });
  t.match(parseClickHouseType('Float32'), { kind: 'float', bits: 32 });
  t.match(parseClickHouseType('Decimal(10, 2)'), { kind: 'decimal', precision: 10, scale: 2 });
  t.match(parseClickHouseType('Decimal(38,10)'), { kind: 'decimal', precision: 38, scale: 10 });
  t.match(parseClickHouseType('Decimal32(3)'), { kind: 'decimal', precision: 9, scale: 3 });
  t.match(parseClickHouseType('Decimal128(5)'), { kind: 'decimal', precision: 38, scale: 5 });
  t.match(parseClickHouseType('Date'), { kind: 'date', extended: false });
  t.match(parseClickHouseType('Date32'), { kind: 'date', extended: true });
  t.match(parseClickHouseType('DateTime'), { kind: 'datetime', timezone: undefined });
  t.match(parseClickHouseType("DateTime('Europe/Berlin')"), { kind: 'datetime', timezone: 'Europe/Berlin' });
  t.match(parseClickHouseType('DateTime64(6)'), { kind: 'datetime64', precision: 6, timezone: undefined });
  t.match(parseClickHouseType("DateTime64(3, 'UTC')"), { kind: 'datetime64', precision: 3, timezone: 'UTC' });
  t.match(parseClickHouseType('Bool'), { kind: 'bool' });
  t.match(parseClickHouseType('Boolean'), { kind: 'bool' });
  t.same((parseClickHouseType("Enum8('b\\'q' = -2, 'a' = 1)") as { values: unknown }).values, [
    ["b'q", -2],
    ['a', 1],
  ]);
  t.match(parseClickHouseType("Enum16('x' = 1000)"), { kind: 'enum', bits: 16 });
  t.match(parseClickHouseType('Nullable(Decimal(38, 10))'), { kind: 'decimal', nullable: true, raw: 'Nullable(Decimal(38, 10))' });
  t.match(parseClickHouseType('LowCardinality(String)'), { kind: 'string', lowCardinality: true, nullable: false });
  t.match(parseClickHouseType('LowCardinality(Nullable(String))'), { kind: 'string', lowCardinality: true, nullable: true });
  t.match(parseClickHouseType('Nullable(UUID)'), { kind: 'uuid', nullable: true });
});

t.test('unsupported and malformed types are values, not exceptions', async (t) => {
  for (const s of ['Array(String)', 'Map(String, UInt64)', 'Tuple(a String, b Int8)', 'Nested(x Int8)', 'IPv4', 'JSON', 'Nothing', 'AggregateFunction(uniq, String)']) {
    t.match(parseClickHouseType(s), { kind: 'unsupported', reason: /not supported/ }, s);
  }
  for (const s of ['', 'Decimal(', 'Nullable(String', "Enum8('a' = )", 'String)', 'DateTime64(12)', 'Decimal(10, 11)', "DateTime('x"]) {
    t.match(parseClickHouseType(s), { kind: 'unsupported' }, JSON.stringify(s));
  }
});

// A generated type, its canonical rendering and what parsing must give.
interface Gen {
  text: string;
  expect: Record<string, unknown>;
}

const sp = fc.constantFrom('', ' ', '  ');
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const scalar: fc.Arbitrary<Gen> = fc.oneof(
  fc.constantFrom<Gen>(
    { text: 'String', expect: { kind: 'string' } },
    { text: 'UUID', expect: { kind: 'uuid' } },
    { text: 'Float64', expect: { kind: 'float', bits: 64 } },
    { text: 'Date', expect: { kind: 'date', extended: false } },
    { text: 'Date32', expect: { kind: 'date', extended: true } },
    { text: 'DateTime', expect: { kind: 'datetime' } },
    { text: 'Bool', expect: { kind: 'bool' } },
  ),
  fc.record({ u: fc.boolean(), bits: fc.constantFrom(8, 16, 32, 64, 128, 256) }).map(({ u, bits }) => ({ text: `${u ? 'U' : ''}Int${bits}`, expect: { kind: u ? 'uint' : 'int', bits } })),
  fc.integer({ min: 1, max: 76 }).chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: p }), sp)).map(([p, s, w]) => ({ text: `Decimal(${p},${w}${s})`, expect: { kind: 'decimal', precision: p, scale: s } })),
  fc.integer({ min: 1, max: 100 }).map((n) => ({ text: `FixedString(${n})`, expect: { kind: 'string', fixedLength: n } })),
  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.option(fc.string({ maxLength: 12 })), sp).map(([p, tz, w]) => ({
    text: tz === null ? `DateTime64(${p})` : `DateTime64(${p},${w}${quote(tz)})`,
    expect: { kind: 'datetime64', precision: p, timezone: tz ?? undefined },
  })),
  fc.string({ maxLength: 12 }).map((tz) => ({ text: `DateTime(${quote(tz)})`, expect: { kind: 'datetime', timezone: tz } })),
  fc.uniqueArray(fc.tuple(fc.string({ maxLength: 8 }), fc.integer({ min: -128, max: 127 })), { minLength: 1, maxLength: 5, selector: ([n]) => n }).map((vals) => ({
    text: `Enum8(${vals.map(([n, v]) => `${quote(n)} = ${v}`).join(', ')})`,
    expect: { kind: 'enum', bits: 8, values: vals },
  })),
);

const wrapped: fc.Arbitrary<Gen> = fc.tuple(scalar, fc.constantFrom('', 'N', 'L', 'LN'), sp).map(([g, wrap, w]) => {
  let text = g.text;
  if (wrap.includes('N')) text = `Nullable(${w}${text}${w})`;
  if (wrap.includes('L')) text = `LowCardinality(${text})`;
  return { text, expect: { ...g.expect, nullable: wrap.includes('N'), lowCardinality: wrap.includes('L'), raw: text } };
});

t.test('generated type strings parse to their model (property)', async (t) => {
  fc.assert(
    fc.property(wrapped, ({ text, expect }) => {
      const t = inProperty;
      const parsed = parseClickHouseType(text) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(expect)) t.same(parsed[k], v, `${text}: ${k}`);
    }),
    { numRuns: 1000 },
  );
  t.pass('parsed');
});

t.test('arbitrary strings never throw (property)', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), wrapped.map((g) => g.text.slice(0, -1))), (s) => {
      inProperty.ok(typeof parseClickHouseType(s).kind === 'string');
    }),
    { numRuns: 1000 },
  );
  t.pass('no throw');
});
