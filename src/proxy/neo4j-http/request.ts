// What the Neo4j HTTP fallbacks need to know about a request: which endpoint it is for (only an
// auto-commit `POST /db/{db}/tx/commit` is answered from the cache or with an empty result:
// explicit transactions span several requests), its statements when they could be read, and who
// asks (the Basic auth user, never the password), for the cache key.
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackReason } from '../../fallback/chain.js';
import type { Reply } from '../http/relay.js';

export interface Neo4jHttpRequest {
  readonly dep: Dependency;
  /** The database of a `POST /db/{db}/tx/commit`; undefined for every other request. */
  readonly commitDb: string | undefined;
  /** The statements' Cypher texts; undefined when not read or not readable (not JSON, none). */
  readonly statements: readonly string[] | undefined;
  /** Whether each statement asked for `includeStats` (mirrors `statements`). */
  readonly includeStats: readonly boolean[] | undefined;
  /** The response cache key, when the request may be answered from the cache. */
  readonly cacheKey: string | undefined;
  /** Whether the client takes Neo4j's plain JSON (not Jolt): what `static` answers in. */
  readonly acceptsJson: boolean;
  readonly reason: FallbackReason;
  /** The upstream error, when reason is `failed`. */
  readonly error: string | undefined;
  reply(r: Reply): void;
}

/** The database of `POST /db/{db}/tx/commit` (query string ignored), else undefined. */
export function commitDatabase(method: string, target: string): string | undefined {
  if (method !== 'POST') return undefined;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const m = /^\/db\/([^/]+)\/tx\/commit\/?$/.exec(path);
  if (m === null) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

export interface Statements {
  texts: string[];
  includeStats: boolean[];
}

/**
 * The statements of a tx request body, or undefined when the body is not JSON, has no
 * `statements` array, an entry without a string `statement`, or no statements at all: such a
 * request still goes to Neo4j (which answers with its own error) but is never answered by
 * `cache` or `static`.
 */
export function parseStatements(body: Buffer): Statements | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const list = (doc as { statements?: unknown } | null)?.statements;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const texts: string[] = [];
  const includeStats: boolean[] = [];
  for (const s of list) {
    const text = (s as { statement?: unknown } | null)?.statement;
    if (typeof text !== 'string') return undefined;
    texts.push(text);
    includeStats.push((s as { includeStats?: unknown }).includeStats === true);
  }
  return { texts, includeStats };
}

/**
 * The cache identity of the caller: the Basic auth user (never the password), `anonymous`
 * without an Authorization header (auth disabled), undefined for any other scheme (the user is
 * inside a token we do not read): not cacheable.
 */
export function cacheUser(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return 'anonymous';
  const basic = /^\s*basic\s+(\S*)\s*$/i.exec(authorization);
  if (basic === null) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return `basic:${colon < 0 ? decoded : decoded.slice(0, colon)}`;
}

/** Whether the client takes plain JSON: no Accept, or one naming JSON or anything, and no Jolt. */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined) return true;
  const a = accept.toLowerCase();
  if (a.includes('jolt')) return false;
  return a.includes('application/json') || a.includes('*/*') || a.trim() === '';
}
