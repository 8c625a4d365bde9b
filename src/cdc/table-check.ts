// Startup check of the ClickHouse side: every mapped table exists and its columns can take what
// the topic carries. The result is the TableMapping the row encoder is compiled from. A table
// changed under a running consumer shows as rows ClickHouse refuses (dead-lettered) until the
// next start checks it again.
import type { CdcTopicConfig } from '../config/schema.js';
import { parseClickHouseType, type ClickHouseType } from './clickhouse-type.js';
import { CdcStartupError } from './startup-error.js';
import type { ColumnMapping, TableMapping } from './table-mapping.js';

export interface ColumnRow {
  name: string;
  type: string;
  /** '' | 'DEFAULT' | 'MATERIALIZED' | 'ALIAS' (system.columns.default_kind) */
  default_kind: string;
}

/** Runs one SELECT on ClickHouse and returns its JSONEachRow rows. */
export type SelectRows = (sql: string) => Promise<Record<string, unknown>[]>;

const DDL_HINT = 'create it with the DDL in config/cdc/clickhouse.sql (or your own ReplacingMergeTree(version) table with the key, version and deleted columns)';

export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function describeTable(select: SelectRows, table: string): Promise<ColumnRow[]> {
  const dot = table.indexOf('.');
  const db = dot < 0 ? 'currentDatabase()' : quoteString(table.slice(0, dot));
  const name = quoteString(dot < 0 ? table : table.slice(dot + 1));
  const rows = await select(`SELECT name, type, default_kind FROM system.columns WHERE database = ${db} AND table = ${name} FORMAT JSONEachRow`);
  return rows.map((r) => ({ name: String(r.name), type: String(r.type), default_kind: String(r.default_kind ?? '') }));
}

const isInteger = (t: ClickHouseType): boolean => (t.kind === 'int' || t.kind === 'uint') && !t.nullable;

/** The mapping for one topic, or a CdcStartupError listing everything wrong with the table. */
export function buildMapping(topic: string, cfg: CdcTopicConfig, rows: ColumnRow[]): TableMapping {
  const where = `cdc.topics.${topic}`;
  if (rows.length === 0) {
    throw new CdcStartupError('table_missing', `ClickHouse table ${cfg.table} (${where}.table) does not exist: ${DDL_HINT}.`);
  }
  const problems: string[] = [];
  const byName = new Map(rows.map((r) => [r.name, r]));
  const typeOf = (r: ColumnRow): ClickHouseType => parseClickHouseType(r.type);

  const version = byName.get(cfg.version);
  let versionType: ClickHouseType | undefined;
  if (!version) problems.push(`has no version column ${cfg.version} (${where}.version)`);
  else {
    versionType = typeOf(version);
    const wide = versionType.kind === 'int' || versionType.kind === 'uint' ? (versionType.bits ?? 0) >= 64 : false;
    if (!isInteger(versionType) || !wide) problems.push(`version column ${cfg.version} is ${version.type}; it must be UInt64 (or Int64) to hold source.${cfg.versionFrom}`);
  }
  const deleted = byName.get(cfg.deleted);
  let deletedType: ClickHouseType | undefined;
  if (!deleted) problems.push(`has no deleted column ${cfg.deleted} (${where}.deleted; add \`${cfg.deleted} UInt8\`)`);
  else {
    deletedType = typeOf(deleted);
    if (!(deletedType.kind === 'bool' || (deletedType.kind === 'uint' && !deletedType.nullable))) problems.push(`deleted column ${cfg.deleted} is ${deleted.type}; it must be UInt8`);
  }
  for (const k of cfg.key) {
    const r = byName.get(k);
    if (!r) problems.push(`has no key column ${k} (${where}.key)`);
    else if (typeOf(r).nullable) problems.push(`key column ${k} is ${r.type}; a key column cannot be Nullable`);
  }
  const fieldOf = new Map<string, string>();
  for (const [field, column] of Object.entries(cfg.rename)) {
    if (!byName.has(column)) problems.push(`has no column ${column}, the target of ${where}.rename.${field}`);
    if (fieldOf.has(column)) problems.push(`column ${column} is the target of two renames (${fieldOf.get(column)} and ${field})`);
    fieldOf.set(column, field);
  }

  const columns: ColumnMapping[] = [];
  for (const r of rows) {
    if (r.name === cfg.version || r.name === cfg.deleted) continue;
    if (r.default_kind === 'MATERIALIZED' || r.default_kind === 'ALIAS') continue; // computed by ClickHouse, never inserted
    const type = typeOf(r);
    if (type.kind === 'unsupported') {
      problems.push(`column ${r.name} has type ${r.type}, which the CDC consumer cannot fill from Debezium JSON (supported: String, UUID, integers, floats, Decimal, Date, DateTime, DateTime64, Bool, Enum, Nullable and LowCardinality of those); give it a DEFAULT or MATERIALIZED expression, or change its type`);
      continue;
    }
    columns.push({
      column: r.name,
      field: fieldOf.get(r.name) ?? r.name,
      type,
      key: cfg.key.includes(r.name),
      hasDefault: r.default_kind === 'DEFAULT',
      timestampUnit: cfg.timestampUnit,
    });
  }
  if (problems.length > 0 || !versionType || !deletedType) {
    throw new CdcStartupError('table_incompatible', `ClickHouse table ${cfg.table} cannot take ${topic}: it ${problems.join('; it ')}. Fix the table (see config/cdc/clickhouse.sql) or ${where}.`);
  }
  return {
    topic,
    table: cfg.table,
    columns,
    version: { column: cfg.version, from: cfg.versionFrom, type: versionType },
    deleted: { column: cfg.deleted, type: deletedType },
  };
}
