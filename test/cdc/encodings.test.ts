// Value encodings: examples per ClickHouse type and Debezium semantic type, and
// properties against exact BigInt / Date arithmetic.
import fc from 'fast-check';
import t from 'tap';
import type { FieldSchema } from '../../src/cdc/change-event.js';
import { parseClickHouseType } from '../../src/cdc/clickhouse-type.js';
import { SEMANTIC, civilText, parseIso, unscaledFromBase64, valueEncoder } from '../../src/cdc/encodings.js';
import { CdcError } from '../../src/cdc/errors.js';
import type { TimestampUnit } from '../../src/cdc/table-mapping.js';
import { inProperty } from '../support/property-asserts.js';

const enc = (type: string, field?: FieldSchema, timestampUnit: TimestampUnit = 'us') =>
  valueEncoder({ column: 'c', field: 'f', type: parseClickHouseType(type), timestampUnit }, field);

/** Java BigInteger.toByteArray() of `u`, base64: Kafka Connect Decimal's wire form. */
export function unscaledBase64(u: bigint): string {
  let len = 1;
  while (!(u >= -(1n << BigInt(8 * len - 1)) && u < 1n << BigInt(8 * len - 1))) len++;
  const x = u < 0n ? (1n << BigInt(8 * len)) + u : u;
  return Buffer.from(x.toString(16).padStart(2 * len, '0'), 'hex').toString('base64');
}

/** Exact decimal text of unscaled `u` with `scale` fraction digits. */
export function exactDecimal(u: bigint, scale: number): string {
  const neg = u < 0n;
  let d = (neg ? -u : u).toString();
  if (scale === 0) return (neg ? '-' : '') + d;
  d = d.padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${d.slice(0, -scale)}.${d.slice(-scale)}`;
}

const decimalField = (scale: number): FieldSchema => ({ type: 'bytes', name: SEMANTIC.decimal, parameters: { scale: String(scale) } });

t.test('strings', async (t) => {
  t.equal(enc('String')('a"b\n\u00e9'), '"a\\"b\\n\u00e9"');
  t.equal(enc('String')(12), '"12"', 'number as its text');
  t.equal(enc('String')(true), '"true"');
  t.equal(enc('String')({ a: [1] }), JSON.stringify('{"a":[1]}'), 'object as JSON text');
  t.equal(enc('LowCardinality(String)')('x'), '"x"');
  t.equal(enc('FixedString(3)')('abc'), '"abc"');
  t.throws(() => enc('FixedString(3)')('abcd'), { code: 'out_of_range', message: /FixedString\(3\)/ });
  t.equal(enc('String', decimalField(2))('BNI='), '"12.34"', 'Decimal semantic into String: the decimal text');
  t.equal(enc('String', { type: 'int64', name: SEMANTIC.microTime })(3723000042), '"01:02:03.000042"', 'MicroTime into String');
});

t.test('nulls', async (t) => {
  t.equal(enc('Nullable(String)')(null), 'null');
  t.equal(enc('LowCardinality(Nullable(String))')(null), 'null');
  t.throws(() => enc('String')(null), { code: 'unmappable', reason: 'unmappable', message: /column c \(String\) from field f: null into a non-Nullable column.*Nullable\(String\)/ });
  t.throws(() => enc('LowCardinality(String)')(null), { message: /LowCardinality\(Nullable\(String\)\)/ });
});

t.test('uuid', async (t) => {
  t.equal(enc('UUID', { type: 'string', name: SEMANTIC.uuid })('123e4567-e89b-12d3-a456-426614174000'), '"123e4567-e89b-12d3-a456-426614174000"');
  t.throws(() => enc('UUID')('123e4567-e89b-12d3-a456-42661417400g'), { code: 'unmappable' });
  t.throws(() => enc('UUID')('123e4567e89b12d3a456426614174000'), { code: 'unmappable' });
});

t.test('integers', async (t) => {
  t.equal(enc('Int32')(-5), '-5');
  t.equal(enc('UInt8')(true), '1');
  t.equal(enc('UInt8')(false), '0');
  t.equal(enc('Int64')(-0), '0');
  t.equal(enc('Int64')('9223372036854775807'), '9223372036854775807', 'an integer string stays exact');
  t.throws(() => enc('Int64')('9223372036854775808'), { code: 'out_of_range' });
  t.throws(() => enc('UInt8')(256), { code: 'out_of_range', message: /outside UInt8/ });
  t.throws(() => enc('UInt32')(-1), { code: 'out_of_range' });
  t.throws(() => enc('Int8')(1.5), { code: 'unmappable', message: /not an integer/ });
  t.throws(() => enc('Int32')('abc'), { code: 'unmappable' });
  t.equal(enc('Int32', { type: 'struct', name: SEMANTIC.variableScaleDecimal })({ scale: 2, value: unscaledBase64(1200n) }), '12', 'VariableScaleDecimal 12.00 into Int32');
  t.throws(() => enc('Int32', { type: 'struct', name: SEMANTIC.variableScaleDecimal })({ scale: 2, value: 'BNI=' }), { code: 'out_of_range', message: /fraction/ });
  t.equal(enc('UInt64')(2 ** 63), '9223372036854775808');
  t.equal(enc('Int128')(1e30), '1000000000000000019884624838656', 'beyond 1e21: no exponent');
});

t.test('floats', async (t) => {
  t.equal(enc('Float64')(1.5), '1.5');
  t.equal(enc('Float64')(1e300), '1e+300');
  t.equal(enc('Float32')('NaN'), '"nan"');
  t.equal(enc('Float64')('-Infinity'), '"-inf"');
  t.equal(enc('Float64', decimalField(2))('BNI='), '12.34');
  t.throws(() => enc('Float64')({}), { code: 'unmappable' });
});

t.test('decimals', async (t) => {
  t.equal(enc('Decimal(10, 2)', decimalField(2))('BNI='), '12.34');
  t.equal(enc('Decimal(10, 2)')('BNI='), '12.34', 'schemaless base64: the column scale');
  t.equal(enc('Decimal(10, 4)', decimalField(2))('BNI='), '12.3400', 'smaller source scale pads');
  t.equal(enc('Decimal(10, 1)', decimalField(2))(unscaledBase64(1230n)), '12.3', 'trailing zeros may go');
  t.throws(() => enc('Decimal(10, 1)', decimalField(2))('BNI='), { code: 'out_of_range', message: /raise the column scale to 2/ });
  t.throws(() => enc('Decimal(3, 2)', decimalField(2))(unscaledBase64(1000n)), { code: 'out_of_range', message: /precision/ });
  t.equal(enc('Decimal(10, 2)', decimalField(2))(unscaledBase64(-5n)), '-0.05');
  t.equal(enc('Decimal(38, 0)', decimalField(0))(unscaledBase64(-(10n ** 37n))), `-1${'0'.repeat(37)}`);
  t.equal(enc('Decimal(10, 3)')({ scale: 1, value: unscaledBase64(-125n) }), '-12.500', 'VariableScaleDecimal');
  t.equal(enc('Decimal(10, 2)')(12.5), '12.50', 'a double');
  t.equal(enc('Decimal(10, 2)')('-3.1'), '-3.10', 'decimal text (decimal.handling.mode=string)');
  t.equal(enc('Decimal(10, 2)', { type: 'string' })('1234'), '1234.00', 'digits with a string schema are text, not base64');
  t.equal(enc('Decimal(10, 2)')(1e-2), '0.01');
  t.throws(() => enc('Decimal(10, 2)')(0.1 + 0.2), { code: 'out_of_range' }, 'a double with binary noise is not rounded');
  t.throws(() => enc('Decimal(10, 2)')(true), { code: 'unmappable' });
  t.equal(unscaledFromBase64('gA=='), '-128');
  t.equal(unscaledFromBase64('AIA='), '128');
  t.equal(unscaledFromBase64('not base64!'), undefined);
});

t.test('decimal round-trip (property)', async (t) => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), (u, s, S) => {
      const t = inProperty;
      const b64 = unscaledBase64(u);
      t.equal(unscaledFromBase64(b64), u.toString(), 'unscaled bytes');
      const e = enc(`Decimal(76, ${S})`, decimalField(s));
      if (S >= s) {
        t.equal(e(b64), exactDecimal(u * 10n ** BigInt(S - s), S));
      } else if (u % 10n ** BigInt(s - S) === 0n) {
        t.equal(e(b64), exactDecimal(u / 10n ** BigInt(s - S), S));
      } else {
        t.throws(() => e(b64), { code: 'out_of_range' });
      }
      // the same through a schemaless VariableScaleDecimal and through decimal text
      if (S >= s) {
        t.equal(enc(`Decimal(76, ${S})`)({ scale: s, value: b64 }), exactDecimal(u * 10n ** BigInt(S - s), S));
        t.equal(enc(`Decimal(76, ${S})`, { type: 'string' })(exactDecimal(u, s)), exactDecimal(u * 10n ** BigInt(S - s), S));
      }
    }),
    { numRuns: 500 },
  );
  t.pass('decimals round-trip');
});

t.test('dates and times', async (t) => {
  t.equal(enc('Date', { type: 'int32', name: SEMANTIC.date })(19675), '"2023-11-14"');
  t.equal(enc('Date')(0), '"1970-01-01"', 'schemaless integer = days');
  t.equal(enc('Date')('2023-11-14T23:30:00-02:00'), '"2023-11-15"', 'ISO → UTC date');
  t.throws(() => enc('Date')(-1), { code: 'out_of_range', message: /Date32/ });
  t.throws(() => enc('Date')('2106-01-01'), { code: 'out_of_range' }, '18.16 would store 0000-00-00');
  t.equal(enc('Date32')(-25567), '"1900-01-01"');
  t.equal(enc('Date', { type: 'int64', name: SEMANTIC.microTimestamp })(86_400_000_000 + 5), '"1970-01-02"');

  t.equal(enc('DateTime', { type: 'int64', name: SEMANTIC.microTimestamp })(1_700_000_000_999_999), '1700000000', 'µs, truncated');
  t.equal(enc('DateTime', { type: 'int64', name: SEMANTIC.timestamp })(1_700_000_000_500), '1700000000', 'ms');
  t.equal(enc('DateTime', { type: 'int64', name: SEMANTIC.nanoTimestamp })(1_700_000_000_000_000_000), '1700000000', 'ns');
  t.equal(enc('DateTime')(1_700_000_000_000_000), '1700000000', 'schemaless: timestampUnit us');
  t.equal(enc('DateTime', undefined, 's')(1_700_000_000), '1700000000', 'timestampUnit s');
  t.equal(enc('DateTime', { type: 'int32', name: SEMANTIC.date })(19675), String(19675 * 86400), 'a Date into DateTime: midnight UTC');
  t.equal(enc('DateTime64(3)', { type: 'int32', name: SEMANTIC.date })(-1), '"-0000086400.000"');
  t.equal(enc("DateTime('Europe/Berlin')", { type: 'string', name: SEMANTIC.zonedTimestamp })('2023-11-14T22:13:20.5+01:00'), '1699996400');
  t.throws(() => enc('DateTime', undefined, 'ms')(-1), { code: 'out_of_range', message: /timestampUnit/ });
  t.throws(() => enc('DateTime', undefined, 's')(2 ** 32), { code: 'out_of_range' });
  t.throws(() => enc('DateTime')('yesterday'), { code: 'unmappable' });

  t.equal(enc('DateTime64(6)')(1_700_000_000_123_456), '"1700000000.123456"');
  t.equal(enc('DateTime64(3)')(1_700_000_000_123_456), '"1700000000.123"');
  t.equal(enc('DateTime64(9)')(5), '"0000000000.000005000"', 'zero-padded: never read as a date');
  t.equal(enc('DateTime64(0)', undefined, 'ms')(5999), '"0000000005"');
  t.equal(enc('DateTime64(6)')(-100_500_000), '"-0000000100.500000"', 'before 1970: the magnitude');
  t.throws(() => enc('DateTime64(6)')(-500_000), { code: 'out_of_range', message: /DateTime64\(6, 'UTC'\)/ });
  t.equal(enc("DateTime64(6, 'UTC')")(-1), '"1969-12-31 23:59:59.999999"', 'a UTC column: calendar text before 1970');
  t.equal(enc("DateTime64(0, 'Etc/UTC')")(-2_208_988_800_000_000), '"1900-01-01 00:00:00"');
  t.equal(enc("DateTime64(3, 'UTC')")(1_000), '"0000000000.001"', 'after 1970 still the UNIX form');
  t.equal(enc('DateTime64(9)', { type: 'string', name: SEMANTIC.zonedTimestamp })('2023-11-14T22:13:20.123456789Z'), '"1700000000.123456789"', 'ZonedTimestamp keeps ns');
  t.equal(enc('DateTime64(9)', { type: 'int64', name: SEMANTIC.nanoTimestamp })(1_700_000_000_123_456_789), '"1700000000.123456768"', 'ns beyond 2^53: what JSON.parse kept');
  t.throws(() => enc('DateTime64(3)')('1899-12-31T23:59:59Z'), { code: 'out_of_range' });
});

t.test('timestamps agree with Date arithmetic (property)', async (t) => {
  const instant = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2299, 11, 31, 23, 59, 59, 999) });
  fc.assert(
    fc.property(instant, fc.integer({ min: 0, max: 999 }), (ms, micros) => {
      const t = inProperty;
      const iso = new Date(ms).toISOString();
      t.ok(parseIso(iso), iso);
      const us = ms * 1000 + micros;
      // DateTime64(6) text → ticks again
      if (us > -1_000_000 && us < 0) return; // the second before 1970 has no text form
      const text = JSON.parse(enc('DateTime64(6)')(us)) as string;
      const neg = text.startsWith('-');
      const [whole, frac] = (neg ? text.slice(1) : text).split('.');
      const mag = BigInt(whole as string) * 1_000_000n + BigInt(frac as string);
      const back = neg ? -mag : mag;
      t.equal(back, BigInt(us), `${us} → ${text}`);
      // DateTime and Date inside their ranges
      if (ms >= 0 && ms < 4294967296000) t.equal(enc('DateTime', undefined, 'ms')(ms), String(Math.floor(ms / 1000)));
      const days = Math.floor(ms / 86_400_000);
      t.equal(civilText(days), iso.slice(0, 10));
      t.equal(enc('Date32')(days), `"${iso.slice(0, 10)}"`);
      // an ISO string with an offset gives the same instant
      const off = new Date(ms + 5.5 * 3_600_000).toISOString().replace('Z', '+05:30');
      t.equal(enc('DateTime64(3)')(off), enc('DateTime64(3)', undefined, 'ms')(ms), off);
    }),
    { numRuns: 1000 },
  );
  t.pass('timestamps round-trip');
});

t.test('bool and enum', async (t) => {
  t.equal(enc('Bool')(true), 'true');
  t.equal(enc('Bool')(0), 'false');
  t.throws(() => enc('Bool')('yes'), { code: 'unmappable' });
  const e = enc("Enum8('draft' = 1, 'it\\'s' = -2)");
  t.equal(e('draft'), '"draft"');
  t.equal(e(-2), '"it\'s"', 'a number maps to its name');
  t.throws(() => e('gone'), { code: 'unmappable', message: /add it to the Enum \(draft, it's\)/ });
});

t.test('unsupported column types fail at compile time', async (t) => {
  t.throws(() => enc('Array(String)'), { code: 'unmappable', message: /Array/ });
});

t.test('encoders only throw CdcError (property)', async (t) => {
  const types = ['String', 'UUID', 'Int8', 'UInt64', 'Int256', 'Float32', 'Decimal(9, 3)', 'Date', 'Date32', 'DateTime', 'DateTime64(3)', 'Bool', "Enum8('a' = 1)", 'Nullable(Int32)'];
  const semantics = [undefined, ...Object.values(SEMANTIC)];
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.constantFrom(...semantics), fc.jsonValue(), (type, name, v) => {
      const t = inProperty;
      const e = enc(type, name === undefined ? undefined : { type: 'string', name, parameters: { scale: '2' } });
      try {
        const out = e(v);
        JSON.parse(`{"x":${out}}`);
      } catch (err) {
        t.ok(err instanceof CdcError, `${type} ${name} ${JSON.stringify(v)}: ${String(err)}`);
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('only CdcError, and valid JSON otherwise');
});
