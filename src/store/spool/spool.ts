// The durable spool: an append-only, protocol-agnostic store for requests that
// must not be lost while their dependency is down. The Kafka proxy acknowledges
// a Produce only once its record batches are in here (fsynced), and forwards
// them in order when Kafka is back. The spool never learns Kafka: it keeps
// opaque payloads tagged with a stream name and a record count.
//
// Durability: append() resolves only after its records are written and
// fdatasync'ed. Appends that arrive while a write is in flight queue up and go
// out together as one writev + one fdatasync (group commit): throughput grows
// with concurrency and a lone append pays no added delay. Seqs are given in
// append() call order and the file order is the same.
//
// Memory holds an index of the unacknowledged entries (where each record is,
// stream, count, appendedAt), never payloads; peek() reads them from disk.
// ack() persists a cursor (temp file + fsync + rename + directory fsync) and
// then deletes the segment files that hold only acknowledged entries. open()
// rebuilds the index from the segments, cutting a torn tail off the last one.
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SpoolClosedError, SpoolCorruptError, SpoolFullError, SpoolInputError, SpoolLockedError } from './errors.js';
import { HEADER_BYTES, MAX_COUNT, MAX_STREAM_BYTES, Segment, encodeRecord, listSegments, readFully, recordBytes, recordIntact, scanSegment, segmentName, type IndexEntry } from './segment.js';

export { SpoolClosedError, SpoolCorruptError, SpoolFullError, SpoolInputError, SpoolLockedError };

export interface SpoolOptions {
  /** Directory of the segment, ack cursor and lock files; created when missing. */
  dir: string;
  /** Bound of the unacknowledged bytes on disk (records with their headers). */
  maxBytes: number;
  /** A segment file is rolled over once the next append would take it past this; default 64 MiB. */
  segmentBytes?: number;
  /** Epoch milliseconds for appendedAt; injectable for tests. */
  now?: () => number;
}

export interface SpoolInput {
  /** Non-empty, at most 65535 UTF-8 bytes; e.g. "topic/partition". */
  stream: string;
  /** Copied at append(): the caller may reuse it once append() returned. */
  payload: Uint8Array;
  /** Records in the payload (for depth), an integer 0..2^32-1. */
  count: number;
}

export interface SpoolEntry {
  seq: number;
  stream: string;
  payload: Buffer;
  count: number;
  appendedAt: number;
}

export interface SpoolDepth {
  entries: number;
  records: number;
  /** On disk, record headers included: what counts against maxBytes. */
  bytes: number;
  oldestAppendedAt: number | null;
}

/** What open() found. */
export interface SpoolRecovery {
  /** Unacknowledged entries found (they will be peeked again). */
  entries: number;
  /** Bytes cut off the end of the last segment: a torn or corrupt tail; 0 when it was whole. */
  truncatedBytes: number;
  /** The segment file cut, or null. */
  truncatedSegment: string | null;
  /** Why the tail was cut, or null. */
  reason: string | null;
}

/** Counters since open(), for metrics and benchmarks. */
export interface SpoolStats {
  appends: number;
  entries: number;
  /** Data writes (a group is one, or more when it rolls a segment). */
  writes: number;
  /** fdatasync calls of segments (ack cursor fsyncs are in ackSyncs). */
  fsyncs: number;
  ackSyncs: number;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const ACK_FILE = 'ack';
const ACK_TEMP = 'ack.tmp';
const LOCK_FILE = 'lock';
// Drop the consumed front of the index array once it is this long and at least half of it.
const COMPACT_AT = 4096;
// Below this average append size a group is copied into one buffer before writing.
const SMALL_RECORD_BYTES = 4096;
// Zeroes written ahead of the records, this much at a time. fdatasync after
// an append that grows the file also commits the new size and blocks (a
// journal commit on ext4); after an overwrite of already written blocks it
// only flushes data, about twice as fast (0.5 vs 1.2 ms measured). The zeroes
// cost write bandwidth, not fsyncs: they go out with the records they follow.
const PREZERO_BYTES = 1 << 20;
const ZEROES = Buffer.alloc(PREZERO_BYTES);

/** Directories (real paths) held by a Spool of this process: the lock file cannot tell this process's holders from a former process with the same pid. */
const openHere = new Set<string>();

/** One append() waiting for its group commit. */
interface Pending {
  buf: Buffer;
  /** offset is relative to buf and segment a placeholder until written. */
  entries: IndexEntry[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly stats: SpoolStats = { appends: 0, entries: 0, writes: 0, fsyncs: 0, ackSyncs: 0 };
  readonly recovered: SpoolRecovery = { entries: 0, truncatedBytes: 0, truncatedSegment: null, reason: null };
  readonly #now: () => number;
  readonly #realDir: string;
  #dirHandle!: FileHandle;
  /** Oldest first; the last one is the active (written) segment. */
  #segments: Segment[] = [];
  #active!: Segment;
  /** Unacknowledged durable entries in seq order, from #head. */
  #index: IndexEntry[] = [];
  #head = 0;
  #records = 0;
  #bytes = 0;
  /** Accepted, not yet durable. */
  #inFlightBytes = 0;
  /** Unacknowledged entries per stream, in-flight appends included. */
  readonly #streams = new Map<string, number>();
  /** Last seq given out, and last seq durable. */
  #lastSeq = 0;
  #durableSeq = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  /** Acked in memory / durably on disk. */
  #ackTarget = 0;
  #ackDurable = 0;
  #ackWaiters: { seq: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  #acking: Promise<void> | undefined;
  #closed = false;
  /** A failed write or fsync: the file state is unknown (and fsync errors are not retryable), so the spool stops. */
  #failure: unknown;

  private constructor(opts: SpoolOptions, realDir: string) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.#now = opts.now ?? Date.now;
    this.#realDir = realDir;
  }

  /** Opens (creating) dir, takes its lock and recovers the unacknowledged entries of a former run. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    if (typeof opts.dir !== 'string' || opts.dir === '') throw new SpoolInputError('spool option "dir" must be a directory path');
    if (!(Number.isSafeInteger(opts.maxBytes) && opts.maxBytes > 0)) throw new SpoolInputError(`spool option "maxBytes" must be a whole number of bytes > 0, got ${String(opts.maxBytes)}`);
    if (opts.segmentBytes !== undefined && !(Number.isSafeInteger(opts.segmentBytes) && opts.segmentBytes > 0)) {
      throw new SpoolInputError(`spool option "segmentBytes" must be a whole number of bytes > 0, got ${String(opts.segmentBytes)}`);
    }
    await fs.mkdir(opts.dir, { recursive: true });
    const realDir = await fs.realpath(opts.dir);
    if (openHere.has(realDir)) throw new SpoolLockedError(opts.dir, process.pid);
    await takeLock(opts.dir);
    openHere.add(realDir);
    const spool = new Spool(opts, realDir);
    try {
      await spool.#recover();
    } catch (err) {
      await spool.#release();
      throw err;
    }
    return spool;
  }

  get depth(): SpoolDepth {
    const oldest = this.#index[this.#head];
    return { entries: this.#index.length - this.#head, records: this.#records, bytes: this.#bytes, oldestAppendedAt: oldest === undefined ? null : oldest.appendedAt };
  }

  /** The last seq given to an entry (durable or in flight); 0 before the first. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * Whether stream has an unacknowledged entry, counting appends still in
   * flight: a caller that sends directly when this is false cannot overtake
   * anything of that stream that it spooled before.
   */
  hasPending(stream: string): boolean {
    return this.#streams.has(stream);
  }

  /** Whether any stream has an unacknowledged entry (appends in flight included); no allocation. */
  get anyPending(): boolean {
    return this.#streams.size > 0;
  }

  /**
   * Appends the inputs as consecutive entries, all or none, and resolves once
   * they are on disk (fdatasync). Rejects without writing anything:
   * SpoolInputError for an input that can never fit, SpoolFullError when the
   * spool would exceed maxBytes, SpoolClosedError after close() or a failed write.
   */
  append(inputs: readonly SpoolInput[]): Promise<void> {
    try {
      return this.#accept(inputs);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The oldest unacknowledged entries in seq order, up to maxBytes of payload
   * and maxEntries entries; at least one entry (when there is one) however
   * large. Entries stay until acked. Only durable entries are seen.
   */
  async peek(maxBytes: number, maxEntries = Infinity): Promise<SpoolEntry[]> {
    this.#usable();
    const picked: IndexEntry[] = [];
    let bytes = 0;
    for (let i = this.#head; i < this.#index.length && picked.length < maxEntries; i++) {
      const entry = this.#index[i]!;
      if (picked.length > 0 && bytes + entry.payloadLength > maxBytes) break;
      picked.push(entry);
      bytes += entry.payloadLength;
    }
    // Hold every segment involved now, before an await lets an ack delete one.
    const held: Segment[] = [];
    for (const entry of picked) {
      if (held[held.length - 1] !== entry.segment) {
        entry.segment.readers++;
        held.push(entry.segment);
      }
    }
    const out: SpoolEntry[] = new Array(picked.length);
    try {
      // The picked entries of one segment are adjacent on disk: one read each.
      let i = 0;
      while (i < picked.length) {
        const segment = picked[i]!.segment;
        let j = i + 1;
        while (j < picked.length && picked[j]!.segment === segment) j++;
        const start = picked[i]!.offset;
        const last = picked[j - 1]!;
        const buf = Buffer.allocUnsafe(last.offset + last.length - start);
        if (!(await readFully(segment.handle, buf, buf.length, start))) throw new SpoolCorruptError(segment.file, start, 'shorter than its index');
        for (; i < j; i++) {
          const e = picked[i]!;
          const at = e.offset - start;
          if (!recordIntact(buf, at, e.length)) throw new SpoolCorruptError(segment.file, e.offset, 'checksum mismatch on read');
          out[i] = { seq: e.seq, stream: e.stream, payload: buf.subarray(at + e.length - e.payloadLength, at + e.length), count: e.count, appendedAt: e.appendedAt };
        }
      }
    } finally {
      for (const segment of held) await segment.release();
    }
    return out;
  }

  /**
   * Entries with seq <= throughSeq are done. They leave depth and peek() at
   * once; the promise resolves when the cursor is durable (a restart does not
   * replay them) and the segment files holding only acknowledged entries are
   * deleted. Acks arriving while one is written are persisted together.
   */
  async ack(throughSeq: number): Promise<void> {
    this.#usable();
    if (!Number.isSafeInteger(throughSeq) || throughSeq < 0) throw new SpoolInputError(`ack needs a seq (a whole number >= 0), got ${String(throughSeq)}`);
    if (throughSeq > this.#durableSeq) throw new SpoolInputError(`ack through seq ${throughSeq}, but the last durable entry is seq ${this.#durableSeq}`);
    if (throughSeq <= this.#ackDurable) return;
    if (throughSeq > this.#ackTarget) {
      this.#ackTarget = throughSeq;
      const index = this.#index;
      while (this.#head < index.length && index[this.#head]!.seq <= throughSeq) {
        const entry = index[this.#head++]!;
        this.#records -= entry.count;
        this.#bytes -= entry.length;
        this.#forget(entry.stream);
      }
      if (this.#head >= COMPACT_AT && this.#head * 2 >= index.length) {
        this.#index = index.slice(this.#head);
        this.#head = 0;
      }
    }
    const done = new Promise<void>((resolve, reject) => this.#ackWaiters.push({ seq: throughSeq, resolve, reject }));
    this.#acking ??= this.#persistAcks();
    return done;
  }

  /** Waits for queued appends and acks, then releases the files and the lock. Later calls reject with SpoolClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    while (this.#acking !== undefined) await this.#acking;
    const active = this.#active;
    if (this.#failure === undefined && active !== undefined && active.zeroedTo > active.size) await active.handle.truncate(active.size).catch(() => undefined);
    await this.#release();
  }

  #usable(): void {
    if (this.#failure !== undefined) throw new SpoolClosedError(this.dir, this.#failure);
    if (this.#closed) throw new SpoolClosedError(this.dir);
  }

  #accept(inputs: readonly SpoolInput[]): Promise<void> {
    this.#usable();
    if (inputs.length === 0) return Promise.resolve();
    // Validate and size everything before taking a seq: all or nothing.
    const streamBytes: number[] = new Array(inputs.length);
    let total = 0;
    for (let i = 0; i < inputs.length; i++) {
      const { stream, payload, count } = inputs[i]!;
      if (typeof stream !== 'string' || stream === '') throw new SpoolInputError('spool entry needs a non-empty stream name');
      const sb = Buffer.byteLength(stream, 'utf8');
      if (sb > MAX_STREAM_BYTES) throw new SpoolInputError(`spool stream name is ${sb} bytes, at most ${MAX_STREAM_BYTES}`);
      if (!Number.isInteger(count) || count < 0 || count > MAX_COUNT) throw new SpoolInputError(`spool entry count must be a whole number 0..${MAX_COUNT}, got ${String(count)}`);
      if (!(payload instanceof Uint8Array)) throw new SpoolInputError('spool entry payload must be a Uint8Array');
      const size = recordBytes(sb, payload.length);
      if (size > this.maxBytes) throw new SpoolInputError(`spool entry of ${size} bytes (${payload.length} payload) is larger than maxBytes ${this.maxBytes} of the spool at ${this.dir}`);
      streamBytes[i] = sb;
      total += size;
    }
    if (total > this.maxBytes) throw new SpoolInputError(`append of ${inputs.length} entries, ${total} bytes, is larger than maxBytes ${this.maxBytes} of the spool at ${this.dir}`);
    const held = this.#bytes + this.#inFlightBytes;
    if (held + total > this.maxBytes) throw new SpoolFullError(this.dir, held, this.maxBytes, total);

    const buf = Buffer.allocUnsafe(total);
    const appendedAt = this.#now();
    const entries: IndexEntry[] = new Array(inputs.length);
    let offset = 0;
    for (let i = 0; i < inputs.length; i++) {
      const { stream, payload, count } = inputs[i]!;
      const seq = ++this.#lastSeq;
      const end = encodeRecord(buf, offset, seq, appendedAt, count, stream, streamBytes[i]!, payload);
      entries[i] = { seq, segment: this.#active, offset, length: end - offset, payloadLength: payload.length, stream, count, appendedAt };
      offset = end;
      this.#streams.set(stream, (this.#streams.get(stream) ?? 0) + 1);
    }
    this.#inFlightBytes += total;
    this.stats.appends++;
    const done = new Promise<void>((resolve, reject) => this.#queue.push({ buf, entries, resolve, reject }));
    // A microtask, not a timer: appends made in the same tick join the first write, and nothing waits.
    if (this.#flushing === undefined) {
      this.#flushing = new Promise<void>((resolve) => queueMicrotask(() => void this.#flush().then(resolve)));
    }
    return done;
  }

  #forget(stream: string): void {
    const n = this.#streams.get(stream)! - 1;
    if (n === 0) this.#streams.delete(stream);
    else this.#streams.set(stream, n);
  }

  /** Writes queued appends, group by group, until the queue is empty. Never rejects. */
  async #flush(): Promise<void> {
    while (this.#queue.length > 0 && this.#failure === undefined) {
      const group = this.#queue;
      this.#queue = [];
      let i = 0;
      try {
        while (i < group.length) {
          // A run: the appends that fit in the active segment (always at least one).
          let active = this.#active;
          if (active.size > 0 && active.size + group[i]!.buf.length > this.segmentBytes) active = await this.#roll(group[i]!.entries[0]!.seq);
          let j = i;
          let bytes = 0;
          const bufs: Buffer[] = [];
          while (j < group.length && (j === i || active.size + bytes + group[j]!.buf.length <= this.segmentBytes)) {
            bufs.push(group[j]!.buf);
            bytes += group[j]!.buf.length;
            j++;
          }
          // Many small records: one copy into a single buffer costs less than handing the kernel an iovec each.
          const out = bufs.length > 1 && bytes < bufs.length * SMALL_RECORD_BYTES ? [Buffer.concat(bufs, bytes)] : bufs;
          const end = active.size + bytes;
          const pad = end > active.zeroedTo ? Math.max(0, Math.min(PREZERO_BYTES, this.segmentBytes - end)) : 0;
          if (pad > 0) out.push(ZEROES.subarray(0, pad));
          await writeAll(active.handle, out, bytes + pad, active.size);
          active.zeroedTo = Math.max(active.zeroedTo, end + pad);
          this.stats.writes++;
          await active.handle.datasync();
          this.stats.fsyncs++;
          for (; i < j; i++) this.#made(group[i]!, active);
        }
      } catch (err) {
        this.#failure = err;
        for (; i < group.length; i++) group[i]!.reject(err);
      }
    }
    if (this.#failure !== undefined) {
      const err = new SpoolClosedError(this.dir, this.#failure);
      for (const p of this.#queue) p.reject(err);
      this.#queue = [];
    }
    this.#flushing = undefined;
  }

  /** A pending append is durable in segment: index it and resolve it. */
  #made(p: Pending, segment: Segment): void {
    const base = segment.size;
    for (const entry of p.entries) {
      entry.segment = segment;
      entry.offset += base;
      this.#index.push(entry);
      this.#records += entry.count;
    }
    segment.size += p.buf.length;
    segment.lastSeq = p.entries[p.entries.length - 1]!.seq;
    this.#durableSeq = segment.lastSeq;
    this.#bytes += p.buf.length;
    this.#inFlightBytes -= p.buf.length;
    this.stats.entries += p.entries.length;
    // Appends acked in memory cannot be in flight (ack checks #durableSeq), so none is skipped here.
    p.resolve();
  }

  /** A new active segment named firstSeq; the directory is fsynced so the file survives a crash. */
  async #roll(firstSeq: number): Promise<Segment> {
    // Drop the zeroes written ahead in the segment before (harmless if a crash undoes this).
    const previous = this.#segments[this.#segments.length - 1];
    if (previous !== undefined && previous.zeroedTo > previous.size) {
      await previous.handle.truncate(previous.size);
      previous.zeroedTo = previous.size;
    }
    const file = path.join(this.dir, segmentName(firstSeq));
    const handle = await fs.open(file, 'wx+');
    const segment = new Segment(file, firstSeq, handle, 0);
    this.#segments.push(segment);
    this.#active = segment;
    await this.#dirHandle.sync();
    // The segment before is now deletable once acknowledged.
    if (this.#ackDurable > 0) await this.#dropAcked();
    return segment;
  }

  /** Writes the ack cursor until it catches up with #ackTarget, then deletes acknowledged segments. */
  async #persistAcks(): Promise<void> {
    try {
      while (this.#ackDurable < this.#ackTarget) {
        const target = this.#ackTarget;
        await writeDurably(this.#dirHandle, path.join(this.dir, ACK_TEMP), path.join(this.dir, ACK_FILE), `${target}\n`);
        this.stats.ackSyncs++;
        this.#ackDurable = target;
        await this.#dropAcked();
        this.#ackWaiters = this.#ackWaiters.filter((w) => (w.seq <= target ? (w.resolve(), false) : true));
      }
    } catch (err) {
      this.#failure ??= err;
      for (const w of this.#ackWaiters) w.reject(err);
      this.#ackWaiters = [];
    }
    this.#acking = undefined;
  }

  /** Deletes the segments, oldest first, that hold only durably acknowledged entries (never the active one). */
  async #dropAcked(): Promise<void> {
    while (this.#segments.length > 1 && this.#segments[0]!.lastSeq <= this.#ackDurable) {
      const segment = this.#segments.shift()!;
      await segment.remove();
    }
  }

  async #recover(): Promise<void> {
    this.#dirHandle = await fs.open(this.dir, 'r');
    const ackCursor = await readAckCursor(path.join(this.dir, ACK_FILE));
    await fs.rm(path.join(this.dir, ACK_TEMP), { force: true });
    const files = await listSegments(this.dir);
    let lastSeq = 0;
    for (let i = 0; i < files.length; i++) {
      const { file, firstSeq } = files[i]!;
      const isLast = i === files.length - 1;
      // Every seq of a segment is below the next one's name: wholly acknowledged, no need to read it.
      if (!isLast && files[i + 1]!.firstSeq - 1 <= ackCursor) {
        await fs.rm(file, { force: true });
        continue;
      }
      const segment = new Segment(file, firstSeq, await fs.open(file, isLast ? 'r+' : 'r'), 0);
      this.#segments.push(segment);
      const scan = await scanSegment(segment, lastSeq, ackCursor);
      if (scan.damage === undefined && isLast && scan.goodBytes < scan.fileBytes) {
        // Zeroes written ahead (or left by a crash in them): cut so the next write continues the data.
        await segment.handle.truncate(scan.goodBytes);
        await segment.handle.sync();
      }
      if (scan.damage !== undefined) {
        // Cutting there would drop acknowledged entries after the damage: refuse instead.
        if (!isLast || scan.intactAfter) throw new SpoolCorruptError(file, scan.goodBytes, scan.damage);
        // A torn tail: the write that was cut short was never acknowledged to anyone.
        await segment.handle.truncate(scan.goodBytes);
        await segment.handle.sync();
        this.recovered.truncatedBytes = scan.fileBytes - scan.goodBytes;
        this.recovered.truncatedSegment = file;
        this.recovered.reason = scan.damage;
      }
      segment.size = segment.zeroedTo = scan.goodBytes;
      segment.lastSeq = scan.goodBytes > 0 ? scan.lastSeq : 0;
      lastSeq = scan.lastSeq;
      for (const entry of scan.entries) {
        this.#index.push(entry);
        this.#records += entry.count;
        this.#bytes += entry.length;
        this.#streams.set(entry.stream, (this.#streams.get(entry.stream) ?? 0) + 1);
      }
    }
    this.#lastSeq = this.#durableSeq = Math.max(lastSeq, ackCursor);
    this.#ackTarget = this.#ackDurable = ackCursor;
    this.recovered.entries = this.#index.length;
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && files[files.length - 1]!.file === last.file) {
      this.#active = last;
    } else {
      await this.#roll(this.#lastSeq + 1);
    }
    await this.#dropAcked();
  }

  async #release(): Promise<void> {
    for (const segment of this.#segments) await segment.handle.close().catch(() => undefined);
    this.#segments = [];
    await this.#dirHandle?.close().catch(() => undefined);
    await fs.rm(path.join(this.dir, LOCK_FILE), { force: true });
    openHere.delete(this.#realDir);
    this.#closed = true;
  }
}

/** Writes all of bufs (bytes in total) at position, looping over short writes. */
async function writeAll(handle: FileHandle, bufs: Buffer[], bytes: number, position: number): Promise<void> {
  let { bytesWritten } = await handle.writev(bufs, position);
  if (bytesWritten === bytes) return;
  // Rare (a disk nearly full, a signal): finish byte by byte range.
  const rest = Buffer.concat(bufs).subarray(bytesWritten);
  let done = 0;
  while (done < rest.length) {
    const r = await handle.write(rest, done, rest.length - done, position + bytesWritten + done);
    if (r.bytesWritten === 0) throw new Error(`short write to a spool segment at ${position + bytesWritten + done}`);
    done += r.bytesWritten;
  }
}

/** Replaces file with text so that a crash leaves either the old or the new content: temp, fsync, rename, directory fsync. */
async function writeDurably(dirHandle: FileHandle, temp: string, file: string, text: string): Promise<void> {
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  await dirHandle.sync();
}

async function readAckCursor(file: string): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const seq = Number(text.trim());
  // Written by rename only, so never torn; anything else is damage, not a crash.
  if (!/^\d+\n?$/.test(text) || !Number.isSafeInteger(seq)) throw new SpoolCorruptError(file, 0, `ack cursor ${JSON.stringify(text.slice(0, 40))} is not a seq`);
  return seq;
}

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or null off Linux; tells a reused pid from the holder. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(holder: { pid: number; start: string | null }): boolean {
  // Same pid as ours: a former incarnation (a container's pid 1 restarting) unless this process has it open.
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = startTimeOf(holder.pid);
  return holder.start === null || start === null || start === holder.start;
}

/**
 * Creates dir/lock holding our pid and start time, exclusively. A lock whose
 * process is gone (or whose pid now belongs to another process) is taken over.
 * Two processes taking over the same stale lock at the same instant may both
 * remove it; the later create then fails for one of them, which is reported.
 */
async function takeLock(dir: string): Promise<void> {
  const file = path.join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, start: startTimeOf(process.pid) }) + '\n';
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.writeFile(file, mine, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: { pid: number; start: string | null } | undefined;
    try {
      const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { pid?: unknown; start?: unknown };
      if (Number.isSafeInteger(parsed.pid)) holder = { pid: parsed.pid as number, start: typeof parsed.start === 'string' ? parsed.start : null };
    } catch {
      // unreadable or half written: a holder that crashed while creating it
    }
    if (attempt > 0 || (holder !== undefined && alive(holder))) throw new SpoolLockedError(dir, holder?.pid ?? 0);
    await fs.rm(file, { force: true });
  }
}
