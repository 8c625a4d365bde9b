// Why one change event could not become a ClickHouse row. A value with a code
// (also the bounded `reason` metric label) and a message that says what, where
// and how to fix it; the consumer dead-letters the message with it.

export type CdcErrorCode =
  /** Not JSON, or not a Debezium change envelope. */
  | 'undecodable'
  /** An `op` other than c, u, d, r. */
  | 'unknown_op'
  /** A value that cannot go into its column: missing key, null into non-Nullable, wrong shape, unsupported type. */
  | 'unmappable'
  /** A value of the right shape outside the column type's range or precision. */
  | 'out_of_range';

export class CdcError extends Error {
  /** The code again, as the metric / dead-letter label (a closed set). */
  readonly reason: CdcErrorCode;

  constructor(
    readonly code: CdcErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CdcError';
    this.reason = code;
  }
}

/** A value for an error message: JSON text, at most 80 characters. */
export function excerpt(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'bigint' ? `${value}` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
