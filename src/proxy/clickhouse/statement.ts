// What kind of statement a ClickHouse HTTP request carries, decided from its
// first keyword. Only a prefix is needed: the caller peeks the first chunk(s)
// of a POST body (or the `query` URL parameter) and never buffers the rest.
//
// Lexing follows ClickHouse's own Lexer (src/Parsers/Lexer.cpp, current
// versions) for the few tokens that may come before the first keyword:
//   - whitespace: space \t \n \r \f \v
//   - `--` and `//` comments to end of line (18.16 accepts both: checked)
//   - `# ` and `#!` comments to end of line (current ClickHouse only; 18.16
//     answers "Syntax error ... Unrecognized token" for them, so classifying
//     such a query as read/write there costs nothing: the server rejects it)
//   - `/* */` block comments, NESTED as in current ClickHouse. 18.16 does not
//     nest them (`/* a /* b */ SELECT 1` is valid on 18.16 and comes out here
//     as an unterminated comment → 'other'); pathological either way.
//   - opening parentheses: `(SELECT 1)` and `((SELECT 1))` are reads.
// Keywords are case-insensitive; a keyword must end at a non-word character
// (word = [A-Za-z0-9_$], as ClickHouse's bare words), so `SELECTX` is 'other'.
// Not handled (→ 'other' or wrong keyword): Unicode whitespace before the
// first keyword, a body that is compressed (Content-Encoding / decompress=1):
// the caller must not classify a compressed body.

export type StatementKind = 'read' | 'write' | 'other';

/**
 * How many bytes of a body the caller should peek at most. A statement's first
 * keyword is normally within the first few bytes; only leading comments make
 * it later. If statementKindOfPrefix() still answers undefined after this many
 * bytes, call it once more with end = true (the answer is then final: a query
 * that hides its first keyword behind 4 KiB of comments counts as 'other').
 */
export const STATEMENT_PREFIX_BYTES = 4096;

// Keywords that decide. Longest is 8 ("DESCRIBE").
const READ_WORDS = ['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN'] as const;
const WRITE_WORDS = ['INSERT'] as const;
const KEYWORDS: readonly string[] = [...READ_WORDS, ...WRITE_WORDS];
const KINDS: readonly StatementKind[] = [...READ_WORDS.map(() => 'read' as const), ...WRITE_WORDS.map(() => 'write' as const)];
const MAX_KEYWORD = 8;

type Source = Uint8Array | string;

function at(src: Source, i: number): number {
  return typeof src === 'string' ? src.charCodeAt(i) : (src[i] as number);
}

function isSpace(c: number): boolean {
  // ' ' \t \n \v \f \r
  return c === 32 || (c >= 9 && c <= 13);
}

function isWordChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 36 // $
  );
}

/** Uppercase ASCII letter code, or c unchanged. */
function upper(c: number): number {
  return c >= 97 && c <= 122 ? c - 32 : c;
}

/**
 * Index of the first significant character (after whitespace, comments and
 * opening parentheses), or -1 when the source ends inside that run (an
 * unterminated comment counts as running to the end).
 */
function firstSignificant(src: Source, len: number): number {
  let i = 0;
  while (i < len) {
    const c = at(src, i);
    if (isSpace(c) || c === 40 /* ( */) {
      i++;
      continue;
    }
    const next = i + 1 < len ? at(src, i + 1) : -1;
    if ((c === 45 /* - */ && next === 45) || (c === 47 /* / */ && next === 47) || (c === 35 /* # */ && (next === 32 || next === 33))) {
      i += 2;
      while (i < len && at(src, i) !== 10) i++;
      continue; // at '\n' (skipped as whitespace) or at len
    }
    if (c === 47 /* / */ && next === 42 /* * */) {
      i += 2;
      let depth = 1;
      while (i < len && depth > 0) {
        const d = at(src, i);
        const e = i + 1 < len ? at(src, i + 1) : -1;
        if (d === 47 && e === 42) {
          depth++;
          i += 2;
        } else if (d === 42 && e === 47) {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
      if (depth > 0) return -1;
      continue;
    }
    if ((c === 45 || c === 47 || c === 35) && next === -1) {
      // A lone '-', '/' or '#' at the very end might start a comment.
      return -1;
    }
    return i;
  }
  return -1;
}

function decide(src: Source, len: number, end: boolean): StatementKind | undefined {
  const start = firstSignificant(src, len);
  if (start < 0) return end ? 'other' : undefined;
  if (!isWordChar(at(src, start))) return 'other';
  let wordEnd = start;
  while (wordEnd < len && isWordChar(at(src, wordEnd))) wordEnd++;
  const wordLen = wordEnd - start;
  const complete = wordEnd < len || end;
  if (wordLen > MAX_KEYWORD) return 'other';
  let prefixOfSome = false;
  for (let w = 0; w < KEYWORDS.length; w++) {
    const kw = KEYWORDS[w] as string;
    if (kw.length < wordLen) continue;
    let match = true;
    for (let k = 0; k < wordLen; k++) {
      if (upper(at(src, start + k)) !== kw.charCodeAt(k)) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    if (kw.length === wordLen) {
      if (complete) return KINDS[w];
      prefixOfSome = true; // "DESC" could still become "DESCRIBE" (same kind) or "DESCX" (other)
    } else {
      prefixOfSome = true;
    }
  }
  if (complete || !prefixOfSome) return 'other';
  return undefined;
}

/**
 * The statement kind from a prefix of the query bytes, or undefined when more
 * bytes are needed to decide (the prefix is all whitespace/comments, or ends
 * inside the first word). `end` = no more bytes follow: the answer is then
 * never undefined. Once this returns a kind for a prefix with end = false,
 * every longer prefix gives the same kind.
 */
export function statementKindOfPrefix(buf: Uint8Array, end: boolean): StatementKind | undefined {
  return decide(buf, buf.length, end);
}

/**
 * The statement kind of a query text that is all the caller has (a `query`
 * URL parameter, or a prefix it chose to stop at): undecided counts as 'other'.
 */
export function statementKind(sqlPrefix: string): StatementKind {
  return decide(sqlPrefix, sqlPrefix.length, true) as StatementKind;
}

/**
 * The statement kind of an HTTP request whose SQL is the `query` URL parameter
 * (if any) followed by the body, as ClickHouse concatenates them. For an
 * INSERT with `?query=INSERT ... FORMAT X` the body is data and is never
 * looked at. Returns undefined when more body bytes are needed.
 */
export function statementKindOfRequest(
  queryParam: string | null | undefined,
  bodyPrefix: Uint8Array,
  bodyEnd: boolean,
): StatementKind | undefined {
  if (queryParam) {
    const fromParam = decide(queryParam, queryParam.length, false);
    if (fromParam !== undefined) return fromParam;
    // The parameter is only whitespace/comments (or ends inside the first
    // word): rare enough to pay for one concatenation.
    const joined = Buffer.concat([Buffer.from(queryParam), bodyPrefix]);
    return decide(joined, joined.length, bodyEnd);
  }
  return decide(bodyPrefix, bodyPrefix.length, bodyEnd);
}
