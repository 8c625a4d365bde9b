// Whether a Cypher query only reads: no clause that writes (or may write) appears in its text
// outside string literals, quoted identifiers and comments. Judged from the text alone, and
// conservatively: CALL (a procedure may write), LOAD CSV and admin commands count as writes, so
// `static` and `cache` never answer them. A false "write" only costs a fallback; a false "read"
// would fake a write's success, which this must never do.

const WRITING = new Set([
  'CREATE', 'MERGE', 'SET', 'DELETE', 'DETACH', 'REMOVE', 'DROP', 'LOAD', 'FOREACH', 'CALL',
  'ALTER', 'GRANT', 'DENY', 'REVOKE', 'START', 'STOP', 'TERMINATE', 'RENAME', 'ENABLE', 'DEALLOCATE', 'REALLOCATE',
]);

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}

/** true when no writing keyword is found in the query's code (outside literals and comments). */
export function isReadQuery(query: string): boolean {
  const n = query.length;
  let i = 0;
  while (i < n) {
    const c = query.charCodeAt(i);
    if (c === 39 /* ' */ || c === 34 /* " */ || c === 96 /* ` */) {
      i = skipQuoted(query, i, c);
      continue;
    }
    if (c === 47 /* / */ && i + 1 < n) {
      const d = query.charCodeAt(i + 1);
      if (d === 47) {
        const nl = query.indexOf('\n', i + 2);
        i = nl < 0 ? n : nl + 1;
        continue;
      }
      if (d === 42) {
        const end = query.indexOf('*/', i + 2);
        i = end < 0 ? n : end + 2;
        continue;
      }
    }
    if (isWordChar(c)) {
      const start = i;
      while (i < n && isWordChar(query.charCodeAt(i))) i++;
      // A property (n.set), parameter ($create), label or type (:Create) or map key (set: 1)
      // is a name, not a clause.
      const before = previousCode(query, start);
      if (before === 46 || before === 36 || before === 58) continue;
      if (nextCode(query, i) === 58) continue;
      if (i - start <= 10 && WRITING.has(query.slice(start, i).toUpperCase())) return false;
      continue;
    }
    i++;
  }
  return true;
}

/** Index after the literal that starts at i (backslash escapes; an unterminated one runs to the end). */
function skipQuoted(text: string, i: number, quote: number): number {
  const n = text.length;
  let j = i + 1;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === 92 /* \ */ && quote !== 96) {
      j += 2;
      continue;
    }
    if (c === quote) {
      // `` inside a quoted identifier is an escaped backtick.
      if (quote === 96 && text.charCodeAt(j + 1) === 96) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return n;
}

function previousCode(text: string, i: number): number {
  let j = i - 1;
  while (j >= 0 && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9 || text.charCodeAt(j) === 10 || text.charCodeAt(j) === 13)) j--;
  return j < 0 ? -1 : text.charCodeAt(j);
}

function nextCode(text: string, i: number): number {
  let j = i;
  while (j < text.length && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9 || text.charCodeAt(j) === 10 || text.charCodeAt(j) === 13)) j++;
  return j < text.length ? text.charCodeAt(j) : -1;
}
