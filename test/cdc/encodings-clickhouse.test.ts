// The encodings against a real ClickHouse (18.16 here): a table with every
// supported type, lines from compileRowEncoder inserted with
// `INSERT ... FORMAT JSONEachRow`, read back with toString and compared.
// Types the server is too old for (DateTime64, Bool, Date32 on 18.16) are
// added only when it has them.
import t from 'tap';
import type { ChangeEvent, FieldSchema } from '../../src/cdc/change-event.js';
import { parseClickHouseType } from '../../src/cdc/clickhouse-type.js';
import { SEMANTIC } from '../../src/cdc/encodings.js';
import { compileRowEncoder } from '../../src/cdc/row-encoder.js';
import type { ColumnMapping, TableMapping } from '../../src/cdc/table-mapping.js';
import { withClickHouse } from '../services/index.js';
import { fileTimeoutAtLeast } from '../support/file-timeout.js';

fileTimeoutAtLeast(t, 120_000);

interface Col {
  name: string;
  type: string;
  /** the server version (major) that has the type */
  since?: number;
  /** read back as `expr` (default toString(name)) */
  read?: string;
  /** row values (per event) and what toString gives back */
  values: Array<[unknown, string]>;
  schema?: FieldSchema;
}

const ID = '123e4567-e89b-12d3-a456-426614174000';
const COLS: Col[] = [
  { name: 's', type: 'String', values: [['héllo "q"\n✓\\', 'héllo "q"\n✓\\'], [42, '42'], [null, '']] },
  { name: 'fs', type: 'FixedString(4)', read: 'toStringCutToZero(fs)', values: [['ab', 'ab'], ['abcd', 'abcd'], [null, '']] },
  { name: 'u', type: 'UUID', values: [[ID, ID], [ID.toUpperCase(), ID], [null, '00000000-0000-0000-0000-000000000000']] },
  { name: 'i8', type: 'Int8', values: [[-128, '-128'], [127, '127'], [null, '0']] },
  { name: 'i16', type: 'Int16', values: [[-32768, '-32768'], [32767, '32767'], [null, '0']] },
  { name: 'i32', type: 'Int32', values: [[-2147483648, '-2147483648'], ['2147483647', '2147483647'], [null, '0']] },
  { name: 'i64', type: 'Int64', values: [['-9223372036854775808', '-9223372036854775808'], [9007199254740991, '9007199254740991'], [null, '0']] },
  { name: 'u8', type: 'UInt8', values: [[true, '1'], [false, '0'], [null, '0']] },
  { name: 'u16', type: 'UInt16', values: [[65535, '65535'], [0, '0'], [null, '0']] },
  { name: 'u32', type: 'UInt32', values: [[4294967295, '4294967295'], [1, '1'], [null, '0']] },
  { name: 'u64', type: 'UInt64', values: [['18446744073709551615', '18446744073709551615'], [2 ** 63, '9223372036854775808'], [null, '0']] },
  { name: 'f32', type: 'Float32', values: [[1.5, '1.5'], ['NaN', 'nan'], [null, '0']] },
  { name: 'f64', type: 'Float64', values: [[-0.25, '-0.25'], ['-Infinity', '-inf'], [null, '0']] },
  // schemaless base64 uses the column scale; with a schema, the schema's
  { name: 'dec', type: 'Decimal(18, 4)', schema: { type: 'bytes', name: SEMANTIC.decimal, parameters: { scale: '2' } }, values: [['BNI=', '0.1234'], ['+/4=', '-0.0002'], [null, '0.0000']] },
  { name: 'd32', type: 'Decimal32(2)', values: [[12.5, '12.50'], ['-9999999.99', '-9999999.99'], [null, '0.00']] },
  { name: 'd128', type: 'Decimal128(10)', values: [[{ scale: 2, value: 'BNI=' }, '12.3400000000'], ['-12345678901234567890.123456789', '-12345678901234567890.1234567890'], [null, '0.0000000000']] },
  { name: 'd', type: 'Date', schema: { type: 'int32', name: SEMANTIC.date }, values: [[19675, '2023-11-14'], [0, '0000-00-00'], [null, '0000-00-00']] },
  { name: 'dt', type: 'DateTime', read: 'toUnixTimestamp(dt)', schema: { type: 'int64', name: SEMANTIC.timestamp }, values: [[1_700_000_000_999_999, '1700000000'], [4_102_444_800_123, '4102444800'], [null, '0']] },
  { name: 'dtz', type: "DateTime('Asia/Tokyo')", read: 'toUnixTimestamp(dtz)', values: [['2023-11-14T22:13:20.5+01:00', '1699996400'], ['2023-11-14 22:13:20', '1700000000'], [null, '0']] },
  { name: 'e', type: "Enum8('a' = 1, 'b\\'q' = -2)", values: [["b'q", "b'q"], [1, 'a'], [null, "b'q"]] },
  { name: 'ns', type: 'Nullable(String)', read: "ifNull(ns, 'NULL')", values: [[null, 'NULL'], ['z', 'z'], [null, 'NULL']] },
  { name: 'ni', type: 'Nullable(Int64)', read: "ifNull(toString(ni), 'NULL')", values: [['-5', '-5'], [null, 'NULL'], [null, 'NULL']] },
  { name: 'lc', type: 'LowCardinality(String)', values: [['x', 'x'], ['', ''], [null, '']] },
  { name: 'dt64', type: 'DateTime64(6)', since: 20, read: 'toString(toUnixTimestamp64Micro(dt64))', values: [[1_700_000_000_123_456, '1700000000123456'], [-100_500_000, '-100500000'], [null, '0']] },
  { name: 'dt64utc', type: "DateTime64(3, 'UTC')", since: 20, schema: { type: 'string', name: SEMANTIC.zonedTimestamp }, values: [['2023-11-14T22:13:20.123456Z', '2023-11-14 22:13:20.123'], ['1969-12-31T23:59:59.999Z', '1969-12-31 23:59:59.999'], [null, '1970-01-01 00:00:00.000']] },
  { name: 'b', type: 'Bool', since: 22, values: [[true, 'true'], [0, 'false'], [null, 'false']] },
  { name: 'dx', type: 'Date32', since: 22, values: [[-25567, '1900-01-01'], ['2299-12-31', '2299-12-31'], [null, '1970-01-01']] },
];

t.test('every supported type round-trips through JSONEachRow', async (t) => {
  const ch = await withClickHouse(t);
  const version = (await ch.query('SELECT version()')).trim();
  const major = Number(version.split('.')[0]);
  const cols = COLS.filter((c) => (c.since ?? 0) <= major);
  const skipped = COLS.filter((c) => !cols.includes(c)).map((c) => c.type);
  if (skipped.length > 0) t.comment(`ClickHouse ${version} has no ${skipped.join(', ')}: not checked here`);

  const lcSetting: Record<string, number> = major < 19 ? { allow_experimental_low_cardinality_type: 1 } : {};
  await ch.query(
    `CREATE TABLE enc (id UInt32, ${cols.map((c) => `${c.name} ${c.type}`).join(', ')}, _version UInt64, _is_deleted UInt8) ENGINE = MergeTree ORDER BY id`,
    { settings: lcSetting },
  );
  // Types as this server reports them, parsed like table-check does.
  const reported = new Map(
    (await ch.query("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'enc' FORMAT JSONEachRow"))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; type: string })
      .map((r) => [r.name, r.type]),
  );
  const column = (name: string, key = false): ColumnMapping => ({ column: name, field: name, type: parseClickHouseType(reported.get(name) as string), key, hasDefault: false, timestampUnit: 'us' });
  const mapping: TableMapping = {
    topic: 'cdc.enc',
    table: 'enc',
    columns: [column('id', true), ...cols.map((c) => column(c.name))],
    version: { column: '_version', from: 'lsn', type: parseClickHouseType('UInt64') },
    deleted: { column: '_is_deleted', type: parseClickHouseType('UInt8') },
  };
  for (const c of mapping.columns) t.not(c.type.kind, 'unsupported', `${reported.get(c.column)} parses`);
  const encode = compileRowEncoder(mapping);

  // Event 1: schemaless; event 2: with field schemas; event 3: a delete with nulls.
  const fields = new Map<string, FieldSchema>(cols.filter((c) => c.schema).map((c) => [c.name, c.schema as FieldSchema]));
  const secondValue: Record<string, unknown> = {};
  for (const c of cols) {
    // with a schema, event 2 sends what that semantic type carries
    secondValue[c.name] = c.values[1]?.[0];
  }
  secondValue.dec = 'BNI='; // Decimal scale 2 from the schema: 12.34
  secondValue.d = 1; // io.debezium.time.Date
  secondValue.dt = 1_700_000_000_500; // io.debezium.time.Timestamp (ms)
  const expected2: Record<string, string> = { dec: '12.3400', d: '1970-01-02', dt: '1700000000' };
  const events: ChangeEvent[] = [
    { op: 'c', row: { id: 1, ...Object.fromEntries(cols.map((c) => [c.name, c.values[0]?.[0]])) }, fields: undefined, source: { lsn: 10 }, tsMs: undefined },
    { op: 'u', row: { id: 2, ...secondValue }, fields, source: { lsn: 11 }, tsMs: undefined },
    { op: 'd', row: { id: 3, ...Object.fromEntries(cols.map((c) => [c.name, null])) }, fields: undefined, source: { lsn: 12 }, tsMs: undefined },
  ];
  const body = events.map((ev) => encode(ev)).join('');
  t.comment(body);
  await ch.query(`INSERT INTO enc FORMAT JSONEachRow\n${body}`);

  const select = cols.map((c) => `${c.read ?? `toString(${c.name})`} AS ${c.name}`).join(', ');
  const rows = (await ch.query(`SELECT id, _version, _is_deleted, ${select} FROM enc ORDER BY id FORMAT JSONEachRow`))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(rows.length, 3, 'three rows');
  for (let r = 0; r < 3; r++) {
    const row = rows[r] as Record<string, unknown>;
    t.equal(String(row._version), String(10 + r), `row ${r + 1}: version`);
    t.equal(String(row._is_deleted), r === 2 ? '1' : '0', `row ${r + 1}: deleted flag`);
    for (const c of cols) {
      const want = r === 1 && expected2[c.name] !== undefined ? expected2[c.name] : c.values[r]?.[1];
      t.equal(String(row[c.name]), want, `row ${r + 1}: ${c.type} ${JSON.stringify(r === 1 ? secondValue[c.name] : c.values[r]?.[0])}`);
    }
  }
});
