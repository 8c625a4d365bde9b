// What the ClickHouse fallbacks need to know about a request: the statement kind (from the
// `query` parameter or the first body bytes) and the SQL text, for its FORMAT clause.
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackReason } from '../../fallback/chain.js';
import type { Reply } from '../http/relay.js';
import type { StatementKind } from './statement.js';

export interface ClickHouseRequest {
  readonly dep: Dependency;
  readonly kind: StatementKind;
  /** The SQL as far as it is known: the query parameter followed by what was read of the body. */
  readonly sql: string;
  readonly defaultFormat: string | null;
  /** The response cache key of a cacheable read, when the dependency uses `cache`. */
  readonly cacheKey: string | undefined;
  readonly reason: FallbackReason;
  /** The upstream error, when reason is `failed`. */
  readonly error: string | undefined;
  /** Sends the answer. */
  reply(r: Reply): void;
}

export interface RequestTarget {
  params: URLSearchParams | undefined;
  queryParam: string | null;
}

export function requestTarget(target: string): RequestTarget {
  const q = target.indexOf('?');
  if (q < 0) return { params: undefined, queryParam: null };
  const params = new URLSearchParams(target.slice(q + 1));
  return { params, queryParam: params.get('query') };
}
