// Kafka wire primitives: a cursor-based Reader over one Buffer and a growable Writer.
// Encodings follow the Kafka protocol guide: big-endian fixed-width integers, unsigned
// varints (7 bits per byte, low group first), zig-zag signed varints, classic strings
// (INT16 length, -1 = null), compact strings/bytes/arrays (UVARINT length+1, 0 = null) and
// tagged-field buffers (UVARINT count, then UVARINT tag + UVARINT size + bytes per field).

export type KafkaWireErrorCode = 'truncated' | 'malformed' | 'frame_too_large' | 'unsupported_version';

/** A Kafka message that could not be read: what, where (byte offset) and what to do. */
export class KafkaWireError extends Error {
  constructor(
    readonly code: KafkaWireErrorCode,
    message: string,
    /** Byte offset in the buffer being read, when known. */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'KafkaWireError';
  }
}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos = 0,
    /** Exclusive end of the readable region. */
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new KafkaWireError(
        'truncated',
        `Kafka message truncated reading ${what} at byte ${this.pos} (need ${n}, have ${this.end - this.pos}): the peer sent an incomplete or differently versioned message`,
        this.pos,
      );
    }
  }

  int8(): number {
    this.need(1, 'INT8');
    return this.buf.readInt8(this.pos++);
  }
  int16(): number {
    this.need(2, 'INT16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4, 'INT32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    this.need(8, 'INT64');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  uuid(): Buffer {
    return this.raw(16);
  }

  /** UVARINT up to 32 bits (Kafka's ByteUtils.readUnsignedVarint: at most 5 bytes). */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1, 'UVARINT');
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaWireError('malformed', `UVARINT longer than 32 bits ending at byte ${this.pos}`, this.pos);
  }
  /** Zig-zag VARINT (32 bits). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /**
   * A classic or compact array length that must not be null (unless nullable); a count larger
   * than the bytes left is garbage (every element takes at least one byte), not a huge array.
   */
  count(flex: boolean, what: string, nullable: true): number | null;
  count(flex: boolean, what: string, nullable?: false): number;
  count(flex: boolean, what: string, nullable = false): number | null {
    const at = this.pos;
    const n = flex ? this.compactArrayLength() : this.arrayLength();
    if (n === null) {
      if (nullable) return null;
      throw new KafkaWireError('malformed', `null ${what} array at byte ${at}`, at);
    }
    if (n > this.remaining) throw new KafkaWireError('malformed', `${what} array of ${n} elements at byte ${at} exceeds the ${this.remaining} bytes left`, at);
    return n;
  }

  /** Skips n bytes (fields not needed), or throws 'truncated' naming them. */
  skip(n: number, what: string): void {
    if (n > this.remaining) {
      throw new KafkaWireError('truncated', `Kafka message truncated skipping ${what} at byte ${this.pos} (need ${n}, have ${this.remaining})`, this.pos);
    }
    this.pos += n;
  }

  raw(n: number): Buffer {
    this.need(n, 'bytes');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Classic (INT16 length) string; null for length -1. */
  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) throw new KafkaWireError('malformed', `negative string length ${len} at byte ${this.pos - 2}`, this.pos - 2);
    return this.raw(len).toString('utf8');
  }
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new KafkaWireError('malformed', `null where a non-nullable STRING was expected at byte ${this.pos - 2}`, this.pos - 2);
    return s;
  }
  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.raw(n - 1).toString('utf8');
  }
  compactString(): string {
    const at = this.pos;
    const s = this.compactNullableString();
    if (s === null) throw new KafkaWireError('malformed', `null where a non-nullable COMPACT_STRING was expected at byte ${at}`, at);
    return s;
  }
  /** Classic BYTES (INT32 length, -1 = null). */
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) throw new KafkaWireError('malformed', `negative bytes length ${len} at byte ${this.pos - 4}`, this.pos - 4);
    return this.raw(len);
  }
  compactNullableBytes(): Buffer | null {
    const n = this.uvarint();
    return n === 0 ? null : this.raw(n - 1);
  }
  /** Classic ARRAY length (INT32, -1 = null). */
  arrayLength(): number | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < 0) throw new KafkaWireError('malformed', `negative array length ${n} at byte ${this.pos - 4}`, this.pos - 4);
    return n;
  }
  /** COMPACT_ARRAY length (UVARINT n+1, 0 = null). */
  compactArrayLength(): number | null {
    const n = this.uvarint();
    return n === 0 ? null : n - 1;
  }
  /** Reads one tagged-field section; returns the fields (data are views into the buffer). */
  taggedFields(): { tag: number; data: Buffer }[] {
    const count = this.uvarint();
    const out: { tag: number; data: Buffer }[] = [];
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      out.push({ tag, data: this.raw(size) });
    }
    return out;
  }
  /** Skips one tagged-field section. */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.raw(this.uvarint());
    }
  }
}

/** A growable big-endian writer. */
export class Writer {
  private buf: Buffer;
  pos = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initial));
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  int8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }
  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  int64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  /** UVARINT of a value in [0, 2^32). */
  uvarint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`UVARINT out of range: ${v}`);
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }
  /** Zig-zag VARINT of a 32-bit signed value. */
  varint(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`VARINT out of range: ${v}`);
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    if (b.length > 0x7fff) throw new RangeError(`STRING longer than 32767 bytes (${b.length})`);
    return this.int16(b.length).raw(b);
  }
  string(s: string): this {
    return this.nullableString(s);
  }
  compactNullableString(s: string | null): this {
    if (s === null) return this.uvarint(0);
    const b = Buffer.from(s, 'utf8');
    return this.uvarint(b.length + 1).raw(b);
  }
  compactString(s: string): this {
    return this.compactNullableString(s);
  }
  nullableBytes(b: Uint8Array | null): this {
    return b === null ? this.int32(-1) : this.int32(b.length).raw(b);
  }
  compactNullableBytes(b: Uint8Array | null): this {
    return b === null ? this.uvarint(0) : this.uvarint(b.length + 1).raw(b);
  }
  arrayLength(n: number | null): this {
    return this.int32(n === null ? -1 : n);
  }
  compactArrayLength(n: number | null): this {
    return this.uvarint(n === null ? 0 : n + 1);
  }
  taggedFields(fields: readonly { tag: number; data: Uint8Array }[] = []): this {
    this.uvarint(fields.length);
    for (const f of fields) this.uvarint(f.tag).uvarint(f.data.length).raw(f.data);
    return this;
  }
  /** The bytes written so far (a copy-free view while the writer is not written to again). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.view());
  }
}
