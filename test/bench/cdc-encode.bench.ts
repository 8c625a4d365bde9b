// CDC hot path microbenchmark: decodeChange(Buffer) + the compiled row encoder,
// per message, for a realistic `posts` insert with schemas on ({schema, payload},
// ~4 KB) and off (~0.8 KB); also decode alone and the JSON.parse floor. Reports;
// asserts nothing. Uses test/cdc/fixtures/posts.insert.*.json when present
// (captured from real Debezium), else built-in messages of the same shape.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/cdc-encode.bench.js [seconds per case, default 2]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseClickHouseType } from '../../src/cdc/clickhouse-type.js';
import { decodeChange } from '../../src/cdc/debezium.js';
import { compileRowEncoder } from '../../src/cdc/row-encoder.js';
import type { ColumnMapping, TableMapping } from '../../src/cdc/table-mapping.js';

const seconds = Number(process.argv[2] ?? 2);
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/cdc/fixtures');

const after = {
  id: '22222222-2222-4222-8222-222222222222',
  user_id: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  caption: 'sunset over the harbour, shot on film #nofilter',
  image_key: 'posts/22222222-2222-4222-8222-222222222222/original.jpg',
  soft_delete: false,
  created_at: 1_709_210_096_789_012,
};
const source = { version: '3.6.1.Final', connector: 'postgresql', name: 'nova', ts_ms: 1_795_757_631_930, snapshot: 'false', db: 'nova', sequence: '["26436984","26436984"]', ts_us: 1_795_757_631_930_505, ts_ns: 1_795_757_631_930_505_000, schema: 'public', table: 'posts', txId: 732, lsn: 26_436_984, xmin: null };
const envelope = { before: null, after, source, transaction: null, op: 'c', ts_ms: 1_795_757_632_135 };
const valueSchema = (field: string) => ({
  type: 'struct',
  optional: true,
  name: 'nova.public.posts.Value',
  field,
  fields: [
    { type: 'string', optional: false, name: 'io.debezium.data.Uuid', version: 1, field: 'id' },
    { type: 'string', optional: false, name: 'io.debezium.data.Uuid', version: 1, field: 'user_id' },
    { type: 'string', optional: true, field: 'caption' },
    { type: 'string', optional: true, field: 'image_key' },
    { type: 'boolean', optional: false, default: false, field: 'soft_delete' },
    { type: 'int64', optional: false, name: 'io.debezium.time.MicroTimestamp', version: 1, default: 0, field: 'created_at' },
  ],
});
const sourceSchema = {
  type: 'struct',
  optional: false,
  name: 'io.debezium.connector.postgresql.Source',
  field: 'source',
  fields: Object.keys(source).map((k) => ({ type: typeof (source as Record<string, unknown>)[k] === 'number' ? 'int64' : 'string', optional: true, field: k })),
};
const schema = { type: 'struct', optional: false, name: 'nova.public.posts.Envelope', version: 2, fields: [valueSchema('before'), valueSchema('after'), sourceSchema, { type: 'string', optional: false, field: 'op' }, { type: 'int64', optional: true, field: 'ts_ms' }] };

function message(tag: 'schemas-on' | 'schemas-off'): { text: string; from: string } {
  const file = path.join(FIXTURES, `posts.insert.${tag}.json`);
  if (fs.existsSync(file)) return { text: (JSON.parse(fs.readFileSync(file, 'utf8')) as { value: string }).value, from: path.relative(process.cwd(), file) };
  return { text: JSON.stringify(tag === 'schemas-on' ? { schema, payload: envelope } : envelope), from: 'built-in' };
}

const col = (column: string, type: string, key = false): ColumnMapping => ({ column, field: column, type: parseClickHouseType(type), key, hasDefault: false, timestampUnit: 'us' });
const mapping: TableMapping = {
  topic: 'cdc.posts',
  table: 'posts',
  columns: [col('id', 'UUID', true), col('user_id', 'UUID'), col('caption', 'Nullable(String)'), col('image_key', 'Nullable(String)'), col('soft_delete', 'UInt8'), col('created_at', 'DateTime64(6)')],
  version: { column: '_version', from: 'lsn', type: parseClickHouseType('UInt64') },
  deleted: { column: '_is_deleted', type: parseClickHouseType('UInt8') },
};

function measure(name: string, bytes: number, op: () => number): void {
  const BATCH = 1000;
  let sink = 0;
  for (const end = performance.now() + 500; performance.now() < end; ) for (let i = 0; i < BATCH; i++) sink += op();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < BATCH; i++) sink += op();
    n += BATCH;
    now = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const ns = ((now - start) * 1e6) / n;
  // CPU time per message (user+sys of this process, GC threads included) is steadier than wall time on a shared machine.
  const cpuNs = ((cpu.user + cpu.system) * 1e3) / n;
  console.log(
    `${name.padEnd(34)} ${String(bytes).padStart(5)} B  wall ${ns.toFixed(0).padStart(6)} ns/msg (${Math.round(1e9 / ns).toLocaleString('en-US').padStart(9)} msg/s)  cpu ${cpuNs.toFixed(0).padStart(6)} ns/msg  (sink ${sink % 7})`,
  );
}

const encode = compileRowEncoder(mapping);
console.log(`node ${process.version}, ${seconds}s per case`);
for (const tag of ['schemas-off', 'schemas-on'] as const) {
  const { text, from } = message(tag);
  const buf = Buffer.from(text);
  const ev = decodeChange(buf);
  if (ev === null) throw new Error(`${from}: a tombstone`);
  console.log(`${tag} (${from}): ${encode(ev).trimEnd()}`);
  measure(`${tag}: JSON.parse(buf.toString())`, buf.length, () => (JSON.parse(buf.toString('utf8')) as object) === null ? 0 : 1);
  measure(`${tag}: decodeChange`, buf.length, () => (decodeChange(buf) === null ? 0 : 1));
  measure(`${tag}: decodeChange + encode`, buf.length, () => encode(decodeChange(buf) as NonNullable<typeof ev>).length);
  measure(`${tag}: encode only`, buf.length, () => encode(ev).length);
}
