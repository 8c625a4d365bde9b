// Debezium values → JSONEachRow value text, one encoder closure per (column
// type, Debezium semantic type), chosen once per mapping/schema, not per value.
//
// Formats (accepted by ClickHouse 18.16 and current versions in JSONEachRow):
//   String/FixedString  JSON string; a non-string value is its JSON text as a string
//   UUID                JSON string, shape-checked (8-4-4-4-12 hex)
//   (U)Int8..256        unquoted integer; booleans → 1/0. Numbers beyond 2^53 lost
//                       precision in JSON.parse already (written as the double's exact
//                       value); integer *strings* stay exact
//   Float32/64          unquoted number; Jackson's "NaN"/"Infinity" → "nan"/"inf"
//   Decimal(P,S)        UNQUOTED exact decimal text with S fraction digits, built from
//                       the digits (BigInt only past 2^53): 18.16 rejects quoted decimals.
//                       Never rounded: extra non-zero digits or > P digits → out_of_range.
//                       Schemaless, a padded base64 string is Decimal bytes at the column
//                       scale, other strings decimal text (so "1234" reads as base64)
//   Date/Date32         "YYYY-MM-DD" (18.16 rejects a day number); Date only up to
//                       2105-12-31, because 18.16 silently stores later dates as 0000-00-00
//   DateTime            unquoted UNIX seconds (time-zone independent); sub-seconds truncated
//   DateTime64(p)       "SSSSSSSSSS.fff…" — a quoted UNIX timestamp with p fraction digits,
//                       zero-padded to 10 integer digits so ClickHouse never reads it as a
//                       date; tz-independent (checked on 26.9; not in 18.16). An unquoted
//                       number means seconds on new versions but raw ticks on older ones.
//                       Before 1970 it is "-SSSSSSSSSS.fff" (= -(S + .fff)), which needs
//                       date_time_input_format=basic (the server default; best_effort
//                       rejects it); in a column declared with tz UTC it is the UTC calendar
//                       text "YYYY-MM-DD hh:mm:ss.fff" instead, which also covers the second
//                       just before 1970 (otherwise out_of_range).
//   Bool                true/false
//   Enum8/16            the quoted name (18.16 rejects the number); numbers map to names
//   Nullable(X)         null; a null into a non-Nullable column is an error
import type { FieldSchema } from './change-event.js';
import type { ClickHouseType } from './clickhouse-type.js';
import { CdcError, excerpt, type CdcErrorCode } from './errors.js';
import type { TimestampUnit } from './table-mapping.js';

/** Encodes one non-undefined value (null included) to JSONEachRow text; throws CdcError. */
export type ValueEncoder = (value: unknown) => string;

/** What an encoder needs of a column mapping. */
export interface EncoderTarget {
  column: string;
  /** The event field, for messages. */
  field?: string;
  type: ClickHouseType;
  timestampUnit: TimestampUnit;
}

export const SEMANTIC = {
  microTimestamp: 'io.debezium.time.MicroTimestamp',
  timestamp: 'io.debezium.time.Timestamp',
  nanoTimestamp: 'io.debezium.time.NanoTimestamp',
  zonedTimestamp: 'io.debezium.time.ZonedTimestamp',
  date: 'io.debezium.time.Date',
  microTime: 'io.debezium.time.MicroTime',
  time: 'io.debezium.time.Time',
  nanoTime: 'io.debezium.time.NanoTime',
  uuid: 'io.debezium.data.Uuid',
  decimal: 'org.apache.kafka.connect.data.Decimal',
  variableScaleDecimal: 'io.debezium.data.VariableScaleDecimal',
  connectTimestamp: 'org.apache.kafka.connect.data.Timestamp',
  connectDate: 'org.apache.kafka.connect.data.Date',
  connectTime: 'org.apache.kafka.connect.data.Time',
} as const;

/** Unit of an integer time value: a timestamp unit, or days since the epoch. */
type TimeUnit = TimestampUnit | 'days';
const UNIT_DIGITS: Record<TimestampUnit, number> = { s: 0, ms: 3, us: 6, ns: 9 };
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const ZEROS = '0'.repeat(80);

// ---- calendar arithmetic (proleptic Gregorian, UTC; no Date objects) ------

/** Days since 1970-01-01 of a civil date. */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** 'YYYY-MM-DD' of a day number (years 0..9999). */
export function civilText(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 1000 ? String(y).padStart(4, '0') : y}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

// Date is UInt16 days (to 2149-06-06) but 18.16 parses dates after 2105-12-31 as
// 0000-00-00 without an error: stop where every version stores the date.
const DATE_MAX_DAYS = daysFromCivil(2105, 12, 31);
const DATE32_MIN_DAYS = daysFromCivil(1900, 1, 1);
const DATE32_MAX_DAYS = daysFromCivil(2299, 12, 31);
const DATETIME_MAX = 4294967295; // DateTime is UInt32 seconds: 2106-02-07 06:28:15
const DT64_MIN = DATE32_MIN_DAYS * 86400;
const DT64_MAX = DATE32_MAX_DAYS * 86400 + 86399;

// ---- ISO-8601 instants (ZonedTimestamp), parsed without regexes ------------

// Results of the last successful parseIso (module scratch: no object per value).
let isoSec = 0;
let isoFrac = '';

function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const MONTH_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * YYYY-MM-DD[(T| )hh:mm[:ss[.f…]]][Z|±hh[:mm]]; no zone means UTC. Sets isoSec
 * (UNIX seconds, integer) and isoFrac (fraction digits as written, ≤ 9).
 */
export function parseIso(s: string): boolean {
  const n = s.length;
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  const y = digitsAt(s, 0, 4);
  const mo = digitsAt(s, 5, 2);
  const d = digitsAt(s, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > (MONTH_DAYS[mo] as number)) return false;
  if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return false;
  let sec = daysFromCivil(y, mo, d) * 86400;
  let frac = '';
  let i = 10;
  if (i < n && (s[i] === 'T' || s[i] === ' ' || s[i] === 't')) {
    const h = digitsAt(s, i + 1, 2);
    const mi = s.charCodeAt(i + 3) === 58 ? digitsAt(s, i + 4, 2) : -1;
    if (h < 0 || h > 23 || mi < 0 || mi > 59) return false;
    sec += h * 3600 + mi * 60;
    i += 6;
    if (s.charCodeAt(i) === 58) {
      const se = digitsAt(s, i + 1, 2);
      if (se < 0 || se > 59) return false;
      sec += se;
      i += 3;
      if (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44) {
        const start = ++i;
        while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
        if (i === start || i - start > 9) return false;
        frac = s.slice(start, i);
      }
    }
  }
  if (i < n) {
    const z = s.charCodeAt(i);
    if ((z === 90 || z === 122) && i + 1 === n) {
      // Z
    } else if (z === 43 || z === 45) {
      const oh = digitsAt(s, i + 1, 2);
      let om = 0;
      let end = i + 3;
      if (end < n) {
        if (s.charCodeAt(end) === 58) end++;
        om = digitsAt(s, end, 2);
        end += 2;
      }
      if (oh < 0 || oh > 18 || om < 0 || om > 59 || end !== n) return false;
      const off = oh * 3600 + om * 60;
      sec += z === 43 ? -off : off;
    } else return false;
  }
  isoSec = sec;
  isoFrac = frac;
  return true;
}

// ---- exact decimals ----------------------------------------------------------

const B64 = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
B64[45] = 62; // '-' (URL-safe alphabet)
B64[95] = 63; // '_'

/**
 * Length without '=' padding if `s` is padded base64 (as Java writes it), else -1.
 * Schemaless, this decides "Decimal bytes" vs "decimal text" for a Decimal column:
 * text with a sign or a point is never base64; digits-only text of length 4k is
 * read as base64 (Debezium's default decimal.handling.mode=precise).
 */
function base64Length(s: string): number {
  let n = s.length;
  if (n === 0 || n % 4 !== 0) return -1;
  if (s.charCodeAt(n - 1) === 61) n--;
  if (s.charCodeAt(n - 1) === 61) n--;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || (B64[c] as number) < 0) return -1;
  }
  return n;
}

/**
 * Signed integer text of big-endian two's-complement bytes in base64 (Kafka
 * Connect Decimal's unscaled value), or undefined when `s` is not base64.
 * Up to 6 bytes in Number arithmetic; BigInt beyond.
 */
export function unscaledFromBase64(s: string): string | undefined {
  const n = base64Length(s);
  if (n < 2) return undefined;
  if (n <= 8) {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 64 + (B64[s.charCodeAt(i)] as number);
    const bits = n * 6;
    const bytes = Math.floor(bits / 8);
    v = Math.floor(v / 2 ** (bits - bytes * 8));
    const top = 2 ** (bytes * 8 - 1);
    return String(v >= top ? v - 2 * top : v);
  }
  const buf = Buffer.from(s, 'base64');
  let v = BigInt(`0x${buf.toString('hex')}`);
  if (((buf[0] as number) & 0x80) !== 0) v -= 1n << BigInt(buf.length * 8);
  return v.toString();
}

// Results of the last successful parseDecimal (module scratch).
let decNeg = false;
let decDigits = '0';
let decScale = 0;

/** Decimal text: [+-]digits[.digits][e[+-]digits] → decNeg/decDigits (no leading zeros)/decScale ≥ 0. */
export function parseDecimal(s: string): boolean {
  const n = s.length;
  let i = 0;
  let neg = false;
  if (s.charCodeAt(0) === 45 || s.charCodeAt(0) === 43) {
    neg = s.charCodeAt(0) === 45;
    i = 1;
  }
  const intStart = i;
  while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  let digits = s.slice(intStart, i);
  let scale = 0;
  if (i < n && s.charCodeAt(i) === 46) {
    const f = ++i;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    digits += s.slice(f, i);
    scale = i - f;
  }
  if (digits === '') return false;
  if (i < n && (s.charCodeAt(i) === 101 || s.charCodeAt(i) === 69)) {
    i++;
    let eneg = false;
    if (s.charCodeAt(i) === 45 || s.charCodeAt(i) === 43) eneg = s.charCodeAt(i++) === 45;
    const e = i;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === e || i - e > 4) return false;
    const exp = Number(s.slice(e, i));
    scale += eneg ? exp : -exp;
  }
  if (i !== n) return false;
  if (scale < 0) {
    digits += ZEROS.slice(0, -scale).padEnd(-scale, '0');
    scale = 0;
  }
  let z = 0;
  while (z < digits.length - 1 && digits.charCodeAt(z) === 48) z++;
  decDigits = z > 0 ? digits.slice(z) : digits;
  decNeg = neg && decDigits !== '0';
  decScale = scale;
  return true;
}

/** parseDecimal of a signed integer text with a given scale (Decimal/VariableScaleDecimal). */
function setUnscaled(signed: string, scale: number): void {
  decNeg = signed.charCodeAt(0) === 45;
  decDigits = decNeg ? signed.slice(1) : signed;
  decScale = scale;
}

/** Number → decimal scratch, via its shortest round-trip text (no binary noise added). */
function parseNumber(v: number): boolean {
  if (!Number.isFinite(v)) return false;
  if (Number.isSafeInteger(v)) {
    decNeg = v < 0;
    decDigits = String(decNeg ? -v : v);
    decScale = 0;
    return true;
  }
  return parseDecimal(String(v));
}

/**
 * Rescales the decimal scratch to `scale`: pads with zeros, or drops trailing
 * digits only when they are zeros. False when digits would be lost.
 */
function rescale(scale: number): boolean {
  if (decScale === scale) return true;
  if (decScale < scale) {
    if (decDigits !== '0') decDigits += ZEROS.slice(0, scale - decScale).padEnd(scale - decScale, '0');
  } else {
    const keep = decDigits.length - (decScale - scale);
    for (let i = Math.max(0, keep); i < decDigits.length; i++) if (decDigits.charCodeAt(i) !== 48) return false;
    decDigits = keep <= 0 || decDigits === '0' ? '0' : decDigits.slice(0, keep);
    if (decDigits === '0') decNeg = false;
  }
  decScale = scale;
  return true;
}

/** The decimal scratch as text with exactly decScale fraction digits. */
function decimalText(): string {
  const sign = decNeg ? '-' : '';
  if (decScale === 0) return sign + decDigits;
  const d = decDigits.length <= decScale ? ZEROS.slice(0, decScale + 1 - decDigits.length).padEnd(decScale + 1 - decDigits.length, '0') + decDigits : decDigits;
  const cut = d.length - decScale;
  return `${sign}${d.slice(0, cut)}.${d.slice(cut)}`;
}

// ---- encoder construction ----------------------------------------------------

function unitOf(field: FieldSchema | undefined, fallback: TimeUnit): TimeUnit {
  switch (field?.name) {
    case SEMANTIC.timestamp:
    case SEMANTIC.connectTimestamp:
      return 'ms';
    case SEMANTIC.microTimestamp:
      return 'us';
    case SEMANTIC.nanoTimestamp:
      return 'ns';
    case SEMANTIC.date:
    case SEMANTIC.connectDate:
      return 'days';
    default:
      return fallback;
  }
}

function isDecimalSemantic(field: FieldSchema | undefined): boolean {
  return field?.name === SEMANTIC.decimal || field?.name === SEMANTIC.variableScaleDecimal;
}

function isTimeOfDaySemantic(field: FieldSchema | undefined): TimestampUnit | undefined {
  switch (field?.name) {
    case SEMANTIC.microTime:
      return 'us';
    case SEMANTIC.time:
    case SEMANTIC.connectTime:
      return 'ms';
    case SEMANTIC.nanoTime:
      return 'ns';
    default:
      return undefined;
  }
}

/**
 * The encoder for one column given the event field's schema (undefined when
 * the message has none: then the column type and the value's JSON type decide).
 */
export function valueEncoder(target: EncoderTarget, field?: FieldSchema): ValueEncoder {
  const t = target.type;
  const where = `column ${target.column} (${t.raw})${target.field !== undefined && target.field !== target.column ? ` from field ${target.field}` : ''}`;
  const fail = (code: CdcErrorCode, v: unknown, what: string, fix: string): never => {
    throw new CdcError(code, `${where}: ${what} ${excerpt(v)}; ${fix}`);
  };
  const inner = innerEncoder(target, field, fail);
  const bare = t.lowCardinality ? t.raw.replace(/^LowCardinality\((.*)\)$/, '$1') : t.raw;
  const nullFix = `make the column ${t.lowCardinality ? `LowCardinality(Nullable(${bare}))` : `Nullable(${bare})`} or give it a DEFAULT`;
  return (v) => (v === null ? (t.nullable ? 'null' : fail('unmappable', v, 'null into a non-Nullable column:', nullFix)) : inner(v));
}

type Fail = (code: CdcErrorCode, v: unknown, what: string, fix: string) => never;

/** Decimal scratch from a decimal-shaped source; false when `v` is not one. */
function loadDecimal(v: unknown, field: FieldSchema | undefined, schemalessScale: number | undefined): boolean {
  if (typeof v === 'number') return parseNumber(v);
  if (typeof v === 'string') {
    if (field?.name === SEMANTIC.decimal || (field === undefined && schemalessScale !== undefined && base64Length(v) >= 0)) {
      const u = unscaledFromBase64(v);
      if (u === undefined) return false;
      const p = field?.parameters?.scale;
      setUnscaled(u, p !== undefined ? Number(p) : (schemalessScale ?? 0));
      return true;
    }
    return parseDecimal(v);
  }
  if (typeof v === 'object' && v !== null) {
    // io.debezium.data.VariableScaleDecimal: {scale, value: base64}
    const o = v as { scale?: unknown; value?: unknown };
    if (typeof o.scale !== 'number' || !Number.isInteger(o.scale) || o.scale < 0 || typeof o.value !== 'string') return false;
    const u = unscaledFromBase64(o.value);
    if (u === undefined) return false;
    setUnscaled(u, o.scale);
    return true;
  }
  return false;
}

function innerEncoder(target: EncoderTarget, field: FieldSchema | undefined, fail: Fail): ValueEncoder {
  const t = target.type;
  switch (t.kind) {
    case 'string':
      return stringEncoder(t.fixedLength, field, fail);
    case 'uuid':
      return (v) => (typeof v === 'string' && isUuid(v) ? `"${v}"` : fail('unmappable', v, 'not a UUID:', 'send a UUID string (8-4-4-4-12 hex), or make the column String'));
    case 'int':
    case 'uint':
      return intEncoder(t.kind === 'uint', t.bits, field, fail);
    case 'float':
      return floatEncoder(field, fail);
    case 'decimal':
      return decimalEncoder(t.precision, t.scale, field, fail);
    case 'bool':
      return (v) => {
        if (v === true || v === 1 || v === 'true') return 'true';
        if (v === false || v === 0 || v === 'false') return 'false';
        return fail('unmappable', v, 'not a boolean:', 'send true/false (or 1/0)');
      };
    case 'enum':
      return enumEncoder(t.values, fail);
    case 'date':
      return dateEncoder(t.extended, unitOf(field, 'days'), fail);
    case 'datetime':
      return dateTimeEncoder(unitOf(field, target.timestampUnit), fail, target);
    case 'datetime64':
      return dateTime64Encoder(t.precision, t.timezone !== undefined && UTC_NAMES.has(t.timezone), unitOf(field, target.timestampUnit), fail, target);
    case 'unsupported':
      throw new CdcError('unmappable', `column ${target.column} has type ${t.raw}, which the CDC consumer cannot write: ${t.reason}; change the column type or leave the column out of the mapping`);
  }
}

function stringEncoder(fixedLength: number | undefined, field: FieldSchema | undefined, fail: Fail): ValueEncoder {
  const decimal = isDecimalSemantic(field);
  const timeUnit = isTimeOfDaySemantic(field);
  const check =
    fixedLength === undefined
      ? (s: string) => s
      : (s: string) =>
          Buffer.byteLength(s, 'utf8') <= fixedLength ? s : fail('out_of_range', s, `longer than FixedString(${fixedLength}) (${Buffer.byteLength(s, 'utf8')} bytes):`, 'widen the FixedString or make the column String');
  return (v) => {
    if (decimal && loadDecimal(v, field, undefined)) return JSON.stringify(check(decimalText()));
    if (typeof v === 'string') return JSON.stringify(check(v));
    if (timeUnit !== undefined && typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return JSON.stringify(check(timeOfDay(v, timeUnit)));
    if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(check(String(v)));
    return JSON.stringify(check(JSON.stringify(v)));
  };
}

/** 'hh:mm:ss[.f…]' of a time-of-day integer in `unit`. */
function timeOfDay(v: number, unit: TimestampUnit): string {
  const k = UNIT_DIGITS[unit];
  const p = POW10[k] as number;
  const sec = Math.floor(v / p);
  const h = Math.floor(sec / 3600);
  const m = Math.floor(sec / 60) % 60;
  const s = sec % 60;
  const base = `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}`;
  return k === 0 ? base : `${base}.${String(v - sec * p).padStart(k, '0')}`;
}

function isUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

function intEncoder(unsigned: boolean, bits: number, field: FieldSchema | undefined, fail: Fail): ValueEncoder {
  const bmin = unsigned ? 0n : -(1n << BigInt(bits - 1));
  const bmax = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  // Number bounds: exact up to 32 bits; for 64+ the doubles ±2^63 / 2^64 are exact too.
  const nmin = Number(bmin);
  const nmaxExclusive = bits <= 32 ? Number(bmax) + 1 : Number(bmax + 1n);
  const typeName = `${unsigned ? 'UInt' : 'Int'}${bits}`;
  const range = (v: unknown) => fail('out_of_range', v, `outside ${typeName}:`, 'widen the column type');
  const fromDecimal = (v: unknown): string => {
    if (!rescale(0)) return fail('out_of_range', v, 'has a fraction, cannot go into an integer column:', 'make the column Decimal or Float64');
    const b = BigInt(decNeg ? `-${decDigits}` : decDigits);
    return b < bmin || b > bmax ? range(v) : b.toString();
  };
  return (v) => {
    if (typeof v === 'number') {
      if (Number.isInteger(v)) {
        if (v < nmin || v >= nmaxExclusive) return range(v);
        // Past 2^53 JSON.parse already rounded: write the double's exact value, not its short form.
        return Number.isSafeInteger(v) ? String(v === 0 ? 0 : v) : BigInt(v).toString();
      }
      return fail('unmappable', v, 'not an integer:', 'make the column Float64 or Decimal');
    }
    if (typeof v === 'boolean') return v ? '1' : '0';
    if (loadDecimal(v, field, undefined)) return fromDecimal(v);
    return fail('unmappable', v, 'not an integer:', 'send a number, or map the field to a String column');
  };
}

function floatEncoder(field: FieldSchema | undefined, fail: Fail): ValueEncoder {
  return (v) => {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'boolean') return v ? '1' : '0';
    if (typeof v === 'string') {
      // Jackson writes non-finite doubles as quoted "NaN" / "Infinity".
      if (v === 'NaN') return '"nan"';
      if (v === 'Infinity') return '"inf"';
      if (v === '-Infinity') return '"-inf"';
    }
    if (loadDecimal(v, field, undefined)) return decimalText();
    return fail('unmappable', v, 'not a number:', 'send a number, or map the field to a String column');
  };
}

function decimalEncoder(precision: number, scale: number, field: FieldSchema | undefined, fail: Fail): ValueEncoder {
  return (v) => {
    if (!loadDecimal(v, field, field === undefined ? scale : undefined)) {
      return fail('unmappable', v, 'not a decimal:', 'send a number, a decimal string, or Debezium Decimal bytes (decimal.handling.mode=precise)');
    }
    const from = decScale;
    if (!rescale(scale)) {
      return fail('out_of_range', v, `has ${from} fraction digits, more than the column's scale ${scale}, and they are not zeros:`, `raise the column scale to ${from} (digits are never rounded away)`);
    }
    if (decDigits.length > precision && decDigits !== '0') {
      return fail('out_of_range', v, `needs more than the column's ${precision} digits of precision:`, 'raise the column precision');
    }
    return decimalText();
  };
}

function enumEncoder(values: ReadonlyArray<readonly [string, number]>, fail: Fail): ValueEncoder {
  const names = new Map<string, string>(values.map(([n]) => [n, JSON.stringify(n)]));
  const byValue = new Map<number, string>(values.map(([n, v]) => [v, JSON.stringify(n)]));
  const allowed = values.map(([n]) => n).join(', ');
  const fix = `add it to the Enum (${allowed.length > 60 ? `${allowed.slice(0, 57)}...` : allowed}) or make the column String`;
  return (v) => {
    const hit = typeof v === 'string' ? names.get(v) : typeof v === 'number' ? byValue.get(v) : undefined;
    return hit ?? fail('unmappable', v, 'not a value of the Enum:', fix);
  };
}

function dateEncoder(extended: boolean, unit: TimeUnit, fail: Fail): ValueEncoder {
  const min = extended ? DATE32_MIN_DAYS : 0;
  const max = extended ? DATE32_MAX_DAYS : DATE_MAX_DAYS;
  const range = extended ? '1900-01-01..2299-12-31' : '1970-01-01..2105-12-31 (ClickHouse 18.16 stores later dates as 0000-00-00)';
  const divisor = unit === 'days' ? 1 : 86400 * (POW10[UNIT_DIGITS[unit]] as number);
  return (v) => {
    let days: number;
    if (typeof v === 'number' && Number.isInteger(v)) days = divisor === 1 ? v : Math.floor(v / divisor);
    else if (typeof v === 'string' && parseIso(v)) days = Math.floor(isoSec / 86400);
    else return fail('unmappable', v, 'not a date (days since 1970-01-01, or an ISO date):', 'send io.debezium.time.Date or an ISO-8601 string');
    if (days < min || days > max) return fail('out_of_range', v, `outside ${extended ? 'Date32' : 'Date'}'s range ${range}:`, extended ? 'store it as a String' : 'make the column Date32 or String');
    return `"${civilText(days)}"`;
  };
}

const unitHint = (target: EncoderTarget) => `or set the topic's timestampUnit (cdc.topics.<topic>.timestampUnit) if the integer is not in ${target.timestampUnit}`;

function dateTimeEncoder(unit: TimeUnit, fail: Fail, target: EncoderTarget): ValueEncoder {
  const per = unit === 'days' ? 1 : (POW10[UNIT_DIGITS[unit]] as number);
  const perDay = unit === 'days' ? 86400 : 1;
  return (v) => {
    let sec: number;
    if (typeof v === 'number' && Number.isInteger(v)) sec = Math.floor(v / per) * perDay;
    else if (typeof v === 'string' && parseIso(v)) sec = isoSec;
    else return fail('unmappable', v, 'not a timestamp:', 'send an integer timestamp or an ISO-8601 string');
    if (sec < 0 || sec > DATETIME_MAX) {
      return fail('out_of_range', v, `outside DateTime's range 1970-01-01 00:00:00..2106-02-07 06:28:15 UTC (read as ${unit}):`, `make the column DateTime64, ${unitHint(target)}`);
    }
    return String(sec);
  };
}

const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu']);

/** 'YYYY-MM-DD hh:mm:ss' of UNIX seconds, UTC. */
function utcText(sec: number): string {
  const days = Math.floor(sec / 86400);
  const s = sec - days * 86400;
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  const x = s % 60;
  return `${civilText(days)} ${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${x < 10 ? '0' : ''}${x}`;
}

function dateTime64Encoder(precision: number, utcColumn: boolean, unit: TimeUnit, fail: Fail, target: EncoderTarget): ValueEncoder {
  const k = unit === 'days' ? 0 : UNIT_DIGITS[unit];
  const perUnit = POW10[k] as number;
  const fracOf = (digits: string): string => (digits.length >= precision ? digits.slice(0, precision) : digits + ZEROS.slice(0, precision - digits.length));
  const out = (v: unknown, sec: number, frac: string): string => {
    if (sec < DT64_MIN || sec > DT64_MAX) {
      return fail('out_of_range', v, `outside DateTime64's range 1900-01-01..2299-12-31 (read as ${unit}):`, `check the value, ${unitHint(target)}`);
    }
    if (sec >= 0) return precision === 0 ? `"${String(sec).padStart(10, '0')}"` : `"${String(sec).padStart(10, '0')}.${frac}"`;
    // Before 1970 in a UTC column: the calendar text, which every input format reads.
    if (utcColumn) return precision === 0 ? `"${utcText(sec)}"` : `"${utcText(sec)}.${frac}"`;
    if (precision === 0) return `"-${String(-sec).padStart(10, '0')}"`;
    // ClickHouse reads "-S.F" as -(S + F/10^p): write the magnitude.
    const f = Number(frac);
    if (f === 0) return `"-${String(-sec).padStart(10, '0')}.${frac}"`;
    if (sec === -1) return fail('out_of_range', v, 'is within the second before 1970-01-01, which ClickHouse reads wrongly as a UNIX timestamp:', `declare the column DateTime64(${precision}, 'UTC')`);
    return `"-${String(-sec - 1).padStart(10, '0')}.${String((POW10[precision] as number) - f).padStart(precision, '0')}"`;
  };
  return (v) => {
    if (typeof v === 'number' && Number.isInteger(v)) {
      if (unit === 'days') return out(v, v * 86400, fracOf(''));
      if (Number.isSafeInteger(v)) {
        let sec = Math.floor(v / perUnit);
        let rem = v - sec * perUnit;
        if (rem < 0) {
          sec--;
          rem += perUnit;
        } else if (rem >= perUnit) {
          sec++;
          rem -= perUnit;
        }
        return out(v, sec, fracOf(k === 0 ? '' : String(rem).padStart(k, '0')));
      }
      // Beyond 2^53 (nanoseconds): exact arithmetic on the double's value.
      const b = BigInt(v);
      const p = BigInt(perUnit);
      let sec = b / p;
      let rem = b % p;
      if (rem < 0n) {
        sec--;
        rem += p;
      }
      return out(v, Number(sec), fracOf(rem.toString().padStart(k, '0')));
    }
    if (typeof v === 'string' && parseIso(v)) return out(v, isoSec, fracOf(isoFrac));
    return fail('unmappable', v, 'not a timestamp:', 'send an integer timestamp or an ISO-8601 string');
  };
}
