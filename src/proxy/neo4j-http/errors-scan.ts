// Neo4j reports a statement's failure inside a 200, in an `errors` array written at the END of
// the body, after `results` (a failure mid-stream comes after the rows already sent). This finds
// it as the body streams by without holding the body: each chunk is searched (natively) for the
// last `"errors":[`, and only the few hundred bytes after that marker are kept.
//
// Why the last marker is the top-level one: inside a JSON string a quote is escaped (`\"`), so
// `"errors":[` only ever appears as an object key. A returned map may have an `errors` key, but
// it sits in `results`, before the top-level key; after the top-level key Neo4j writes only the
// errors themselves and `lastBookmarks` / `commit` / `transaction` (strings, no such key). Jolt
// answers end the same way (`{"error":{"errors":[...]}}`), the Query API has no such key on
// success. Checked against Neo4j 5.26 (see test/proxy/neo4j-http/).

const MARK = Buffer.from('"errors":[', 'latin1');
/** Bytes kept after the marker: the first error's code follows at once (`{"code":"Neo...`). */
const KEEP = 512;
const CODE = /"code":"((?:[^"\\]|\\.)*)"/g;

/** What the scanned body said: no `errors` key seen, or the codes of its errors (empty: none). */
export type ErrorsFound = undefined | readonly string[];

export class ErrorsScanner {
  private kept: Buffer | undefined;
  private keptBytes = 0;
  /** The last MARK.length-1 bytes seen, for a marker split across chunks (copied: tiny). */
  private carry = Buffer.alloc(0);

  add(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    let from = -1; // where the bytes after the newest marker start in this chunk
    if (this.carry.length > 0) {
      const joint = Buffer.concat([this.carry, buf.subarray(start, Math.min(end, start + MARK.length - 1))]);
      const j = joint.lastIndexOf(MARK);
      if (j >= 0) from = start + j + MARK.length - this.carry.length;
    }
    // A view bounds the search to this piece: lastIndexOf on `buf` would go on to its start.
    const i = end - start >= MARK.length ? buf.subarray(start, end).lastIndexOf(MARK) : -1;
    if (i >= 0) from = start + i + MARK.length;
    if (from >= 0) {
      this.kept ??= Buffer.allocUnsafe(KEEP);
      this.keptBytes = 0;
    } else from = start;
    if (this.kept !== undefined && this.keptBytes < KEEP && from < end) {
      this.keptBytes += buf.copy(this.kept, this.keptBytes, from, Math.min(end, from + KEEP - this.keptBytes));
    }
    this.updateCarry(buf, start, end);
  }

  private updateCarry(buf: Buffer, start: number, end: number): void {
    const want = MARK.length - 1;
    if (end - start >= want) this.carry = Buffer.from(buf.subarray(end - want, end));
    else this.carry = Buffer.concat([this.carry, buf.subarray(start, end)]).subarray(-want);
  }

  /** The verdict on everything added so far. */
  result(): ErrorsFound {
    if (this.kept === undefined) return undefined;
    return codesAfterMarker(this.kept.toString('utf8', 0, this.keptBytes));
  }
}

/** Codes in the text that follows `"errors":[`: [] for an empty array. */
function codesAfterMarker(text: string): readonly string[] {
  if (text.trimStart().startsWith(']')) return [];
  const codes: string[] = [];
  for (const m of text.matchAll(CODE)) codes.push(m[1]!);
  // An error object without a readable code still is an error.
  return codes.length > 0 ? codes : ['(no code)'];
}

/** The error codes in a whole small body (an error answer's first bytes), like ErrorsScanner. */
export function errorsIn(body: Buffer): ErrorsFound {
  const s = new ErrorsScanner();
  s.add(body, 0, body.length);
  return s.result();
}
