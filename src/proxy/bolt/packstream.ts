// PackStream v1, Bolt's value encoding (https://neo4j.com/docs/bolt/current/packstream/): enough
// to read message metadata (RUN, SUCCESS, FAILURE, ROUTE) and to build replies. Graph types
// (Node, Date, Point, ...) are plain structs here: the proxy never needs their meaning.
//
// Value mapping: integers decode to number within ±(2^53−1), else bigint; floats decode to
// PackFloat so that a re-encode keeps them floats (a JS number 1 and a PackStream 1.0 differ on
// the wire); maps are Object.create(null) objects (a "__proto__" key is just a key); structs
// are plain { signature, fields } objects.
//
// Markers (the spec's table): 00–7F and F0–FF TINY_INT, 80–8F TINY_STRING, 90–9F TINY_LIST,
// A0–AF TINY_MAP, B0–BF TINY_STRUCT, C0 NULL, C1 FLOAT_64, C2/C3 FALSE/TRUE, C8–CB INT_8..64,
// CC–CE BYTES_8..32, D0–D2 STRING_8..32, D4–D6 LIST_8..32, D8–DA MAP_8..32. Everything else
// (C4–C7, CF, D3, D7, DB–EF) is not a PackStream v1 marker; DC/DD (STRUCT_8/16) were dropped
// from the spec, and Bolt never sends a struct of more than 15 fields.

export class PackStreamError extends Error {
  readonly code = 'PACKSTREAM';
  constructor(message: string) {
    super(message);
    this.name = 'PackStreamError';
  }
}

/** A PackStream FLOAT_64: kept apart from integers so that 1.0 stays 1.0 on re-encode. */
export class PackFloat {
  constructor(readonly value: number) {}
}

export interface PackStruct {
  readonly signature: number;
  readonly fields: PackValue[];
}

export type PackMap = { [key: string]: PackValue };

export type PackValue = null | boolean | number | bigint | PackFloat | string | Uint8Array | PackValue[] | PackMap | PackStruct;

/** Containers nested deeper than this are refused: bounds the recursion on hostile input. */
const MAX_DEPTH = 64;
const MAX_STRUCT_FIELDS = 15;
const MAX_SIZE_32 = 0xffffffff;
const TWO_32 = 4294967296;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

// Scratch for doubles: works on any Uint8Array without a DataView per value.
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const UTF8 = new TextDecoder('utf-8'); // for non-Buffer input; Buffers use their own fast path

function hex(m: number): string {
  return `0x${m.toString(16).toUpperCase().padStart(2, '0')}`;
}

function truncated(what: string, at: number, need: number, end: number): PackStreamError {
  return new PackStreamError(
    `PackStream ${what} at offset ${at} is truncated: it needs ${need} byte(s) but only ${Math.max(0, end - at)} remain before offset ${end} (incomplete message, or not PackStream)`,
  );
}

function badMarker(m: number, at: number): PackStreamError {
  return new PackStreamError(
    `unknown PackStream marker ${hex(m)} at offset ${at}: C4–C7, CF, D3, D7 and DB–EF are not PackStream v1 markers (corrupt data, a newer PackStream, or not Bolt at all)`,
  );
}

function tooDeep(at: number): PackStreamError {
  return new PackStreamError(`PackStream value at offset ${at} nests containers deeper than ${MAX_DEPTH} levels: refused (Bolt metadata never nests that deep)`);
}

function checkRange(buf: Uint8Array, pos: number, end: number): void {
  if (!(Number.isInteger(pos) && Number.isInteger(end) && pos >= 0 && pos <= end && end <= buf.length)) {
    throw new PackStreamError(`bad PackStream read range ${pos}..${end} for a ${buf.length}-byte buffer: need integers with 0 <= pos <= end <= length`);
  }
}

function u16(buf: Uint8Array, p: number): number {
  return (buf[p]! << 8) | buf[p + 1]!;
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}

function i32(buf: Uint8Array, p: number): number {
  return (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
}

function f64(buf: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) F64_BYTES[LITTLE_ENDIAN ? 7 - i : i] = buf[p + i]!;
  return F64[0]!;
}

function i64(buf: Uint8Array, p: number): number | bigint {
  const hi = i32(buf, p);
  const lo = u32(buf, p + 4);
  // exact whenever the true value is safe; a rounded result is never safe
  const n = hi * TWO_32 + lo;
  return Number.isSafeInteger(n) ? n : BigInt(hi) * 4294967296n + BigInt(lo);
}

function utf8(buf: Uint8Array, start: number, stop: number): string {
  // metadata keys and values are mostly short ASCII: a JS loop beats the native call there
  if (stop - start <= 12) {
    let s = '';
    for (let i = start; i < stop; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return utf8Native(buf, start, stop);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Native(buf, start, stop);
}

function utf8Native(buf: Uint8Array, start: number, stop: number): string {
  if (Buffer.isBuffer(buf)) return buf.toString('utf8', start, stop);
  return UTF8.decode(buf.subarray(start, stop));
}

/** Byte width of the size field after a sized marker (8/16/32-bit), 0 for tiny ones. */
function sizeWidth(low2: number): number {
  return low2 === 0 ? 1 : low2 === 1 ? 2 : 4;
}

function readSize(buf: Uint8Array, p: number, width: number): number {
  return width === 1 ? buf[p]! : width === 2 ? u16(buf, p) : u32(buf, p);
}

// The recursive reader leaves the offset after the value here: one result object per
// readValue call instead of one per nested value.
let cursor = 0;

function read(buf: Uint8Array, pos: number, end: number, depth: number): PackValue {
  if (pos >= end) throw truncated('value', pos, 1, end);
  const m = buf[pos]!;
  if (m < 0x80) {
    cursor = pos + 1;
    return m;
  }
  if (m >= 0xf0) {
    cursor = pos + 1;
    return m - 0x100;
  }
  switch (m & 0xf0) {
    case 0x80:
      return readString(buf, pos + 1, m & 0x0f, end, pos);
    case 0x90:
      return readList(buf, pos + 1, m & 0x0f, end, depth, pos);
    case 0xa0:
      return readMap(buf, pos + 1, m & 0x0f, end, depth, pos);
    case 0xb0:
      return readStruct(buf, pos + 1, m & 0x0f, end, depth, pos);
  }
  switch (m) {
    case 0xc0:
      cursor = pos + 1;
      return null;
    case 0xc1:
      if (end - pos < 9) throw truncated('FLOAT_64', pos, 9, end);
      cursor = pos + 9;
      return new PackFloat(f64(buf, pos + 1));
    case 0xc2:
      cursor = pos + 1;
      return false;
    case 0xc3:
      cursor = pos + 1;
      return true;
    case 0xc8:
      if (end - pos < 2) throw truncated('INT_8', pos, 2, end);
      cursor = pos + 2;
      return (buf[pos + 1]! << 24) >> 24;
    case 0xc9:
      if (end - pos < 3) throw truncated('INT_16', pos, 3, end);
      cursor = pos + 3;
      return (u16(buf, pos + 1) << 16) >> 16;
    case 0xca:
      if (end - pos < 5) throw truncated('INT_32', pos, 5, end);
      cursor = pos + 5;
      return i32(buf, pos + 1);
    case 0xcb:
      if (end - pos < 9) throw truncated('INT_64', pos, 9, end);
      cursor = pos + 9;
      return i64(buf, pos + 1);
    case 0xcc:
    case 0xcd:
    case 0xce: {
      const w = sizeWidth(m & 3);
      if (end - pos < 1 + w) throw truncated('BYTES header', pos, 1 + w, end);
      const n = readSize(buf, pos + 1, w);
      const start = pos + 1 + w;
      if (end - start < n) throw truncated(`BYTES of ${n} bytes`, pos, 1 + w + n, end);
      cursor = start + n;
      return new Uint8Array(buf.subarray(start, start + n)); // a copy: socket buffers get reused
    }
    case 0xd0:
    case 0xd1:
    case 0xd2: {
      const w = sizeWidth(m & 3);
      if (end - pos < 1 + w) throw truncated('STRING header', pos, 1 + w, end);
      return readString(buf, pos + 1 + w, readSize(buf, pos + 1, w), end, pos);
    }
    case 0xd4:
    case 0xd5:
    case 0xd6: {
      const w = sizeWidth(m & 3);
      if (end - pos < 1 + w) throw truncated('LIST header', pos, 1 + w, end);
      return readList(buf, pos + 1 + w, readSize(buf, pos + 1, w), end, depth, pos);
    }
    case 0xd8:
    case 0xd9:
    case 0xda: {
      const w = sizeWidth(m & 3);
      if (end - pos < 1 + w) throw truncated('MAP header', pos, 1 + w, end);
      return readMap(buf, pos + 1 + w, readSize(buf, pos + 1, w), end, depth, pos);
    }
  }
  throw badMarker(m, pos);
}

function readString(buf: Uint8Array, start: number, n: number, end: number, at: number): string {
  if (end - start < n) throw truncated(`STRING of ${n} bytes`, at, start - at + n, end);
  cursor = start + n;
  return n === 0 ? '' : utf8(buf, start, start + n);
}

function readList(buf: Uint8Array, p: number, n: number, end: number, depth: number, at: number): PackValue[] {
  if (depth >= MAX_DEPTH) throw tooDeep(at);
  // every item takes at least one byte: refuse impossible counts before looping on them
  if (end - p < n) throw truncated(`LIST of ${n} items`, at, p - at + n, end);
  const list: PackValue[] = [];
  for (let i = 0; i < n; i++) {
    list.push(read(buf, p, end, depth + 1));
    p = cursor;
  }
  cursor = p;
  return list;
}

function readMap(buf: Uint8Array, p: number, n: number, end: number, depth: number, at: number): PackMap {
  if (depth >= MAX_DEPTH) throw tooDeep(at);
  if ((end - p) / 2 < n) throw truncated(`MAP of ${n} entries`, at, p - at + 2 * n, end);
  const map = Object.create(null) as PackMap;
  for (let i = 0; i < n; i++) {
    const keyAt = p;
    const key = read(buf, p, end, depth + 1);
    if (typeof key !== 'string') throw new PackStreamError(`PackStream map key at offset ${keyAt} is not a string (marker ${hex(buf[keyAt]!)}): Bolt maps have string keys only`);
    map[key] = read(buf, cursor, end, depth + 1);
    p = cursor;
  }
  cursor = p;
  return map;
}

function readStruct(buf: Uint8Array, p: number, n: number, end: number, depth: number, at: number): PackStruct {
  if (depth >= MAX_DEPTH) throw tooDeep(at);
  if (end - p < 1 + n) throw truncated(`STRUCT of ${n} fields`, at, 2 + n, end);
  const signature = buf[p++]!;
  const fields: PackValue[] = [];
  for (let i = 0; i < n; i++) {
    fields.push(read(buf, p, end, depth + 1));
    p = cursor;
  }
  cursor = p;
  return { signature, fields };
}

/**
 * Decodes the value at `pos` (which must end by `end`). `depth` is how many containers
 * already enclose it, for callers that parsed the outer struct themselves.
 */
export function readValue(buf: Uint8Array, pos: number, end: number, depth = 0): { value: PackValue; end: number } {
  checkRange(buf, pos, end);
  const value = read(buf, pos, end, depth);
  return { value, end: cursor };
}

// skipValue's stack: per open container, the values still to skip and whether it is a map.
const SKIP_LEFT = new Float64Array(MAX_DEPTH);
const SKIP_MAP = new Uint8Array(MAX_DEPTH);

/**
 * The offset after the value at `pos`, validated like readValue (markers, truncation, string
 * map keys, depth) but without building it; allocates nothing.
 */
export function skipValue(buf: Uint8Array, pos: number, end: number): number {
  checkRange(buf, pos, end);
  let depth = 0; // containers open around the next value
  let left = 1; // values still to skip in the innermost one
  let inMap = false;
  for (;;) {
    while (left === 0) {
      if (depth === 0) return pos;
      depth--;
      left = SKIP_LEFT[depth]!;
      inMap = SKIP_MAP[depth] === 1;
    }
    if (pos >= end) throw truncated('value', pos, 1, end);
    const at = pos;
    const m = buf[pos]!;
    const isKey = inMap && left % 2 === 0;
    left--;
    if (isKey && !((m >= 0x80 && m <= 0x8f) || (m >= 0xd0 && m <= 0xd2))) {
      throw new PackStreamError(`PackStream map key at offset ${at} is not a string (marker ${hex(m)}): Bolt maps have string keys only`);
    }
    let items = -1; // values inside, for a container
    let map = false;
    if (m < 0x80 || m >= 0xf0 || m === 0xc0 || m === 0xc2 || m === 0xc3) {
      pos += 1;
      continue;
    }
    const high = m & 0xf0;
    if (high === 0x80) {
      const n = m & 0x0f;
      if (end - pos < 1 + n) throw truncated(`STRING of ${n} bytes`, at, 1 + n, end);
      pos += 1 + n;
      continue;
    } else if (high === 0x90) {
      items = m & 0x0f;
      pos += 1;
    } else if (high === 0xa0) {
      items = 2 * (m & 0x0f);
      map = true;
      pos += 1;
    } else if (high === 0xb0) {
      if (end - pos < 2) throw truncated(`STRUCT of ${m & 0x0f} fields`, at, 2 + (m & 0x0f), end);
      items = m & 0x0f;
      pos += 2;
    } else {
      switch (m) {
        case 0xc1:
        case 0xcb:
        case 0xc8:
        case 0xc9:
        case 0xca: {
          const size = m === 0xc1 || m === 0xcb ? 9 : m === 0xc8 ? 2 : m === 0xc9 ? 3 : 5;
          if (end - pos < size) throw truncated(m === 0xc1 ? 'FLOAT_64' : `INT_${8 << (m - 0xc8)}`, at, size, end);
          pos += size;
          continue;
        }
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xd0:
        case 0xd1:
        case 0xd2: {
          const w = sizeWidth(m & 3);
          const kind = m <= 0xce ? 'BYTES' : 'STRING';
          if (end - pos < 1 + w) throw truncated(`${kind} header`, at, 1 + w, end);
          const n = readSize(buf, pos + 1, w);
          if (end - pos - 1 - w < n) throw truncated(`${kind} of ${n} bytes`, at, 1 + w + n, end);
          pos += 1 + w + n;
          continue;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd8:
        case 0xd9:
        case 0xda: {
          const w = sizeWidth(m & 3);
          map = m >= 0xd8;
          if (end - pos < 1 + w) throw truncated(`${map ? 'MAP' : 'LIST'} header`, at, 1 + w, end);
          const n = readSize(buf, pos + 1, w);
          items = map ? 2 * n : n;
          pos += 1 + w;
          break;
        }
        default:
          throw badMarker(m, at);
      }
    }
    // a container: same checks, in the same order, as the reader
    if (depth >= MAX_DEPTH) throw tooDeep(at);
    if (end - pos < items) {
      const what = map ? `MAP of ${items / 2} entries` : high === 0xb0 ? `STRUCT of ${items} fields` : `LIST of ${items} items`;
      throw truncated(what, at, pos - at + items, end);
    }
    SKIP_LEFT[depth] = left;
    SKIP_MAP[depth] = inMap ? 1 : 0;
    depth++;
    left = items;
    inMap = map;
  }
}

/** A TINY_STRUCT's header (Bolt messages are structs): its field count and signature. */
export function readStructHeader(buf: Uint8Array, pos: number, end: number): { size: number; signature: number; next: number } {
  checkRange(buf, pos, end);
  if (end - pos < 2) throw truncated('STRUCT header', pos, 2, end);
  const m = buf[pos]!;
  if ((m & 0xf0) !== 0xb0) throw new PackStreamError(`expected a PackStream struct (marker B0–BF) at offset ${pos}, got marker ${hex(m)}: not a Bolt message`);
  return { size: m & 0x0f, signature: buf[pos + 1]!, next: pos + 2 };
}

export function isStruct(v: PackValue): v is PackStruct {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || v instanceof PackFloat) return false;
  // decoded maps have no prototype, so a map with "signature" and "fields" keys stays a map
  if (Object.getPrototypeOf(v) === null) return false;
  const s = v as { signature?: unknown; fields?: unknown };
  return typeof s.signature === 'number' && Array.isArray(s.fields);
}

export function isMap(v: PackValue): v is PackMap {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || v instanceof PackFloat) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === null || (proto === Object.prototype && !isStruct(v));
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'object' && v !== null) return `an object of class ${(v as object).constructor?.name ?? '?'}`;
  return `a ${typeof v}`;
}

/** Encodes PackStream into a growing buffer; reuse one (reset()) on hot paths. */
export class PackWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialBytes | 0));
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private sized(tiny: number, marker8: number, n: number, what: string): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= MAX_SIZE_32)) throw new PackStreamError(`${what} size ${n} is out of range: PackStream sizes are integers 0..2^32-1`);
    this.room(5);
    const b = this.buf;
    if (n < 16 && tiny >= 0) {
      b[this.pos++] = tiny | n;
    } else if (n < 0x100) {
      b[this.pos++] = marker8;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = marker8 + 1;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = marker8 + 2;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  /** Writes any PackValue (see the top of this file for the mapping). */
  value(v: PackValue): this {
    this.write(v, 0);
    return this;
  }

  private write(v: PackValue, depth: number): void {
    switch (typeof v) {
      case 'number':
      case 'bigint':
        this.int(v);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.room(1);
        this.buf[this.pos++] = v ? 0xc3 : 0xc2;
        return;
      case 'object':
        break;
      default:
        throw new PackStreamError(`cannot encode ${describe(v)} as PackStream: use null, boolean, integer number/bigint, PackFloat, string, Uint8Array, array, map or struct`);
    }
    if (v === null) {
      this.room(1);
      this.buf[this.pos++] = 0xc0;
      return;
    }
    if (v instanceof PackFloat) {
      this.room(9);
      this.buf[this.pos] = 0xc1;
      this.buf.writeDoubleBE(v.value, this.pos + 1);
      this.pos += 9;
      return;
    }
    if (v instanceof Uint8Array) {
      this.sized(-1, 0xcc, v.length, 'BYTES');
      this.room(v.length);
      this.buf.set(v, this.pos);
      this.pos += v.length;
      return;
    }
    if (depth >= MAX_DEPTH) throw new PackStreamError(`cannot encode a value nesting containers deeper than ${MAX_DEPTH} levels (a cycle?): flatten it`);
    if (Array.isArray(v)) {
      this.listHeader(v.length);
      for (let i = 0; i < v.length; i++) this.write(v[i] as PackValue, depth + 1);
      return;
    }
    if (isStruct(v)) {
      this.structHeader(v.fields.length, v.signature);
      for (let i = 0; i < v.fields.length; i++) this.write(v.fields[i] as PackValue, depth + 1);
      return;
    }
    if (!isMap(v)) throw new PackStreamError(`cannot encode ${describe(v)} as PackStream: maps must be plain or Object.create(null) objects`);
    const keys = Object.keys(v);
    this.mapHeader(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const item = v[k];
      if (item === undefined) throw new PackStreamError(`cannot encode map key ${JSON.stringify(k)}: its value is undefined (use null, or leave the key out)`);
      this.string(k);
      this.write(item, depth + 1);
    }
  }

  /** A struct header (Bolt message or graph type); then write `size` fields. */
  structHeader(size: number, signature: number): this {
    if (!(Number.isInteger(size) && size >= 0 && size <= MAX_STRUCT_FIELDS)) {
      throw new PackStreamError(`struct of ${size} fields: PackStream structs have 0..${MAX_STRUCT_FIELDS} fields`);
    }
    if (!(Number.isInteger(signature) && signature >= 0 && signature <= 0xff)) {
      throw new PackStreamError(`struct signature ${signature} is not a byte (0..255)`);
    }
    this.room(2);
    this.buf[this.pos++] = 0xb0 | size;
    this.buf[this.pos++] = signature;
    return this;
  }

  /** A map header; then write n string keys each followed by its value. */
  mapHeader(n: number): this {
    this.sized(0xa0, 0xd8, n, 'MAP');
    return this;
  }

  /** A list header; then write n values. */
  listHeader(n: number): this {
    this.sized(0x90, 0xd4, n, 'LIST');
    return this;
  }

  string(s: string): this {
    const len = s.length;
    if (len < 16) {
      // short ASCII (most keys and values): no native calls; else fall through
      this.room(1 + len);
      const b = this.buf;
      const p = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p + i] = c;
      }
      if (i === len) {
        b[this.pos] = 0x80 | len;
        this.pos = p + len;
        return this;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.sized(0x80, 0xd0, n, 'STRING');
    this.room(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
    return this;
  }

  /** The smallest integer encoding; a non-integer number is refused (floats are PackFloat). */
  int(n: number | bigint): this {
    if (typeof n === 'bigint') {
      if (n >= SAFE_MIN && n <= SAFE_MAX) return this.int(Number(n));
      if (n < INT64_MIN || n > INT64_MAX) throw new PackStreamError(`integer ${n} does not fit PackStream's 64-bit signed INT_64`);
      this.room(9);
      this.buf[this.pos] = 0xcb;
      this.buf.writeBigInt64BE(n, this.pos + 1);
      this.pos += 9;
      return this;
    }
    if (!Number.isInteger(n)) throw new PackStreamError(`${n} is not an integer: wrap floats in PackFloat to encode them as FLOAT_64`);
    this.room(9);
    const b = this.buf;
    if (n >= -16 && n < 128) {
      b[this.pos++] = n & 0xff;
    } else if (n >= -128 && n < 128) {
      b[this.pos++] = 0xc8;
      b[this.pos++] = n & 0xff;
    } else if (n >= -0x8000 && n < 0x8000) {
      b[this.pos] = 0xc9;
      b.writeInt16BE(n, this.pos + 1);
      this.pos += 3;
    } else if (n >= -0x80000000 && n < 0x80000000) {
      b[this.pos] = 0xca;
      b.writeInt32BE(n, this.pos + 1);
      this.pos += 5;
    } else if (Number.isSafeInteger(n)) {
      const hi = Math.floor(n / TWO_32);
      b[this.pos] = 0xcb;
      b.writeInt32BE(hi, this.pos + 1);
      b.writeUInt32BE(n - hi * TWO_32, this.pos + 5);
      this.pos += 9;
    } else {
      return this.int(BigInt(n)); // an exact integer past 2^53: range-checked as a bigint
    }
    return this;
  }

  /** A copy of what was written since the last reset(). */
  bytes(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  reset(): void {
    this.pos = 0;
  }
}

const shared = new PackWriter(1024);

/** One value's encoding (a fresh Buffer). */
export function pack(v: PackValue): Buffer {
  shared.reset(); // also after an earlier throw mid-value
  return shared.value(v).bytes();
}

/** A struct's encoding, e.g. a Bolt message: packStruct(0x70, [metadata]). */
export function packStruct(signature: number, fields: readonly PackValue[]): Buffer {
  shared.reset();
  // through value(): the fields count one level deeper, as the reader counts them
  return shared.value({ signature, fields: fields as PackValue[] }).bytes();
}
