// compileRowEncoder: one JSONEachRow line per event, renames, omissions,
// deletes, version and deleted columns; generated rows are valid JSON.
import fc from 'fast-check';
import t from 'tap';
import type { ChangeEvent } from '../../src/cdc/change-event.js';
import { parseClickHouseType } from '../../src/cdc/clickhouse-type.js';
import { decodeChange } from '../../src/cdc/debezium.js';
import { CdcError } from '../../src/cdc/errors.js';
import { compileRowEncoder } from '../../src/cdc/row-encoder.js';
import type { ColumnMapping, TableMapping, VersionSource } from '../../src/cdc/table-mapping.js';
import { inProperty } from '../support/property-asserts.js';

const col = (column: string, type: string, opts: Partial<ColumnMapping> = {}): ColumnMapping => ({
  column,
  field: column,
  type: parseClickHouseType(type),
  key: false,
  hasDefault: false,
  timestampUnit: 'us',
  ...opts,
});

const posts = (from: VersionSource = 'lsn', extra: ColumnMapping[] = []): TableMapping => ({
  topic: 'cdc.posts',
  table: 'nova.posts',
  columns: [
    col('id', 'UUID', { key: true }),
    col('caption', 'Nullable(String)'),
    col('image', 'String', { field: 'image_key' }),
    col('soft_delete', 'UInt8'),
    col('created_at', 'DateTime64(6)'),
    ...extra,
  ],
  version: { column: '_version', from, type: parseClickHouseType('UInt64') },
  deleted: { column: '_is_deleted', type: parseClickHouseType('UInt8') },
});

const id = '123e4567-e89b-12d3-a456-426614174000';
const source = { lsn: 24023128, ts_ms: 1_700_000_000_200, ts_us: 1_700_000_000_200_001 };
const ev = (op: ChangeEvent['op'], row: Record<string, unknown>, src: Record<string, unknown> = source): ChangeEvent => ({ op, row, fields: undefined, source: src, tsMs: undefined });
const full = { id, caption: 'a "quoted" caption', image_key: 'k/1.jpg', soft_delete: false, created_at: 1_700_000_000_123_456, unmapped: { x: 1 } };

t.test('an insert: every mapped column, renamed, one line', async (t) => {
  const line = compileRowEncoder(posts())(ev('c', full));
  t.ok(line.endsWith('}\n') && line.indexOf('\n') === line.length - 1, 'one line with its newline');
  t.same(JSON.parse(line), {
    _is_deleted: 0,
    _version: 24023128,
    id,
    caption: 'a "quoted" caption',
    image: 'k/1.jpg',
    soft_delete: 0,
    created_at: '1700000000.123456',
  });
});

t.test('absent fields are omitted, absent keys are errors', async (t) => {
  const enc = compileRowEncoder(posts());
  t.same(Object.keys(JSON.parse(enc(ev('u', { id, caption: null })))), ['_is_deleted', '_version', 'id', 'caption']);
  t.throws(() => enc(ev('c', { caption: 'x' })), { code: 'unmappable', message: /key field id is missing/ });
  t.throws(() => enc(ev('c', { id: null })), { code: 'unmappable', message: /key field id/ });
  t.throws(() => enc(ev('c', { id, image_key: null })), { code: 'unmappable', message: /column image \(String\) from field image_key: null/ });
});

t.test('null into a non-Nullable column with a DEFAULT is omitted', async (t) => {
  const m = posts();
  (m.columns[2] as ColumnMapping).hasDefault = true;
  t.same(JSON.parse(compileRowEncoder(m)(ev('u', { id, image_key: null }))), { _is_deleted: 0, _version: 24023128, id });
});

t.test('a delete: deleted = 1, nulls outside the key omitted', async (t) => {
  const enc = compileRowEncoder(posts());
  const line = enc(ev('d', { id, caption: null, image_key: null, soft_delete: null, created_at: null }));
  t.same(JSON.parse(line), { _is_deleted: 1, _version: 24023128, id });
  t.same(JSON.parse(enc(ev('d', full))), { ...JSON.parse(enc(ev('c', full))), _is_deleted: 1 }, 'REPLICA IDENTITY FULL: the whole before image');
  t.throws(() => enc(ev('d', { caption: null })), { code: 'unmappable', message: /REPLICA IDENTITY FULL/ });
  const withUser = compileRowEncoder(posts('lsn', [col('user_id', 'UUID')]));
  t.same(
    JSON.parse(withUser(ev('d', { id, user_id: '', caption: null, image_key: null, soft_delete: false, created_at: 0 }))),
    { _is_deleted: 1, _version: 24023128, id, soft_delete: 0, created_at: '0000000000.000000' },
    'REPLICA IDENTITY DEFAULT placeholders that do not fit ("" for a uuid) are left out',
  );
  t.throws(() => withUser(ev('c', { id, user_id: '' })), { code: 'unmappable' }, 'but not in an insert');
});

t.test('version sources and a Bool deleted column', async (t) => {
  t.match(compileRowEncoder(posts('ts_ms'))(ev('c', { id })), /"_version":1700000000200,/);
  t.match(compileRowEncoder(posts('ts_us'))(ev('c', { id })), /"_version":1700000000200001,/);
  t.throws(() => compileRowEncoder(posts('ts_ns'))(ev('c', { id })), { code: 'unmappable', message: /no source\.ts_ns.*versionFrom/ });
  const m = posts();
  m.deleted = { column: 'del', type: parseClickHouseType('Bool') };
  m.version = { column: 'v', from: 'ts_us', type: parseClickHouseType('DateTime64(6)') };
  t.match(compileRowEncoder(m)(ev('d', { id })), /^\{"del":true,"v":"1700000000\.200001","id":/);
});

t.test('column names are JSON-escaped', async (t) => {
  const m = posts('lsn', [col('we"ird\\name', 'String', { field: 'w' })]);
  t.same(JSON.parse(compileRowEncoder(m)(ev('c', { id, w: 'v' })))['we"ird\\name'], 'v');
});

t.test('an unsupported column type fails at compile time', async (t) => {
  t.throws(() => compileRowEncoder(posts('lsn', [col('tags', 'Array(String)')])), { code: 'unmappable', message: /tags.*Array/ });
});

t.test('field schemas pick the semantic encoders, per schema', async (t) => {
  const m = posts('lsn', [col('price', 'Decimal(10, 2)')]);
  const enc = compileRowEncoder(m);
  const schema = {
    type: 'struct',
    name: 'nova.public.posts.Envelope',
    fields: [
      {
        field: 'after',
        type: 'struct',
        fields: [
          { field: 'id', type: 'string', name: 'io.debezium.data.Uuid' },
          { field: 'created_at', type: 'int64', name: 'io.debezium.time.Timestamp' },
          { field: 'price', type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '1' } },
        ],
      },
    ],
  };
  const payload = { op: 'c', after: { id, created_at: 1_700_000_000_123, price: 'BNI=' }, source };
  const withSchema = decodeChange(JSON.stringify({ schema, payload }));
  t.match(JSON.parse(enc(withSchema as ChangeEvent)), { created_at: '1700000000.123000', price: 123.4 }, 'ms timestamp and scale-1 decimal from the schema');
  const bare = decodeChange(JSON.stringify(payload));
  t.match(JSON.parse(enc(bare as ChangeEvent)), { created_at: '1700000.000123', price: 12.34 }, 'schemaless: timestampUnit us, column scale');
});

t.test('lines are JSON with the right keys (property)', async (t) => {
  const enc = compileRowEncoder(posts());
  const anyRow = fc.record(
    {
      id: fc.uuid(),
      caption: fc.option(fc.string({ unit: 'binary' })),
      image_key: fc.string({ unit: 'grapheme' }),
      soft_delete: fc.boolean(),
      created_at: fc.integer({ min: 0, max: 4_000_000_000_000_000 }),
      other: fc.jsonValue(),
    },
    { requiredKeys: ['id'] },
  );
  fc.assert(
    fc.property(anyRow, fc.constantFrom<ChangeEvent['op']>('c', 'u', 'd', 'r'), (row, op) => {
      const t = inProperty;
      let line: string;
      try {
        line = enc(ev(op, row));
      } catch (err) {
        t.ok(err instanceof CdcError, String(err));
        return;
      }
      t.ok(line.endsWith('}\n') && !line.slice(0, -1).includes('\n'), 'one line');
      const o = JSON.parse(line) as Record<string, unknown>;
      t.equal(o._is_deleted, op === 'd' ? 1 : 0);
      t.equal(o.id, row.id);
      const expected = ['_is_deleted', '_version', 'id'];
      if (row.caption !== undefined && !(op === 'd' && row.caption === null)) expected.push('caption');
      if (row.image_key !== undefined) expected.push('image');
      if (row.soft_delete !== undefined) expected.push('soft_delete');
      if (row.created_at !== undefined) expected.push('created_at');
      t.same(Object.keys(o), expected);
      if (row.caption !== undefined && row.caption !== null) t.equal(o.caption, row.caption);
      if (row.image_key !== undefined) t.equal(o.image, row.image_key);
    }),
    { numRuns: 1000 },
  );
  t.pass('valid lines');
});
