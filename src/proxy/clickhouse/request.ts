// What the ClickHouse fallbacks need to know about a request, found lazily: the statement kind
// (from the `query` parameter or the first body bytes) and the SQL text for its FORMAT clause.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FallbackReason } from '../../fallback/chain.js';
import type { Dependency } from '../../dependency/dependency.js';
import { STATEMENT_PREFIX_BYTES, statementKindOfRequest, type StatementKind } from './statement.js';

/** Reads beyond this are not worth it to find a FORMAT clause: the fallback then guesses. */
export const MAX_SQL_BYTES = 1024 * 1024;

export interface ClickHouseRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly dep: Dependency;
  readonly kind: StatementKind;
  /** The SQL as far as it is known: the query parameter followed by what was read of the body. */
  readonly sql: string;
  readonly defaultFormat: string | null;
  readonly reason: FallbackReason;
  /** The upstream error, when reason is `failed`. */
  readonly error: string | undefined;
}

export interface RequestHead {
  params: URLSearchParams | undefined;
  queryParam: string | null;
}

export function requestHead(url: string): RequestHead {
  const q = url.indexOf('?');
  if (q < 0) return { params: undefined, queryParam: null };
  const params = new URLSearchParams(url.slice(q + 1));
  return { params, queryParam: params.get('query') };
}

/**
 * Waits for enough of the body to tell the statement kind, and puts the bytes back so the body
 * is forwarded whole. Never reads more than STATEMENT_PREFIX_BYTES.
 */
export function peekStatement(
  req: IncomingMessage,
  queryParam: string | null,
  done: (kind: StatementKind, prefix: Buffer | undefined) => void,
): void {
  let prefix: Buffer | undefined;
  const finish = (kind: StatementKind): void => {
    req.off('readable', onReadable);
    req.off('end', onEnd);
    req.off('error', onEnd);
    if (prefix !== undefined && !req.readableEnded) req.unshift(prefix);
    done(kind, prefix);
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = req.read() as Buffer | null) !== null) {
      prefix = prefix === undefined ? chunk : Buffer.concat([prefix, chunk]);
      const kind = statementKindOfRequest(queryParam, prefix, false);
      if (kind !== undefined) return finish(kind);
      if (prefix.length >= STATEMENT_PREFIX_BYTES) return finish('other');
    }
  };
  const onEnd = (): void => finish(statementKindOfRequest(queryParam, prefix ?? Buffer.alloc(0), true) ?? 'other');
  req.on('readable', onReadable);
  req.once('end', onEnd);
  req.once('error', onEnd);
}

/** The rest of the body, up to MAX_SQL_BYTES, for a request that will not be forwarded. */
export function readSql(req: IncomingMessage, prefix: Buffer | undefined, done: (body: string) => void): void {
  // peekStatement put the prefix back into the stream unless the body had ended already.
  if (req.readableEnded || req.destroyed) return done(prefix?.toString('utf8') ?? '');
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (): void => {
    req.off('data', onData);
    req.off('end', finish);
    req.off('error', finish);
    done(Buffer.concat(chunks).toString('utf8'));
  };
  const onData = (chunk: Buffer): void => {
    if (size >= MAX_SQL_BYTES) return; // keep draining, stop keeping
    chunks.push(chunk);
    size += chunk.length;
  };
  req.on('data', onData);
  req.once('end', finish);
  req.once('error', finish);
}
