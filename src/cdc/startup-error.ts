// Why the CDC consumer could not start, with the fix. Startup retries until
// startup.timeout, then exits or serves unready (startup.onTimeout) with it.

export type CdcStartupCode = 'kafka_unreachable' | 'topic_missing' | 'dead_letter_topic' | 'clickhouse_unreachable' | 'table_missing' | 'table_incompatible';

export class CdcStartupError extends Error {
  constructor(
    readonly code: CdcStartupCode,
    message: string,
  ) {
    super(message);
    this.name = 'CdcStartupError';
  }
}
