// The in-process tier of the response cache: the copy that still answers when
// Redis is down. Bounded by total bytes and by entry count, least recently
// used first out. A Map keeps insertion order, so "move to the end on use"
// (delete + set) and "evict from the front" are both O(1).
//
// Expiry is lazy: an entry past storedAt + ttlMs is dropped when it is next
// looked at (or evicted in LRU order), never by a timer. Expiry counts from
// the entry's storedAt, not from when this process saw it, so a copy taken
// from Redis expires when the Redis value does.

/** A stored response: raw body bytes (as sent, possibly compressed), protocol metadata, epoch ms. */
export interface CachedEntry {
  body: Buffer;
  meta: Record<string, string>;
  storedAt: number;
}

export interface MemoryLruOptions {
  /** Upper bound of the sum of entry sizes (see entrySize). */
  maxBytes: number;
  /** Upper bound of the entry count: tiny entries cost Map overhead the byte count does not see. */
  maxEntries: number;
  ttlMs: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

interface Slot {
  entry: CachedEntry;
  size: number;
  expiresAt: number;
}

/** What an entry counts against maxBytes: key, body and meta text (UTF-16 code units for strings). */
export function entrySize(key: string, entry: CachedEntry): number {
  let size = key.length + entry.body.length;
  for (const name in entry.meta) size += name.length + (entry.meta[name] as string).length;
  return size;
}

export class MemoryLru {
  readonly #slots = new Map<string, Slot>();
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(opts: MemoryLruOptions) {
    this.#maxBytes = opts.maxBytes;
    this.#maxEntries = opts.maxEntries;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#slots.size;
  }

  /** Sum of the held entries' sizes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The live entry for key (now the most recently used), or undefined; an expired one is dropped. */
  get(key: string): CachedEntry | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#slots.delete(key);
    if (this.#now() >= slot.expiresAt) {
      this.#bytes -= slot.size;
      return undefined;
    }
    this.#slots.set(key, slot);
    return slot.entry;
  }

  /**
   * Stores (or replaces) key as the most recently used entry, evicting the
   * least recently used ones until both bounds hold. Returns false, storing
   * nothing and dropping any old value, when the entry alone exceeds maxBytes
   * or is already expired.
   */
  set(key: string, entry: CachedEntry): boolean {
    this.delete(key);
    const size = entrySize(key, entry);
    const expiresAt = entry.storedAt + this.#ttlMs;
    if (size > this.#maxBytes || this.#maxEntries < 1 || this.#now() >= expiresAt) return false;
    while (this.#bytes + size > this.#maxBytes || this.#slots.size >= this.#maxEntries) this.#evictOldest();
    this.#slots.set(key, { entry, size, expiresAt });
    this.#bytes += size;
    return true;
  }

  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#slots.delete(key);
    this.#bytes -= slot.size;
    return true;
  }

  #evictOldest(): void {
    const oldest = this.#slots.keys().next();
    if (!oldest.done) this.delete(oldest.value);
  }
}
