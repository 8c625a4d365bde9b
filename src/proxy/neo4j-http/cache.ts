// The `cache` fallback for the Neo4j HTTP API: the last good answer to the same auto-commit
// request (the same body bytes, database, user and Accept), stored as it streams by (watch.ts)
// and served, marked `x-breakwater-fallback: cache` with an `Age`, when Neo4j is open or failing.
import type { FallbackStep } from '../../fallback/chain.js';
import type { ResponseCache } from '../../store/response-cache.js';
import type { Neo4jHttpRequest } from './request.js';
import { cachedReply } from '../http/cached-reply.js';

/**
 * The key of an answer. The body is taken byte for byte (parameters included): two requests
 * share an answer only when they sent the same thing. Accept is in because it picks the format
 * (JSON or Jolt); the user because results may depend on privileges. Undefined: not cacheable.
 */
export function cacheKey(cache: ResponseCache, scope: string, db: string, user: string | undefined, accept: string | undefined, body: Buffer): string | undefined {
  if (user === undefined) return undefined;
  return cache.key(`${scope}:tx-commit`, [db, user, (accept ?? '').trim().toLowerCase(), body.toString('utf8')]);
}

/** Serves the last good answer to the same request (auto-commit reads only: the key says so). */
export function cacheStep(cache: ResponseCache): FallbackStep<Neo4jHttpRequest> {
  return {
    kind: 'cache',
    async serve(c) {
      if (c.cacheKey === undefined) return false;
      const hit = await cache.get(c.cacheKey);
      if (hit === undefined) return false;
      c.reply(cachedReply(hit));
      return true;
    },
  };
}
