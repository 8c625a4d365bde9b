// RESP framing, scanned and never materialized: the listener needs to know where each command
// and each reply ends, the command's name and a few leading arguments, and the type of each
// reply. Bytes are forwarded as they came.

export type RespErrorCode = 'protocol' | 'too_large';

export class RespError extends Error {
  constructor(
    readonly code: RespErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Leading arguments whose offsets are kept (the name, subcommands, HELLO/XREAD options). */
export const MAX_CAPTURED_ARGS = 8;
/** Redis's own limits for the parts that are not values. */
const MAX_INLINE_BYTES = 64 * 1024;
const MAX_HEADER_DIGITS = 18;

const CR = 13;
const LF = 10;

/**
 * Finds complete commands in a client's byte stream: multibulk (`*N` of `$len` bulks) or
 * inline. A command is only reported once all of it is in the buffer; `needAtLeast` then says
 * how many bytes from its start are worth waiting for, so a large value is scanned once, not
 * once per arriving chunk.
 */
export class RequestScanner {
  /** Arguments in the last scanned command, including the name; 0 for an empty one (ignored by Redis). */
  argc = 0;
  inline = false;
  /** Offsets of the first MAX_CAPTURED_ARGS arguments in the buffer last scanned. */
  readonly argStart = new Int32Array(MAX_CAPTURED_ARGS);
  readonly argEnd = new Int32Array(MAX_CAPTURED_ARGS);
  /** After next() returned -1: the command's length is at least this (bytes from its start). */
  needAtLeast = 0;

  constructor(
    /** Largest command accepted, in bytes. */
    readonly maxBytes: number,
    readonly maxArgs = 1024 * 1024,
  ) {}

  get captured(): number {
    return this.argc < MAX_CAPTURED_ARGS ? this.argc : MAX_CAPTURED_ARGS;
  }

  /** The command starting at pos: its end offset, or -1 when incomplete. Throws RespError. */
  next(buf: Buffer, pos: number): number {
    return buf[pos] === 42 /* * */ ? this.multibulk(buf, pos) : this.inlineCommand(buf, pos);
  }

  private multibulk(buf: Buffer, pos: number): number {
    const len = buf.length;
    this.inline = false;
    let p = pos + 1;
    const count = this.readNumber(buf, p, 'multibulk length');
    if (count === INCOMPLETE) return this.incomplete(buf, pos, 1);
    p = this.numberEnd;
    if (count > this.maxArgs) throw new RespError('too_large', `a command with ${count} arguments exceeds the limit of ${this.maxArgs}`);
    this.argc = count < 0 ? 0 : count;
    for (let i = 0; i < count; i++) {
      if (p >= len) return this.incomplete(buf, pos, p - pos + 1);
      if (buf[p] !== 36 /* $ */) throw new RespError('protocol', `expected '$', got '${printable(buf[p]!)}'`);
      const size = this.readNumber(buf, p + 1, 'bulk length');
      if (size === INCOMPLETE) return this.incomplete(buf, pos, p - pos + 1);
      if (size < 0) throw new RespError('protocol', 'invalid bulk length');
      const start = this.numberEnd;
      const end = start + size;
      if (end + 2 - pos > this.maxBytes) {
        throw new RespError('too_large', `a command of at least ${end + 2 - pos} bytes exceeds maxRequestBytes (${this.maxBytes})`);
      }
      if (end + 2 > len) return this.incomplete(buf, pos, end + 2 - pos + (i + 1 < count ? 1 : 0));
      if (buf[end] !== CR || buf[end + 1] !== LF) throw new RespError('protocol', 'bulk string not terminated by CRLF');
      if (i < MAX_CAPTURED_ARGS) {
        this.argStart[i] = start;
        this.argEnd[i] = end;
      }
      p = end + 2;
    }
    return p;
  }

  /** Offset after the CRLF that ended the last number read. */
  private numberEnd = 0;

  /** A decimal number terminated by CRLF starting at p, or INCOMPLETE. */
  private readNumber(buf: Buffer, p: number, what: string): number {
    const len = buf.length;
    let neg = false;
    if (p < len && buf[p] === 45 /* - */) {
      neg = true;
      p++;
    }
    let n = 0;
    let digits = 0;
    for (; p < len; p++) {
      const c = buf[p]!;
      if (c >= 48 && c <= 57) {
        if (++digits > MAX_HEADER_DIGITS) throw new RespError('protocol', `invalid ${what}`);
        n = n * 10 + (c - 48);
        continue;
      }
      if (c !== CR || digits === 0) throw new RespError('protocol', `invalid ${what}`);
      if (p + 1 >= len) return INCOMPLETE;
      if (buf[p + 1] !== LF) throw new RespError('protocol', `invalid ${what}`);
      this.numberEnd = p + 2;
      return neg ? -n : n;
    }
    return INCOMPLETE;
  }

  private incomplete(buf: Buffer, pos: number, need: number): number {
    if (buf.length - pos > this.maxBytes) {
      throw new RespError('too_large', `a command of more than ${this.maxBytes} bytes exceeds maxRequestBytes`);
    }
    this.needAtLeast = Math.max(need, buf.length - pos + 1);
    return -1;
  }

  /** An inline command: one line, arguments split on blanks, "quoted" or 'quoted' ones kept whole. */
  private inlineCommand(buf: Buffer, pos: number): number {
    this.inline = true;
    const nl = buf.indexOf(LF, pos);
    if (nl < 0) {
      if (buf.length - pos > MAX_INLINE_BYTES) throw new RespError('too_large', 'too big inline request');
      this.needAtLeast = buf.length - pos + 1;
      return -1;
    }
    if (nl - pos > MAX_INLINE_BYTES) throw new RespError('too_large', 'too big inline request');
    const lineEnd = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
    let argc = 0;
    let p = pos;
    while (p < lineEnd) {
      const c = buf[p]!;
      if (c === 32 || c === 9) {
        p++;
        continue;
      }
      let start = p;
      let end: number;
      if (c === 34 /* " */ || c === 39 /* ' */) {
        start = p + 1;
        let q = start;
        while (q < lineEnd && buf[q] !== c) q += buf[q] === 92 /* \ */ && c === 34 ? 2 : 1;
        if (q >= lineEnd) throw new RespError('protocol', 'unbalanced quotes in request');
        end = q;
        p = q + 1;
      } else {
        while (p < lineEnd && buf[p] !== 32 && buf[p] !== 9) p++;
        end = p;
      }
      if (argc < MAX_CAPTURED_ARGS) {
        this.argStart[argc] = start;
        this.argEnd[argc] = end;
      }
      argc++;
    }
    this.argc = argc;
    return nl + 1;
  }
}

const INCOMPLETE = Number.MIN_SAFE_INTEGER;

const enum State {
  Type,
  Line,
  Header,
  Bulk,
}

/** Aggregate kinds on the reply stack: an attribute does not count as an element of its parent. */
const ATTRIBUTE = 1 << 30;

/**
 * Follows a server's reply stream (RESP2 and RESP3) across chunks without buffering it: each
 * call to scan() stops after one complete top-level reply. Push messages (`>`) and attributes
 * (`|`) are reported by type so the caller can tell them from replies.
 */
export class ReplyScanner {
  /** Type byte of the top-level reply in progress or last completed (after any attribute). */
  type = 0;
  /** Where that reply began in the current buffer; -1 when it began in an earlier one. */
  start = -1;
  /** A top-level reply has begun and is not complete. */
  inProgress = false;
  private state = State.Type;
  private header = 0;
  private num = 0;
  private neg = false;
  private digits = 0;
  private bulkLeft = 0;
  /** Remaining elements per open aggregate (ATTRIBUTE bit set for attributes). */
  private stack: number[] = [];

  /** Scans buf from `from`: the end offset of the next complete top-level reply, or -1 when buf ran out first. */
  scan(buf: Buffer, from: number): number {
    const len = buf.length;
    let p = from;
    if (this.inProgress && p === 0) this.start = -1;
    while (p < len) {
      switch (this.state) {
        case State.Type: {
          const c = buf[p]!;
          if (this.stack.length === 0) {
            if (!this.inProgress) {
              this.inProgress = true;
              this.start = p;
            }
            this.type = c;
          }
          p++;
          switch (c) {
            case 43: // +
            case 45: // -
            case 58: // :
            case 44: // ,
            case 40: // (
            case 35: // #
            case 95: // _
              this.state = State.Line;
              break;
            case 36: // $
            case 33: // !
            case 61: // =
            case 42: // *
            case 126: // ~
            case 62: // >
            case 37: // %
            case 124: // |
              this.state = State.Header;
              this.header = c;
              this.num = 0;
              this.neg = false;
              this.digits = 0;
              break;
            default:
              throw new RespError('protocol', `unexpected reply byte '${printable(c)}' from the server`);
          }
          break;
        }
        case State.Line: {
          const nl = buf.indexOf(LF, p);
          if (nl < 0) return -1;
          p = nl + 1;
          if (this.valueDone()) return p;
          break;
        }
        case State.Header: {
          const c = buf[p++]!;
          if (c >= 48 && c <= 57) {
            if (++this.digits > MAX_HEADER_DIGITS) throw new RespError('protocol', 'invalid length in a reply');
            this.num = this.num * 10 + (c - 48);
          } else if (c === 45 /* - */ && this.digits === 0 && !this.neg) {
            this.neg = true;
          } else if (c === CR) {
            // the LF follows; it is consumed with the header
          } else if (c === LF) {
            if (this.digits === 0) throw new RespError('protocol', 'invalid length in a reply');
            if (this.header === 36 || this.header === 33 || this.header === 61) {
              if (this.neg) {
                if (this.valueDone()) return p;
              } else {
                this.bulkLeft = this.num + 2;
                this.state = State.Bulk;
              }
            } else if (this.neg || this.num === 0) {
              if (this.valueDone(this.header === 124)) return p;
            } else {
              const pairs = this.header === 37 || this.header === 124;
              this.stack.push((pairs ? this.num * 2 : this.num) | (this.header === 124 ? ATTRIBUTE : 0));
              this.state = State.Type;
            }
          } else {
            throw new RespError('protocol', `invalid length in a reply ('${printable(c)}')`);
          }
          break;
        }
        case State.Bulk: {
          const take = Math.min(this.bulkLeft, len - p);
          p += take;
          this.bulkLeft -= take;
          if (this.bulkLeft === 0 && this.valueDone()) return p;
          break;
        }
      }
    }
    return -1;
  }

  /** A value ended: pops finished aggregates; true when a top-level reply (or push) is complete. */
  private valueDone(attribute = false): boolean {
    this.state = State.Type;
    const stack = this.stack;
    while (stack.length > 0) {
      if (attribute) return false; // an attribute is not an element of its parent
      const top = stack.length - 1;
      const left = (stack[top]! & ~ATTRIBUTE) - 1;
      if (left > 0) {
        stack[top] = left | (stack[top]! & ATTRIBUTE);
        return false;
      }
      attribute = (stack.pop()! & ATTRIBUTE) !== 0;
    }
    if (attribute) return false; // a top-level attribute: the reply it annotates follows
    this.inProgress = false;
    return true;
  }

  /** Forget a partial reply (the connection it came from is gone). */
  reset(): void {
    this.state = State.Type;
    this.stack.length = 0;
    this.inProgress = false;
    this.start = -1;
  }
}

function printable(c: number): string {
  return c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
}
