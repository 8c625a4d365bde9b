// HTTP/1.x framing for a byte relay: find where a message head ends, read the few header fields
// that decide framing and routing, and find where a body ends (Content-Length or chunked),
// without decoding or copying anything. The bytes themselves are forwarded as they came.

export const MAX_HEAD_BYTES = 64 * 1024;

export class HttpFramingError extends Error {
  constructor(
    readonly code: 'bad_request_line' | 'bad_status_line' | 'bad_header' | 'bad_content_length' | 'bad_chunk' | 'head_too_large' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}

export interface Head {
  /** Offset just past the blank line that ends the head. */
  end: number;
  /** HTTP/1.1 (true) or HTTP/1.0. */
  http11: boolean;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** The sender asked to close the connection after this message (or is HTTP/1.0 without keep-alive). */
  close: boolean;
  /** Raw header lines as [name, value] pairs, names as sent. */
  headers: string[];
}

export interface RequestHead extends Head {
  method: string;
  target: string;
  expectContinue: boolean;
  upgrade: boolean;
}

export interface ResponseHead extends Head {
  status: number;
  reason: string;
}

const CR = 13;
const LF = 10;

/** Offset just past CRLF CRLF at or after `from`, or -1. Scans raw bytes. */
export function headEnd(buf: Buffer, from: number): number {
  let i = buf.indexOf('\r\n\r\n', from, 'latin1');
  return i < 0 ? -1 : i + 4;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Strips optional whitespace (SP and HTAB only, RFC 9110 §5.6.3); not String.trim, which also strips NBSP etc. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

function parseHeaders(lines: string[], first: number, into: Head): void {
  const connectionTokens: string[] = [];
  let sawLength = false;
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpFramingError('bad_header', `malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HttpFramingError('bad_header', `invalid header name ${JSON.stringify(name.slice(0, 80))}`);
    const value = trimOws(line.slice(colon + 1));
    // A bare CR or LF would end the line for a lenient backend, which would then see a field we did not.
    if (/[\r\n\0]/.test(value)) throw new HttpFramingError('bad_header', `CR, LF or NUL in the value of ${JSON.stringify(name.slice(0, 80))}`);
    into.headers.push(name, value);
    switch (name.length) {
      case 10:
        if (name.toLowerCase() === 'connection') connectionTokens.push(...value.toLowerCase().split(',').map(trimOws));
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (!/^\d{1,15}$/.test(value)) throw new HttpFramingError('bad_content_length', `invalid Content-Length ${JSON.stringify(value.slice(0, 40))}`);
          const n = Number(value);
          if (sawLength && n !== into.contentLength) throw new HttpFramingError('bad_content_length', 'conflicting Content-Length headers');
          sawLength = true;
          into.contentLength = n;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          const codings = value.toLowerCase().split(',').map(trimOws);
          if (codings[codings.length - 1] !== 'chunked') {
            throw new HttpFramingError('unsupported', `Transfer-Encoding ${JSON.stringify(value)} without chunked last is not supported`);
          }
          into.chunked = true;
        }
        break;
    }
  }
  // Both framings at once is how request smuggling starts: refuse it (RFC 9112 §6.3).
  if (into.chunked && into.contentLength >= 0) throw new HttpFramingError('bad_content_length', 'both Transfer-Encoding and Content-Length');
  into.close = into.http11 ? connectionTokens.includes('close') : !connectionTokens.includes('keep-alive');
  (into as Partial<RequestHead>).upgrade = connectionTokens.includes('upgrade');
}

function splitLines(buf: Buffer, start: number, end: number): string[] {
  // Heads are latin1 by definition; the final CRLF CRLF is excluded.
  return buf.toString('latin1', start, end - 4).split('\r\n');
}

/** A request head starting at `start`, or undefined while incomplete. Throws HttpFramingError. */
export function parseRequestHead(buf: Buffer, start: number): RequestHead | undefined {
  // Tolerate empty lines before a request line (RFC 9112 §2.2).
  // The skipped empty lines count against the limit: otherwise endless CRLFs are buffered forever.
  const origin = start;
  while (start + 1 < buf.length && buf[start] === CR && buf[start + 1] === LF) start += 2;
  const end = headEnd(buf, start);
  if (end < 0) {
    if (buf.length - origin > MAX_HEAD_BYTES) throw new HttpFramingError('head_too_large', `request headers larger than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  if (end - origin > MAX_HEAD_BYTES) throw new HttpFramingError('head_too_large', `request headers larger than ${MAX_HEAD_BYTES} bytes`);
  const lines = splitLines(buf, start, end);
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]!);
  if (!m) throw new HttpFramingError('bad_request_line', `malformed request line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const head: RequestHead = {
    end,
    method: m[1]!,
    target: m[2]!,
    http11: m[3] === '1',
    contentLength: -1,
    chunked: false,
    close: false,
    headers: [],
    expectContinue: false,
    upgrade: false,
  };
  parseHeaders(lines, 1, head);
  for (let i = 0; i < head.headers.length; i += 2) {
    if (head.headers[i]!.length === 6 && head.headers[i]!.toLowerCase() === 'expect' && head.headers[i + 1]!.toLowerCase() === '100-continue') head.expectContinue = true;
  }
  return head;
}

/** A response head starting at `start`, or undefined while incomplete. Throws HttpFramingError. */
export function parseResponseHead(buf: Buffer, start: number): ResponseHead | undefined {
  const end = headEnd(buf, start);
  if (end < 0) {
    if (buf.length - start > MAX_HEAD_BYTES) throw new HttpFramingError('head_too_large', `response head larger than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  if (end - start > MAX_HEAD_BYTES) throw new HttpFramingError('head_too_large', `response head larger than ${MAX_HEAD_BYTES} bytes`);
  const lines = splitLines(buf, start, end);
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m) throw new HttpFramingError('bad_status_line', `malformed status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const head: ResponseHead = {
    end,
    status: Number(m[2]),
    reason: m[3] ?? '',
    http11: m[1] === '1',
    contentLength: -1,
    chunked: false,
    close: false,
    headers: [],
  };
  parseHeaders(lines, 1, head);
  return head;
}

/** Whether a response to `method` with `status` has a body at all (RFC 9112 §6.3). */
export function responseHasBody(method: string, status: number): boolean {
  return !(method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304);
}

const enum ChunkState {
  Size,
  SizeExt,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  TrailerLineStart,
  FinalLf,
  Done,
}

/**
 * Finds the end of a chunked body across any number of buffers, without decoding it.
 * push() returns how many bytes of the given range belong to the body; done tells when the
 * terminating chunk and trailers have passed.
 */
export class ChunkedScanner {
  private state = ChunkState.Size;
  private size = 0;
  private sizeDigits = 0;
  private remaining = 0;
  done = false;
  /** Receives the decoded chunk data as it is scanned (for a response being stored). */
  sink: ((buf: Buffer, start: number, end: number) => void) | undefined;

  push(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && this.state !== ChunkState.Done) {
      const c = buf[i]!;
      switch (this.state) {
        case ChunkState.Size: {
          const d = hexDigit(c);
          if (d >= 0) {
            if (++this.sizeDigits > 12) throw new HttpFramingError('bad_chunk', 'chunk size too large');
            this.size = this.size * 16 + d;
          } else if (this.sizeDigits === 0) {
            throw new HttpFramingError('bad_chunk', `invalid chunk size byte 0x${c.toString(16)}`);
          } else if (c === CR) this.state = ChunkState.SizeLf;
          else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) this.state = ChunkState.SizeExt;
          else throw new HttpFramingError('bad_chunk', `invalid chunk size byte 0x${c.toString(16)}`);
          i++;
          break;
        }
        case ChunkState.SizeExt:
          if (c === CR) this.state = ChunkState.SizeLf;
          else if (c === LF) throw new HttpFramingError('bad_chunk', 'bare LF in chunk extension');
          i++;
          break;
        case ChunkState.SizeLf:
          if (c !== LF) throw new HttpFramingError('bad_chunk', 'chunk size line not ended by CRLF');
          i++;
          if (this.size === 0) this.state = ChunkState.TrailerLineStart;
          else {
            this.remaining = this.size;
            this.state = ChunkState.Data;
          }
          this.size = 0;
          this.sizeDigits = 0;
          break;
        case ChunkState.Data: {
          const take = Math.min(this.remaining, end - i);
          this.sink?.(buf, i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = ChunkState.DataCr;
          break;
        }
        case ChunkState.DataCr:
          if (c !== CR) throw new HttpFramingError('bad_chunk', 'chunk data not followed by CRLF');
          this.state = ChunkState.DataLf;
          i++;
          break;
        case ChunkState.DataLf:
          if (c !== LF) throw new HttpFramingError('bad_chunk', 'chunk data not followed by CRLF');
          this.state = ChunkState.Size;
          i++;
          break;
        case ChunkState.TrailerLineStart:
          // An empty line ends the body; anything else is a trailer field line.
          // A bare LF would end the body (or a trailer line) for a lenient backend: refuse it.
          if (c === LF) throw new HttpFramingError('bad_chunk', 'bare LF in chunked trailer section');
          this.state = c === CR ? ChunkState.FinalLf : ChunkState.Trailer;
          i++;
          break;
        case ChunkState.Trailer:
          if (c === CR) this.state = ChunkState.TrailerLf;
          else if (c === LF) throw new HttpFramingError('bad_chunk', 'bare LF in chunked trailer section');
          i++;
          break;
        case ChunkState.TrailerLf:
          if (c !== LF) throw new HttpFramingError('bad_chunk', 'trailer line not ended by CRLF');
          this.state = ChunkState.TrailerLineStart;
          i++;
          break;
        case ChunkState.FinalLf:
          if (c !== LF) throw new HttpFramingError('bad_chunk', 'chunked body not ended by CRLF');
          this.state = ChunkState.Done;
          this.done = true;
          i++;
          break;
      }
    }
    return i - start;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Value of the first header named `lower` (compared case-insensitively), or undefined. */
export function headerValue(head: Head, lower: string): string | undefined {
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i]!.length === lower.length && h[i]!.toLowerCase() === lower) return h[i + 1];
  }
  return undefined;
}
