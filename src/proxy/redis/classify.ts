// Which error replies mean Redis is in trouble (they count against the breaker) and which are
// the caller's (WRONGTYPE, syntax, NOSCRIPT, NOPERM, ...: passed through, not counted).

/** First words of error replies from a server that cannot serve right now. Exact words:
 * BUSYGROUP and BUSYKEY are caller errors, BUSY is a stuck script. */
const TROUBLE = ['LOADING', 'BUSY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'OOM', 'MISCONF', 'READONLY', 'NOREPLICAS'].map((w) => Buffer.from(w, 'latin1'));

/**
 * Whether the error reply in bytes[start..end) (starting at its `-` or `!` type byte) says the
 * server is in trouble.
 */
export function isTroubleError(bytes: Buffer, start: number, end: number): boolean {
  let p = start + 1;
  if (bytes[start] === 33 /* ! blob error: skip the length line */) {
    const nl = bytes.indexOf(10, p);
    if (nl < 0 || nl >= end) return false;
    p = nl + 1;
  }
  for (const word of TROUBLE) {
    const after = p + word.length;
    if (after > end) continue;
    if (bytes.compare(word, 0, word.length, p, after) !== 0) continue;
    const next = bytes[after];
    if (after === end || next === 32 || next === 13) return true;
  }
  return false;
}

/** The error text of a reply (without type byte and CRLF), single line, for logs and metrics. */
export function errorText(bytes: Buffer, start: number, end: number): string {
  let p = start + 1;
  if (bytes[start] === 33) p = bytes.indexOf(10, p) + 1;
  let e = end;
  while (e > p && (bytes[e - 1] === 10 || bytes[e - 1] === 13)) e--;
  return bytes.toString('utf8', p, Math.min(e, p + 512));
}
