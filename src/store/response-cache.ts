// The shared response cache behind `cache` fallbacks: last good responses,
// stored as they stream by, served when the dependency is open or failing.
// Two tiers: Redis (shared by every sidecar that points at it, survives a pod
// restart) and an in-process LRU (answers when Redis itself is down or slow).
// It never learns a protocol: callers hand it a scope, key parts and bytes.
//
// The fallback path must never wait on a sick Redis: commands are only sent
// on a ready connection (no offline queue), a read is abandoned after
// timeoutMs, and while a command is overdue Redis counts as stalled and is
// skipped altogether until that command settles (a SIGSTOPped Redis keeps
// its TCP connection, so only the late reply tells that it is back).
import { hash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { MemoryLru, type CachedEntry } from './memory-lru.js';

export type { CachedEntry };

export interface CacheOptions {
  /** redis:// URL of the cache Redis, reached directly (not through breakwater); undefined = memory only. */
  redisUrl: string | undefined;
  /** Lifetime of an entry from its storedAt, in Redis (PX) and in memory. */
  ttlMs: number;
  /** Bodies larger than this are not stored (stats.tooLarge). */
  maxEntryBytes: number;
  /** Bound of the in-process LRU. */
  memoryMaxBytes: number;
  /** First part of every Redis key, e.g. 'breakwater'. */
  namespace: string;
  /** A Redis read slower than this falls back to memory. */
  timeoutMs: number;
}

export interface CacheStats {
  hits: { redis: number; memory: number };
  misses: number;
  stores: number;
  tooLarge: number;
  redisErrors: number;
}

// Bounds the Map overhead of many tiny entries, which the byte count does not see.
const MEMORY_MAX_ENTRIES = 100_000;
// Reconnect backoff: 200 ms doubling to 2 s, forever (a cache Redis may come back any time).
const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 2_000;
const CONNECT_TIMEOUT_MS = 2_000;
// A read answered again within this long of its stored copy is not stored again (at most ttl/10).
const REFRESH_MS = 1_000;

// Value layout: [version: u8][meta length: u32 BE][meta JSON][body bytes].
// The JSON is {"t": storedAt, "m": meta}; the body is stored raw, no base64.
const ENCODING_VERSION = 1;
const HEADER_BYTES = 5;

/** One Redis value for an entry. */
export function encodeEntry(entry: CachedEntry): Buffer {
  const meta = Buffer.from(JSON.stringify({ t: entry.storedAt, m: entry.meta }), 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + meta.length + entry.body.length);
  out[0] = ENCODING_VERSION;
  out.writeUInt32BE(meta.length, 1);
  meta.copy(out, HEADER_BYTES);
  entry.body.copy(out, HEADER_BYTES + meta.length);
  return out;
}

/** The entry in a Redis value, or undefined when it is not one this version wrote. The body shares value's memory. */
export function decodeEntry(value: Buffer): CachedEntry | undefined {
  if (value.length < HEADER_BYTES || value[0] !== ENCODING_VERSION) return undefined;
  const metaEnd = HEADER_BYTES + value.readUInt32BE(1);
  if (metaEnd > value.length) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(value.toString('utf8', HEADER_BYTES, metaEnd));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null) return undefined;
  const { t, m } = header as { t?: unknown; m?: unknown };
  if (typeof t !== 'number' || !Number.isFinite(t) || typeof m !== 'object' || m === null || Array.isArray(m)) return undefined;
  for (const v of Object.values(m)) if (typeof v !== 'string') return undefined;
  return { body: value.subarray(metaEnd), meta: m as Record<string, string>, storedAt: t };
}

/** A cache option that cannot work. Thrown by the constructor, so a bad config fails at startup. */
export class CacheOptionError extends RangeError {
  readonly code = 'ERR_CACHE_OPTION';

  constructor(
    readonly option: keyof CacheOptions,
    readonly value: unknown,
    expected: string,
  ) {
    super(`cache option "${option}" must be ${expected}, got ${String(value)}; fix it in the cache config`);
    this.name = 'CacheOptionError';
  }
}

function validate(opts: CacheOptions): void {
  for (const option of ['ttlMs', 'timeoutMs'] as const) {
    if (!(opts[option] > 0 && Number.isFinite(opts[option]))) throw new CacheOptionError(option, opts[option], 'a finite number of milliseconds > 0');
  }
  for (const option of ['maxEntryBytes', 'memoryMaxBytes'] as const) {
    if (!(opts[option] >= 0 && Number.isFinite(opts[option]))) throw new CacheOptionError(option, opts[option], 'a finite number of bytes >= 0');
  }
  if (opts.redisUrl !== undefined && !isRedisUrl(opts.redisUrl)) {
    // the address only: the URL may carry a password
    throw new CacheOptionError('redisUrl', redisAddress(opts.redisUrl), 'a redis://host:port or rediss://host:port URL');
  }
}

function isRedisUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** host:port of a Redis URL for messages, without credentials. */
function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Why Redis is not being used right now; undefined = it is. */
type Trouble = 'unreachable' | 'stalled';

export class ResponseCache {
  readonly stats: CacheStats = { hits: { redis: 0, memory: 0 }, misses: 0, stores: 0, tooLarge: 0, redisErrors: 0 };
  readonly #opts: CacheOptions;
  readonly #log: Logger;
  readonly #memory: MemoryLru;
  readonly #redis: Redis | undefined;
  readonly #address: string;
  /** Commands that outlived timeoutMs and have not settled yet. */
  #overdue = 0;
  #trouble: Trouble | undefined;
  /** A refused command is logged once per connection: Redis stays in use, the next command may succeed. */
  #refusalLogged = false;
  #warnedUndecodable = false;
  #closed = false;

  constructor(opts: CacheOptions, log: Logger) {
    validate(opts);
    this.#opts = opts;
    this.#log = log.child({ component: 'response-cache' });
    this.#memory = new MemoryLru({ maxBytes: opts.memoryMaxBytes, maxEntries: MEMORY_MAX_ENTRIES, ttlMs: opts.ttlMs });
    this.#address = opts.redisUrl === undefined ? '' : redisAddress(opts.redisUrl);
    this.#redis = opts.redisUrl === undefined ? undefined : this.#connect(opts.redisUrl);
  }

  /** Is the Redis connection currently usable (for /status). */
  get redisReady(): boolean {
    return this.#redis?.status === 'ready' && this.#overdue === 0;
  }

  /**
   * `${namespace}:cache:${scope}:${sha256 hex}` of the parts, each prefixed
   * with its byte length so that no two different part lists hash alike.
   * Hashing keeps request text (SQL, literals) out of the Redis key space.
   */
  key(scope: string, parts: readonly string[]): string {
    // One-shot hash of the whole text: no Hash object to create and collect (this runs per stored read).
    let text = '';
    for (const part of parts) text += `${Buffer.byteLength(part, 'utf8')}:${part}`;
    return `${this.#opts.namespace}:cache:${scope}:${hash('sha256', text, 'hex')}`;
  }

  /** Redis first (the freshest shared answer); memory when Redis is down, slow or has no entry; undefined on a miss. Never rejects. */
  async get(key: string): Promise<{ entry: CachedEntry; tier: 'redis' | 'memory' } | undefined> {
    const shared = await this.#redisGet(key);
    if (shared !== undefined) {
      this.stats.hits.redis++;
      // The in-process copy answers if Redis goes away later.
      this.#memory.set(key, shared);
      return { entry: shared, tier: 'redis' };
    }
    const local = this.#memory.get(key);
    if (local !== undefined) {
      this.stats.hits.memory++;
      return { entry: local, tier: 'memory' };
    }
    this.stats.misses++;
    return undefined;
  }

  /** Stores in memory now and in Redis in the background (fire and forget, never throws). */
  set(key: string, entry: CachedEntry): void {
    if (entry.body.length > this.#opts.maxEntryBytes) {
      this.stats.tooLarge++;
      return;
    }
    this.stats.stores++;
    this.#memory.set(key, entry);
    const client = this.#usable();
    const ttl = Math.ceil(entry.storedAt + this.#opts.ttlMs - Date.now());
    if (client === undefined || ttl <= 0) return;
    void this.#bounded(client.set(key, encodeEntry(entry), 'PX', ttl));
  }

  /**
   * Whether this process holds an entry for key stored less than REFRESH_MS (at most ttl/10)
   * ago, by itself or by another sidecar (a copy read from Redis keeps its storedAt). Callers
   * then skip storing the same read again: a hot read costs one Redis SET per REFRESH_MS instead
   * of one per request, and the stored answer is at most that much older than the last good one.
   */
  isFresh(key: string): boolean {
    const entry = this.#memory.get(key);
    return entry !== undefined && Date.now() - entry.storedAt < Math.min(REFRESH_MS, this.#opts.ttlMs / 10);
  }

  /** A response that outgrew maxEntryBytes while it streamed by, so its caller stopped collecting it (stats.tooLarge). */
  countTooLarge(): void {
    this.stats.tooLarge++;
  }

  /** Drops the Redis connection (pending commands fail, nothing waits on a sick Redis). Memory stays readable. */
  async close(): Promise<void> {
    const client = this.#redis;
    if (client === undefined || this.#closed) return;
    this.#closed = true;
    // Only a live socket ends with an 'end' event; between reconnect attempts
    // disconnect() just cancels the next one.
    const live = client.status !== 'end' && client.status !== 'reconnecting' && client.status !== 'wait';
    const ended = live ? new Promise<void>((resolve) => client.once('end', () => resolve())) : undefined;
    client.disconnect();
    await ended;
  }

  #connect(url: string): Redis {
    const client = new Redis(url, {
      // Fail fast while disconnected: never queue a command for later.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(RECONNECT_BASE_MS * 2 ** times, RECONNECT_MAX_MS),
      connectTimeout: CONNECT_TIMEOUT_MS,
      // RESP2 works on every Redis version and GET/SET need nothing newer.
      protocol: 2,
      connectionName: 'breakwater-cache',
    });
    client.on('ready', () => {
      this.#refusalLogged = false;
      if (this.#overdue === 0) this.#setTrouble(undefined);
    });
    client.on('error', (err: Error) => {
      this.#setTrouble('unreachable', err);
    });
    client.on('close', () => {
      if (!this.#closed) this.#setTrouble('unreachable');
    });
    return client;
  }

  /** The client when a command may be sent now, else undefined. */
  #usable(): Redis | undefined {
    const client = this.#redis;
    return client !== undefined && client.status === 'ready' && this.#overdue === 0 ? client : undefined;
  }

  async #redisGet(key: string): Promise<CachedEntry | undefined> {
    const client = this.#usable();
    if (client === undefined) return undefined;
    const value = await this.#bounded(client.getBuffer(key));
    if (value === undefined || value === null) return undefined;
    const entry = decodeEntry(value);
    if (entry === undefined) this.#undecodable(key);
    return entry;
  }

  /**
   * The command's result, or undefined when it failed or took longer than
   * timeoutMs. An overdue command keeps Redis marked stalled until it settles.
   */
  #bounded<T>(command: Promise<T>): Promise<T | undefined> {
    return new Promise((resolve) => {
      let overdue = false;
      const timer = setTimeout(() => {
        overdue = true;
        this.#overdue++;
        this.stats.redisErrors++;
        this.#setTrouble('stalled');
        resolve(undefined);
      }, this.#opts.timeoutMs);
      command.then(
        (value) => {
          if (overdue) return this.#settledLate();
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          if (overdue) return this.#settledLate();
          clearTimeout(timer);
          this.stats.redisErrors++;
          // A dropped connection reports itself through 'error'/'close'; anything else is Redis refusing.
          if (this.#redis?.status === 'ready') this.#refused(err);
          resolve(undefined);
        },
      );
    });
  }

  #settledLate(): void {
    this.#overdue--;
    if (this.#overdue === 0 && this.#redis?.status === 'ready') this.#setTrouble(undefined);
  }

  /** Logs only when the trouble changes, not once per request or per reconnect attempt. */
  #setTrouble(trouble: Trouble | undefined, err?: unknown): void {
    if (trouble === this.#trouble || this.#closed) return;
    const was = this.#trouble;
    this.#trouble = trouble;
    const redis = this.#address;
    const error = err instanceof Error ? err.message : undefined;
    const memoryOnly = 'cached responses are served from and stored in this process only until it recovers';
    switch (trouble) {
      case undefined:
        if (was !== undefined) this.#log.info({ redis }, `cache Redis at ${redis} is usable again`);
        return;
      case 'unreachable':
        this.#log.warn(
          { redis, err: error },
          `cache Redis at ${redis} is unreachable${error ? ` (${error})` : ''}: ${memoryOnly}; ` +
            'check that Redis runs there, that cache.redis points at it (directly, not at a breakwater listener) and its credentials',
        );
        return;
      case 'stalled':
        this.#log.warn(
          { redis, timeoutMs: this.#opts.timeoutMs },
          `cache Redis at ${redis} did not answer within ${this.#opts.timeoutMs} ms: ${memoryOnly}; ` +
            'check the Redis server (paused, swapping, a slow command) or raise the cache timeout',
        );
    }
  }

  #refused(err: unknown): void {
    if (this.#refusalLogged || this.#closed) return;
    this.#refusalLogged = true;
    const error = err instanceof Error ? err.message : String(err);
    this.#log.warn(
      { redis: this.#address, err: error },
      `cache Redis at ${this.#address} refused a command (${error}); that entry is kept in memory only: ` +
        'check its maxmemory policy, ACLs and that it is a writable primary',
    );
  }

  #undecodable(key: string): void {
    this.stats.redisErrors++;
    if (this.#warnedUndecodable) return;
    this.#warnedUndecodable = true;
    this.#log.warn(
      { redis: this.#address, key },
      `cache Redis at ${this.#address} holds a value under ${key} that this breakwater cannot decode (treated as a miss): ` +
        `another program or breakwater version writes to namespace "${this.#opts.namespace}"; give each its own cache namespace`,
    );
  }
}
