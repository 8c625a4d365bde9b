// What the consumer knows about one CDC topic once startup has checked the
// ClickHouse table: which event field feeds which column, with the column's
// parsed ClickHouse type. Built by table-check.ts from config + system.columns.
import type { ClickHouseType } from './clickhouse-type.js';

/** Where the version column's value comes from in a Debezium event. */
export type VersionSource = 'lsn' | 'ts_ms' | 'ts_us' | 'ts_ns';

/** Unit of an integer timestamp when the message carries no schema. */
export type TimestampUnit = 's' | 'ms' | 'us' | 'ns';

export interface ColumnMapping {
  /** ClickHouse column name. */
  column: string;
  /** Field name in the Debezium row image (`after` / `before`). */
  field: string;
  type: ClickHouseType;
  /** True when the column is part of the key (must be present, also in deletes). */
  key: boolean;
  /** True when ClickHouse has a DEFAULT/MATERIALIZED expression for it (may be omitted). */
  hasDefault: boolean;
  /** For integer timestamps without a schema: what unit they are in (default 'us', Debezium's MicroTimestamp). */
  timestampUnit: TimestampUnit;
}

export interface TableMapping {
  topic: string;
  /** ClickHouse table, optionally `database.table`. */
  table: string;
  /** Columns fed from the row image, in table order (version and deleted columns excluded). */
  columns: ColumnMapping[];
  version: { column: string; from: VersionSource; type: ClickHouseType };
  deleted: { column: string; type: ClickHouseType };
}
