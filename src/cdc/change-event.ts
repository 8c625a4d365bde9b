// One decoded Debezium change event, as the row encoder needs it.

export type ChangeOp = 'c' | 'u' | 'd' | 'r';

/** A Kafka Connect field schema (one entry of the row struct's `fields`). */
export interface FieldSchema {
  /** Connect type: int8..int64, float32/64, boolean, string, bytes, struct, array, map. */
  type: string;
  /** Semantic type, e.g. io.debezium.time.MicroTimestamp, org.apache.kafka.connect.data.Decimal. */
  name?: string;
  /** e.g. { scale: '2', 'connect.decimal.precision': '10' } for Decimal. */
  parameters?: Record<string, string>;
  optional?: boolean;
}

export interface ChangeEvent {
  op: ChangeOp;
  /** The row image: `after` for c, u, r; `before` for d. */
  row: Record<string, unknown>;
  /**
   * Field schemas of the row image by field name, from the `{schema, payload}`
   * wrapper; undefined when the converter has schemas.enable=false. The same
   * Map instance is returned for every message with the same schema, so
   * consumers may cache per instance.
   */
  fields: Map<string, FieldSchema> | undefined;
  source: Record<string, unknown>;
  tsMs: number | undefined;
}
