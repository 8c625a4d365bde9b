// The answers breakwater gives in the Neo4j HTTP API's own shape (checked against Neo4j 5.26).
import type { Reply } from '../http/relay.js';

export const FALLBACK_HEADER = 'x-breakwater-fallback';
const JSON_TYPE = 'application/json';

/** What Neo4j sends with `includeStats: true` for a read: all zero. */
const ZERO_STATS = {
  contains_updates: false,
  nodes_created: 0,
  nodes_deleted: 0,
  properties_set: 0,
  relationships_created: 0,
  relationship_deleted: 0,
  labels_added: 0,
  labels_removed: 0,
  indexes_added: 0,
  indexes_removed: 0,
  constraints_added: 0,
  constraints_removed: 0,
  contains_system_updates: false,
  system_updates: 0,
};

/**
 * An empty result per statement, with the columns last seen for it ([] when unknown), and no
 * `lastBookmarks`: a bookmark is never invented.
 */
export function emptyResults(columns: readonly (readonly string[] | undefined)[], includeStats: readonly boolean[]): Reply {
  const results = columns.map((c, i) => (includeStats[i] ? { columns: c ?? [], data: [], stats: ZERO_STATS } : { columns: c ?? [], data: [] }));
  return {
    status: 200,
    headers: { 'content-type': JSON_TYPE, [FALLBACK_HEADER]: 'static' },
    body: Buffer.from(JSON.stringify({ results, errors: [] })),
  };
}

/**
 * A Neo4j-shaped error. `transient`: 503 with Retry-After, code
 * Neo.TransientError.General.DatabaseUnavailable (clients retry it, and the status says the same
 * to anything that only reads statuses). `database-error`: 500, code
 * Neo.DatabaseError.General.UnknownError, no Retry-After (raised at once: 500 is what generic
 * HTTP retry policies leave alone, unlike 502/503/504).
 */
export function failure(kind: 'transient' | 'database-error', message: string, retryAfterSeconds: number, fallbackKind = 'fail'): Reply {
  const transient = kind === 'transient';
  const code = transient ? 'Neo.TransientError.General.DatabaseUnavailable' : 'Neo.DatabaseError.General.UnknownError';
  const headers: Record<string, string | number> = { 'content-type': JSON_TYPE, [FALLBACK_HEADER]: fallbackKind };
  if (transient) headers['retry-after'] = retryAfterSeconds;
  return { status: transient ? 503 : 500, headers, body: Buffer.from(JSON.stringify({ results: [], errors: [{ code, message }] })) };
}

/** 413 for a tx/commit body larger than breakwater reads (a caller error, in Neo4j's shape). */
export function tooLarge(limit: number): Reply {
  const message = `breakwater: request body larger than ${limit} bytes; breakwater reads a /tx/commit body to match fallback rules and refuses larger ones: send the work in smaller batches (several requests or an explicit transaction, /db/{db}/tx, whose bodies are not read)`;
  return {
    status: 413,
    headers: { 'content-type': JSON_TYPE },
    body: Buffer.from(JSON.stringify({ results: [], errors: [{ code: 'Neo.ClientError.Request.Invalid', message }] })),
  };
}
