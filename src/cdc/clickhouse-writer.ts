// INSERTs of pre-encoded JSONEachRow bodies through @clickhouse/client, one client per
// upstream replica (the next one after a failure). Errors are classified: a row ClickHouse
// cannot parse is the data's fault (the batch is split to find it), anything else is
// ClickHouse's or the network's (retried; counts against the breaker when it is an outage).
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';

/** ClickHouse exception codes that blame the rows, not the server. */
const DATA_ERRORS = new Set([
  6, // CANNOT_PARSE_TEXT
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  376, // CANNOT_PARSE_UUID
  407, // DECIMAL_OVERFLOW
]);

/** Exception codes that mean ClickHouse is struggling (an outage for the breaker). */
const SERVER_TROUBLE = new Set([159, 202, 209, 210, 241, 242, 252, 319, 425]);

export type WriteErrorKind = 'data' | 'outage' | 'rejected';

export class ClickHouseWriteError extends Error {
  /** The replica that failed (set by the writer). */
  upstream = '';

  constructor(
    readonly kind: WriteErrorKind,
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ClickHouseWriteError';
  }
}

export function classifyWriteError(err: unknown): ClickHouseWriteError {
  if (err instanceof ClickHouseWriteError) return err;
  const e = err as { code?: unknown; message?: string; type?: string };
  const message = String(e.message ?? err).slice(0, 500);
  // @clickhouse/client finds the code only in current servers' messages; 18.16 says "Code: 27, ...".
  const code = typeof e.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code) : codeInMessage(message);
  if (code === undefined) return new ClickHouseWriteError('outage', message);
  if (DATA_ERRORS.has(code)) return new ClickHouseWriteError('data', message, code);
  if (SERVER_TROUBLE.has(code)) return new ClickHouseWriteError('outage', message, code);
  return new ClickHouseWriteError('rejected', message, code);
}

function codeInMessage(message: string): number | undefined {
  const m = /^Code: (\d+)[,.]/.exec(message);
  return m ? Number(m[1]) : undefined;
}

export class ClickHouseWriter {
  private readonly clients: ClickHouseClient[];
  private current = 0;

  constructor(
    private readonly upstreams: readonly string[],
    timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {
    this.clients = upstreams.map((url) =>
      createClient({
        url,
        request_timeout: timeoutMs,
        max_open_connections: 4,
        compression: { request: false, response: false },
        keep_alive: { enabled: true },
        application: 'breakwater-cdc',
        // Every failure reaches the consumer, which logs it once per change with the fix.
        log: { level: ClickHouseLogLevel.OFF },
      }),
    );
  }

  /** The replica the next write goes to. */
  get upstream(): string {
    return this.upstreams[this.current]!;
  }

  /** INSERT one table's rows (`body`: JSONEachRow lines). Throws a ClickHouseWriteError. */
  async insert(table: string, body: string): Promise<void> {
    const client = this.clients[this.current]!;
    try {
      const r = await client.exec({
        query: `INSERT INTO ${table} FORMAT JSONEachRow`,
        values: Readable.from([body], { objectMode: false }),
        ...(this.signal ? { abort_signal: this.signal } : {}),
      });
      r.stream.resume();
      await new Promise<void>((resolve, reject) => {
        r.stream.once('end', resolve);
        r.stream.once('error', reject);
      });
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** Classifies an error and, on an outage, moves the next request to the next replica. */
  private failed(err: unknown): ClickHouseWriteError {
    const e = classifyWriteError(err);
    e.upstream = this.upstreams[this.current]!;
    if (e.kind === 'outage') this.current = (this.current + 1) % this.clients.length;
    return e;
  }

  /** A SELECT ... FORMAT JSONEachRow, for the startup checks. */
  async select(sql: string): Promise<Record<string, unknown>[]> {
    const client = this.clients[this.current]!;
    try {
      const r = await client.exec({ query: sql });
      const chunks: Buffer[] = [];
      for await (const c of r.stream) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch (err) {
      throw this.failed(err);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
