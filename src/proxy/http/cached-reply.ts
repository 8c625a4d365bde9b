// A `cache` fallback's answer over HTTP: the stored bytes with their stored headers, marked as
// a fallback, with their age and the cache tier that held them (shared by ClickHouse and the
// Neo4j HTTP API).
import type { CachedEntry } from '../../store/response-cache.js';
import type { Reply } from './relay.js';

export function cachedReply(hit: { entry: CachedEntry; tier: 'redis' | 'memory' }): Reply {
  const { entry } = hit;
  return {
    status: 200,
    headers: {
      ...entry.meta,
      'x-breakwater-fallback': 'cache',
      age: Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000)),
      'x-breakwater-cache-tier': hit.tier,
    },
    body: entry.body,
  };
}
