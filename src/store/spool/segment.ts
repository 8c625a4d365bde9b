// Segment files of the durable spool and the records in them.
//
// A segment is a plain sequence of self-delimiting records, appended at its end
// and never rewritten; its name is the first seq it was created for, zero-padded
// so that name order is seq order. Record layout (big-endian):
//
//   [crc32 u32][length u32][seq u64][appendedAt u64][count u32][stream length u16][stream utf8][payload]
//
// length is the whole record, header included; crc32 covers everything after
// itself (length included), so a torn or flipped length is caught as well.
// A record is only trusted when it fits in the file and its crc matches. An
// all-zero header (crc and length 0, which no record has) ends the data: the
// spool writes zeroes ahead of the records (see spool.ts).
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export const HEADER_BYTES = 30;
export const MAX_STREAM_BYTES = 0xffff;
export const MAX_COUNT = 0xffffffff;
const TWO_32 = 2 ** 32;
const SEGMENT_SUFFIX = '.seg';
// Recovery reads segments in windows of this size (a larger record gets a window of its own).
const SCAN_WINDOW_BYTES = 1 << 20;

/** What the in-memory index keeps per entry: where the record is, no payload. */
export interface IndexEntry {
  seq: number;
  segment: Segment;
  offset: number;
  /** Whole record, header included: what it counts against maxBytes. */
  length: number;
  payloadLength: number;
  stream: string;
  count: number;
  appendedAt: number;
}

/** One segment file: its handle (read and write), size and the readers that hold it open. */
export class Segment {
  /** Bytes in the file that hold whole, durable records (the next write goes here). */
  size: number;
  /** The file is written (zeroes past size) up to here: see PREZERO_BYTES in spool.ts. */
  zeroedTo: number;
  /** Highest seq written into it; 0 while empty. */
  lastSeq = 0;
  /** peek() reads in progress: an acknowledged segment is unlinked when the last one ends. */
  readers = 0;
  doomed = false;

  constructor(
    readonly file: string,
    readonly firstSeq: number,
    readonly handle: FileHandle,
    size: number,
  ) {
    this.size = size;
    this.zeroedTo = size;
  }

  /** Closes and unlinks now, or when the last reader is done. */
  async remove(): Promise<void> {
    this.doomed = true;
    if (this.readers === 0) await this.#drop();
  }

  /** A reader is done; returns once a deferred removal (if any) happened. */
  async release(): Promise<void> {
    this.readers--;
    if (this.readers === 0 && this.doomed) await this.#drop();
  }

  async #drop(): Promise<void> {
    this.readers = -1; // never dropped twice
    await this.handle.close().catch(() => undefined);
    await fs.unlink(this.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

export function segmentName(firstSeq: number): string {
  return String(firstSeq).padStart(20, '0') + SEGMENT_SUFFIX;
}

/** The segment files of dir, oldest first, with the seq their name carries. */
export async function listSegments(dir: string): Promise<{ file: string; firstSeq: number }[]> {
  const out: { file: string; firstSeq: number }[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.endsWith(SEGMENT_SUFFIX)) continue;
    const firstSeq = Number(name.slice(0, -SEGMENT_SUFFIX.length));
    if (Number.isSafeInteger(firstSeq) && firstSeq > 0) out.push({ file: path.join(dir, name), firstSeq });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

/** Encoded size of a record. */
export function recordBytes(streamBytes: number, payloadBytes: number): number {
  return HEADER_BYTES + streamBytes + payloadBytes;
}

/** Writes one record at offset of out (sized with recordBytes); returns the offset after it. */
export function encodeRecord(out: Buffer, offset: number, seq: number, appendedAt: number, count: number, stream: string, streamBytes: number, payload: Uint8Array): number {
  const length = HEADER_BYTES + streamBytes + payload.length;
  out.writeUInt32BE(length, offset + 4);
  writeU64(out, seq, offset + 8);
  writeU64(out, appendedAt, offset + 16);
  out.writeUInt32BE(count, offset + 24);
  out.writeUInt16BE(streamBytes, offset + 28);
  out.write(stream, offset + HEADER_BYTES, streamBytes, 'utf8');
  out.set(payload, offset + HEADER_BYTES + streamBytes);
  out.writeUInt32BE(crc32(out.subarray(offset + 4, offset + length)), offset);
  return offset + length;
}

/** The crc of the record at offset of buf matches (the record is whole in buf). */
export function recordIntact(buf: Buffer, offset: number, length: number): boolean {
  return buf.readUInt32BE(offset) === crc32(buf.subarray(offset + 4, offset + length));
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

/** Reads exactly length bytes at position into buf (short reads looped); false at end of file. */
export async function readFully(handle: FileHandle, buf: Buffer, length: number, position: number): Promise<boolean> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

export interface ScanResult {
  /** Entries with seq > skipThrough, in file order. */
  entries: IndexEntry[];
  /** Offset just past the last good record (zeroes written ahead may follow). */
  goodBytes: number;
  fileBytes: number;
  /** Why scanning stopped before the end of the file; undefined when the file is whole. */
  damage: string | undefined;
  /** An intact record follows the damaged one: not a torn tail. */
  intactAfter: boolean;
  lastSeq: number;
}

/**
 * Reads every record of a segment, oldest first, until the end of the file or
 * the first record that is torn or corrupt (the caller decides whether that is
 * a torn tail). Only index data is kept; payloads are read and dropped.
 * Seqs must increase and exceed afterSeq (the last seq of the segment before).
 */
export async function scanSegment(segment: Segment, afterSeq: number, skipThrough: number): Promise<ScanResult> {
  const fileBytes = (await segment.handle.stat()).size;
  const entries: IndexEntry[] = [];
  let buf = Buffer.allocUnsafe(Math.min(SCAN_WINDOW_BYTES, Math.max(HEADER_BYTES, fileBytes)));
  let bufStart = 0;
  let bufEnd = 0; // file offsets held in buf: [bufStart, bufEnd)
  const load = async (pos: number, n: number): Promise<boolean> => {
    if (pos + n <= bufEnd && pos >= bufStart) return true;
    if (pos + n > fileBytes) return false;
    if (n > buf.length) buf = Buffer.allocUnsafe(n);
    const want = Math.min(buf.length, fileBytes - pos);
    if (!(await readFully(segment.handle, buf, want, pos))) return false; // shrank underneath us
    bufStart = pos;
    bufEnd = pos + want;
    return true;
  };
  let pos = 0;
  let lastSeq = afterSeq;
  let damage: string | undefined;
  let intactAfter = false;
  while (pos < fileBytes) {
    if (!(await load(pos, HEADER_BYTES))) {
      damage = 'torn record header';
      break;
    }
    const length = buf.readUInt32BE(pos - bufStart + 4);
    // Zeroes where a record would start: the written-ahead tail of the segment, the end of its data.
    if (length === 0 && buf.readUInt32BE(pos - bufStart) === 0) break;
    if (length < HEADER_BYTES || pos + length > fileBytes) {
      damage = length < HEADER_BYTES ? `record length ${length} below the header size` : `record length ${length} runs past the end of the file`;
      break;
    }
    if (!(await load(pos, length))) {
      damage = 'torn record';
      break;
    }
    const at = pos - bufStart;
    if (!recordIntact(buf, at, length)) {
      damage = 'checksum mismatch';
      // A torn write is the end of the file; an intact record after this one means damage in the middle.
      const next = pos + length;
      if (await load(next, HEADER_BYTES)) {
        const nextLength = buf.readUInt32BE(next - bufStart + 4);
        intactAfter = nextLength >= HEADER_BYTES && (await load(next, nextLength)) && recordIntact(buf, next - bufStart, nextLength);
      }
      break;
    }
    const seq = readU64(buf, at + 8);
    const streamBytes = buf.readUInt16BE(at + 28);
    if (seq <= lastSeq || HEADER_BYTES + streamBytes > length) {
      damage = seq <= lastSeq ? `seq ${seq} does not follow ${lastSeq}` : 'stream name runs past the record';
      break;
    }
    lastSeq = seq;
    if (seq > skipThrough) {
      entries.push({
        seq,
        segment,
        offset: pos,
        length,
        payloadLength: length - HEADER_BYTES - streamBytes,
        stream: buf.toString('utf8', at + HEADER_BYTES, at + HEADER_BYTES + streamBytes),
        count: buf.readUInt32BE(at + 24),
        appendedAt: readU64(buf, at + 16),
      });
    }
    pos += length;
  }
  return { entries, goodBytes: pos, fileBytes, damage, intactAfter, lastSeq };
}
