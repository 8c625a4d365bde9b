// One change event → one JSONEachRow line for its table, built as a string.
// Column names are escaped and encoders chosen at compile time; encoders that
// depend on the message's field schemas are chosen once per distinct schema
// (decodeChange returns the same `fields` Map for the same schema).
import type { ChangeEvent, FieldSchema } from './change-event.js';
import { valueEncoder, type ValueEncoder } from './encodings.js';
import { CdcError } from './errors.js';
import type { TableMapping, TimestampUnit, VersionSource } from './table-mapping.js';

export type RowEncoder = (ev: ChangeEvent) => string;

const VERSION_UNIT: Record<VersionSource, TimestampUnit> = { lsn: 'us', ts_ms: 'ms', ts_us: 'us', ts_ns: 'ns' };

/**
 * Compiles the mapping. Throws CdcError 'unmappable' for a column type the
 * encoders cannot write. The returned function throws CdcError per event.
 */
export function compileRowEncoder(mapping: TableMapping): RowEncoder {
  const cols = mapping.columns;
  const n = cols.length;
  const fieldNames = cols.map((c) => c.field);
  const prefixes = cols.map((c) => `,${JSON.stringify(c.column)}:`);
  const isKey = cols.map((c) => c.key);
  // null into a non-Nullable column with a DEFAULT: omit it, ClickHouse fills the default.
  const omitNull = cols.map((c) => !c.type.nullable && c.hasDefault);
  const build = (fields: Map<string, FieldSchema> | undefined): ValueEncoder[] => cols.map((c) => valueEncoder(c, fields?.get(c.field)));
  const schemaless = build(undefined); // also rejects unsupported column types now

  const { version, deleted } = mapping;
  const versionFrom = version.from;
  const versionEncoder = valueEncoder({ column: version.column, field: `source.${versionFrom}`, type: version.type, timestampUnit: VERSION_UNIT[versionFrom] });
  const flag = (on: boolean) => (deleted.type.kind === 'bool' ? String(on) : on ? '1' : '0');
  const headDelete = `{${JSON.stringify(deleted.column)}:${flag(true)},${JSON.stringify(version.column)}:`;
  const headUpsert = `{${JSON.stringify(deleted.column)}:${flag(false)},${JSON.stringify(version.column)}:`;

  let lastFields: Map<string, FieldSchema> | undefined;
  let lastEncoders = schemaless;
  const bySchema = new WeakMap<Map<string, FieldSchema>, ValueEncoder[]>();
  const encodersFor = (fields: Map<string, FieldSchema> | undefined): ValueEncoder[] => {
    if (fields === lastFields) return lastEncoders;
    let enc = fields === undefined ? schemaless : bySchema.get(fields);
    if (enc === undefined) {
      enc = build(fields);
      bySchema.set(fields as Map<string, FieldSchema>, enc);
    }
    lastFields = fields;
    lastEncoders = enc;
    return enc;
  };

  return (ev) => {
    const isDelete = ev.op === 'd';
    const ver = ev.source[versionFrom];
    if (ver === undefined || ver === null) {
      throw new CdcError(
        'unmappable',
        `event for ${mapping.table} has no source.${versionFrom} for the version column ${version.column}; set the topic's versionFrom (cdc.topics.${mapping.topic}.versionFrom) to a source field the connector sends (lsn, ts_ms, ts_us or ts_ns)`,
      );
    }
    let line = (isDelete ? headDelete : headUpsert) + versionEncoder(ver);
    const enc = encodersFor(ev.fields);
    const row = ev.row;
    for (let i = 0; i < n; i++) {
      const v = row[fieldNames[i] as string];
      if (v === undefined) {
        if (isKey[i]) throw missingKey(mapping, fieldNames[i] as string, ev);
        continue;
      }
      if (v === null) {
        if (isKey[i]) throw missingKey(mapping, fieldNames[i] as string, ev);
        if (isDelete || omitNull[i]) continue;
      }
      if (isDelete && !isKey[i]) {
        line += deleteValue(prefixes[i] as string, enc[i] as ValueEncoder, v);
        continue;
      }
      line += (prefixes[i] as string) + (enc[i] as ValueEncoder)(v);
    }
    return `${line}}\n`;
  };
}

/**
 * A non-key value of a delete's `before` image, or nothing when it does not
 * encode. With REPLICA IDENTITY DEFAULT Debezium fills NOT NULL columns outside
 * the key with placeholders ("" for a uuid, 0, false) that need not fit the
 * column; the delete marker only needs its key. With FULL the values are real
 * and kept (e.g. for a partition key).
 */
function deleteValue(prefix: string, encode: ValueEncoder, v: unknown): string {
  try {
    return prefix + encode(v);
  } catch (err) {
    if (err instanceof CdcError) return '';
    throw err;
  }
}

function missingKey(mapping: TableMapping, field: string, ev: ChangeEvent): CdcError {
  const image = ev.op === 'd' ? 'before' : 'after';
  const hint =
    ev.op === 'd'
      ? `deletes carry only the replica identity: make ${field} part of the table's primary key or set REPLICA IDENTITY FULL`
      : `check the field name in the mapping for ${mapping.table}`;
  return new CdcError('unmappable', `key field ${field} is missing or null in the "${image}" image of a "${ev.op}" event for ${mapping.table}; ${hint}`);
}
