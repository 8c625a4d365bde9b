// The `cache` fallback for ClickHouse: successful reads are stored as they stream by (keyed by
// what decides their result, see cache-key.ts), and served when ClickHouse is open or failing,
// marked `x-breakwater-fallback: cache` with an `Age` header.
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { ClickHouseDependencyConfig } from '../../config/schema.js';
import type { FallbackStep } from '../../fallback/chain.js';
import type { ResponseCache } from '../../store/response-cache.js';
import { headerValue, type RequestHead, type ResponseHead } from '../http/framing.js';
import type { ResponseCapture } from '../http/relay.js';
import { clickhouseCacheKeyParts } from './cache-key.js';
import type { ClickHouseRequest } from './request.js';
import { cachedReply } from '../http/cached-reply.js';

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
 * tables and SET make their results private to it); methods other than GET and POST (a HEAD
 * response has no body: it would store an empty result for the GET). The path is part of the
 * key: a custom HTTP handler answers differently from `/`.
 */
export function cacheKey(cache: ResponseCache, scope: string, sql: string, params: URLSearchParams | undefined, head: RequestHead): string | undefined {
  if (head.method !== 'GET' && head.method !== 'POST') return undefined;
  if (params?.has('session_id')) return undefined;
  const parts = clickhouseCacheKeyParts({ sql, params: params ?? null, header: (name) => headerValue(head, name) });
  if (parts === undefined) return undefined;
  const q = head.target.indexOf('?');
  return cache.key(`${scope}:${q < 0 ? head.target : head.target.slice(0, q)}`, parts);
}

/**
 * Whether the `collected` body bytes are the whole request body, i.e. the SQL is whole and may
 * be keyed. A Content-Length body: when that many bytes were collected. A chunked one: only
 * when the listener held the request until its body ended (`waited`: no query parameter, see
 * ClickHouseListener.bodyPrefixWanted) and it is under CACHE_SQL_BYTES. After a query
 * parameter the body goes upstream as it arrives, so what was collected may be a prefix.
 */
export function wholeBody(head: RequestHead, collected: number, waited: boolean): boolean {
  return head.chunked ? waited && collected < CACHE_SQL_BYTES : collected === Math.max(0, head.contentLength);
}

/** ClickHouse reports an error that happens mid-stream in the body of a 200 (its status was already sent). */
const MID_STREAM_EXCEPTION = /Code: \d+\. DB::Exception|DB::Exception: /;
/** The decoded bytes at the end of a body that are searched for MID_STREAM_EXCEPTION. */
const TAIL_BYTES = 1024;
/** A compressed body that decodes to more than this is not stored (bounds the work of looking inside). */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;

/** A decoder for a response Content-Encoding: null for none; undefined for one Node cannot decode (not stored). */
function decoderFor(encoding: string | undefined): (() => Transform) | null | undefined {
  const e = encoding?.trim().toLowerCase();
  if (!e || e === 'identity') return null;
  if (e === 'gzip' || e === 'x-gzip') return () => createGunzip();
  if (e === 'deflate') return () => createInflate();
  if (e === 'br') return () => createBrotliDecompress();
  return undefined;
}

/**
 * The last TAIL_BYTES of the decoded body (latin1), or undefined when it does not decode or
 * decodes to more than MAX_DECODED_BYTES. ClickHouse compresses a mid-stream exception along
 * with the data, so only the decoded tail shows it. zlib does the work off the event loop.
 */
function decodedTail(decoder: Transform, body: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    let tail = Buffer.alloc(0);
    let total = 0;
    decoder.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_DECODED_BYTES) {
        resolve(undefined);
        decoder.destroy();
        return;
      }
      tail = chunk.length >= TAIL_BYTES ? Buffer.from(chunk.subarray(-TAIL_BYTES)) : Buffer.concat([tail, chunk]).subarray(-TAIL_BYTES);
    });
    decoder.on('error', () => resolve(undefined));
    decoder.on('end', () => resolve(tail.toString('latin1')));
    decoder.end(body);
  });
}

/**
 * Collects a 200 response's decoded body (up to maxBytes) and stores it once it completed;
 * undefined when a fresh copy is held already (ResponseCache.isFresh: a hot read is stored about
 * once a second, not on every request).
 */
export function storeCapture(cache: ResponseCache, key: string, head: ResponseHead, maxBytes: number): ResponseCapture | undefined {
  if (cache.isFresh(key)) return undefined;
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
      if (!complete) return;
      if (over) return cache.countTooLarge();
      const body = Buffer.concat(parts, bytes);
      parts.length = 0;
      const meta: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const v = headerValue(head, name);
        if (v !== undefined) meta[name] = v;
      }
      const entry = { body, meta, storedAt: Date.now() };
      const decoder = decoderFor(meta['content-encoding']);
      if (decoder === null) {
        if (!MID_STREAM_EXCEPTION.test(body.toString('latin1', Math.max(0, body.length - TAIL_BYTES)))) cache.set(key, entry);
      } else if (decoder !== undefined) {
        void decodedTail(decoder(), body).then((tail) => {
          if (tail !== undefined && !MID_STREAM_EXCEPTION.test(tail)) cache.set(key, entry);
        });
      }
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
      c.reply(cachedReply(hit));
      return true;
    },
  };
}
