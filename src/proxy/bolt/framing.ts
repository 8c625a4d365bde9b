// Bolt's chunked messaging: a message is one or more chunks (u16 big-endian length + bytes)
// ended by an empty chunk `00 00`; an empty chunk outside a message is a NOOP (a keep-alive).
// The reader walks the chunk headers of a byte stream as it arrives, without re-scanning or
// re-assembling: a message that spans reads is kept as the list of its pieces, so a 64 MiB
// message read in 64 KiB pieces costs one pass, not a quadratic series of concatenations.

/** The signature passed for a NOOP (an empty chunk between messages). */
export const NOOP = -1;

export class BoltFramingError extends Error {
  readonly code = 'BOLT_FRAMING';
  override readonly name = 'BoltFramingError';
}

/**
 * Called once per message (and per NOOP) in stream order. The message's bytes as they came
 * (chunk headers included) are `parts` (pieces from earlier reads, or undefined) followed by
 * buf[start, end). `signature` is the message's PackStream structure signature. Returning
 * false stops the read after this message (push then returns how far it got).
 */
export type MessageHandler = (signature: number, buf: Buffer, start: number, end: number, parts: Buffer[] | undefined) => boolean | void;

export class MessageReader {
  /** Bytes left in the chunk being read. */
  private chunkLeft = 0;
  /** A chunk header split between reads: its first byte, or -1. */
  private headerHigh = -1;
  /** Payload bytes of the message so far. */
  private size = 0;
  /** The message's first two payload bytes: struct marker and signature. */
  private marker = -1;
  private signature = -1;
  /** Pieces of the current message from earlier reads. */
  private parts: Buffer[] | undefined;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly onMessage: MessageHandler,
  ) {}

  /** Whether a message has begun and not ended. */
  get partial(): boolean {
    return this.size > 0 || this.headerHigh >= 0 || this.parts !== undefined;
  }

  /**
   * Reads buf; returns the bytes consumed (all of them unless the handler stopped the read at
   * a message end). Throws BoltFramingError on a message larger than the bound or not a structure.
   */
  push(buf: Buffer): number {
    const len = buf.length;
    let pos = 0;
    let start = 0;
    while (pos < len) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, len - pos);
        if (this.signature < 0) this.readSignature(buf, pos, take);
        pos += take;
        this.chunkLeft -= take;
        continue;
      }
      let size: number;
      if (this.headerHigh >= 0) {
        size = (this.headerHigh << 8) | buf[pos]!;
        this.headerHigh = -1;
        pos += 1;
      } else if (pos + 1 < len) {
        size = (buf[pos]! << 8) | buf[pos + 1]!;
        pos += 2;
      } else {
        this.headerHigh = buf[pos]!;
        pos += 1;
        break;
      }
      if (size > 0) {
        this.size += size;
        if (this.size > this.maxMessageBytes) {
          throw new BoltFramingError(`a message is larger than maxMessageBytes (${this.maxMessageBytes} bytes)`);
        }
        this.chunkLeft = size;
        continue;
      }
      // The empty chunk: the end of a message, or a NOOP.
      const parts = this.parts;
      this.parts = undefined;
      let go: boolean | void;
      if (this.size === 0) {
        go = this.onMessage(NOOP, buf, start, pos, parts);
      } else {
        const signature = this.signature;
        const marker = this.marker;
        this.size = 0;
        this.marker = -1;
        this.signature = -1;
        if (marker < 0xb0 || marker > 0xbf || signature < 0) {
          throw new BoltFramingError(`a message is not a PackStream structure (it starts with byte 0x${Math.max(marker, 0).toString(16).padStart(2, '0')})`);
        }
        go = this.onMessage(signature, buf, start, pos, parts);
      }
      start = pos;
      if (go === false) return pos;
    }
    if (start < len) (this.parts ??= []).push(start === 0 ? buf : buf.subarray(start));
    return len;
  }

  private readSignature(buf: Buffer, pos: number, take: number): void {
    let i = pos;
    const end = pos + take;
    if (this.marker < 0 && i < end) this.marker = buf[i++]!;
    if (i < end) this.signature = buf[i]!;
  }

  /** Forgets a message in progress (after the stream it came from is gone). */
  reset(): void {
    this.chunkLeft = 0;
    this.headerHigh = -1;
    this.size = 0;
    this.marker = -1;
    this.signature = -1;
    this.parts = undefined;
  }
}

/** The bytes of a message as they came, in one buffer (a view when it came in one read). */
export function rawOf(buf: Buffer, start: number, end: number, parts: Buffer[] | undefined): Buffer {
  if (parts === undefined) return buf.subarray(start, end);
  return Buffer.concat([...parts, buf.subarray(start, end)]);
}

/** The message's payload without chunk headers (a view when it is one chunk). */
export function payloadOf(raw: Buffer): Buffer {
  const first = (raw[0]! << 8) | raw[1]!;
  if (first + 4 === raw.length) return raw.subarray(2, 2 + first);
  const pieces: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const size = (raw[pos]! << 8) | raw[pos + 1]!;
    if (size === 0) break;
    pieces.push(raw.subarray(pos + 2, pos + 2 + size));
    pos += 2 + size;
  }
  return Buffer.concat(pieces);
}

const MAX_CHUNK = 0xffff;

/** A message payload as chunks plus the end marker. */
export function chunk(payload: Uint8Array): Buffer {
  const n = payload.length;
  const out = Buffer.allocUnsafe(n + Math.ceil(n / MAX_CHUNK) * 2 + 2);
  let o = 0;
  for (let p = 0; p < n; p += MAX_CHUNK) {
    const size = Math.min(MAX_CHUNK, n - p);
    out[o] = size >> 8;
    out[o + 1] = size & 0xff;
    out.set(payload.subarray(p, p + size), o + 2);
    o += 2 + size;
  }
  out[o] = 0;
  out[o + 1] = 0;
  return out;
}
