// The `cache` fallback for ClickHouse: successful reads are stored as they stream by (keyed by
// what decides their result, see cache-key.ts), and served when ClickHouse is open or failing,
// marked `x-breakwater-fallback: cache` with an `Age` header.
import type { ClickHouseDependencyConfig } from '../../config/schema.js';
import type { FallbackStep } from '../../fallback/chain.js';
import type { ResponseCache } from '../../store/response-cache.js';
import { headerValue, type RequestHead, type ResponseHead } from '../http/framing.js';
import type { ResponseCapture } from '../http/relay.js';
import { clickhouseCacheKeyParts } from './cache-key.js';
import { FALLBACK_HEADER } from './fallbacks.js';
import type { ClickHouseRequest } from './request.js';

/** The request body bytes kept so that a POSTed SELECT can be keyed: longer SQL is not cached. */
export const CACHE_SQL_BYTES = 64 * 1024;

/** Response headers stored with the body and sent again with it. */
const KEPT_HEADERS = ['content-type', 'content-encoding', 'x-clickhouse-format', 'x-clickhouse-timezone'];

/** Whether reads are stored: the first rule that covers reads uses `cache`. */
export function cachesReads(config: ClickHouseDependencyConfig): boolean {
  const rule = config.fallback.find((r) => r.match.statement === 'read' || r.match.statement === 'any');
  return rule?.use.includes('cache') === true;
}

/** The SQL of a request: the query parameter, then the body. */
export function sqlOf(queryParam: string | null, body: string): string {
  return queryParam === null ? body : body === '' ? queryParam : `${queryParam}\n${body}`;
}

/**
 * The key of a cacheable read, or undefined. Not cached: requests in a session (temporary
 * tables and SET make their results private to it). The path is part of the key: a custom
 * HTTP handler answers differently from `/`.
 */
export function cacheKey(cache: ResponseCache, scope: string, sql: string, params: URLSearchParams | undefined, head: RequestHead): string | undefined {
  if (params?.has('session_id')) return undefined;
  const parts = clickhouseCacheKeyParts({ sql, params: params ?? null, header: (name) => headerValue(head, name) });
  if (parts === undefined) return undefined;
  const q = head.target.indexOf('?');
  return cache.key(`${scope}:${q < 0 ? head.target : head.target.slice(0, q)}`, parts);
}

/** ClickHouse reports an error that happens mid-stream in the body of a 200 (its status was already sent). */
const MID_STREAM_EXCEPTION = /Code: \d+\. DB::Exception|DB::Exception: /;

/** Collects a 200 response's decoded body (up to maxBytes) and stores it once it completed. */
export function storeCapture(cache: ResponseCache, key: string, head: ResponseHead, maxBytes: number): ResponseCapture {
  const parts: Buffer[] = [];
  let bytes = 0;
  let over = false;
  return {
    add(buf, start, end) {
      if (over) return;
      bytes += end - start;
      if (bytes > maxBytes) {
        over = true;
        parts.length = 0;
        return;
      }
      parts.push(buf.subarray(start, end));
    },
    end(complete) {
      if (!complete || over) return;
      const tail = parts.length === 0 ? '' : Buffer.concat(parts.slice(-2)).subarray(-1024).toString('latin1');
      if (MID_STREAM_EXCEPTION.test(tail)) return;
      const meta: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const v = headerValue(head, name);
        if (v !== undefined) meta[name] = v;
      }
      cache.set(key, { body: Buffer.concat(parts, bytes), meta, storedAt: Date.now() });
    },
  };
}

/** Serves the last good answer to the same read. */
export function cacheStep(cache: ResponseCache): FallbackStep<ClickHouseRequest> {
  return {
    kind: 'cache',
    async serve(c) {
      if (c.kind !== 'read' || c.cacheKey === undefined) return false;
      const hit = await cache.get(c.cacheKey);
      if (hit === undefined) return false;
      const { entry } = hit;
      c.reply({
        status: 200,
        headers: {
          ...entry.meta,
          [FALLBACK_HEADER]: 'cache',
          age: Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000)),
          'x-breakwater-cache-tier': hit.tier,
        },
        body: entry.body,
      });
      return true;
    },
  };
}
