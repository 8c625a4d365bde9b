// Which output FORMAT a ClickHouse read query asks for, as ClickHouse would
// pick it: a `FORMAT <name>` clause at the end of the query, else the
// `default_format` URL parameter, else TabSeparated. (18.16 ignores an
// `X-ClickHouse-Format` request header: checked. If a newer version honours
// it, the caller can pass its value when the parameter is absent.)
//
// Only for reads. In an INSERT, `FORMAT X` names the *input* format of the
// data that follows, not the format of any answer.
//
// One forward pass over the query with a tiny lexer that mirrors ClickHouse's
// (src/Parsers/Lexer.cpp): strings '...' (with \ escapes and '' doubling),
// quoted identifiers "..." and `...`, Unicode-quoted ‘...’ / “...”, heredocs
// $tag$...$tag$, comments (--, //, `# `, `#!`, nested /* */). The word FORMAT
// inside any of those is ignored. A clause counts when:
//   - FORMAT is a bare word at bracket depth 0, not right after a `.`
//     (`t.format` is a column);
//   - the next token is a bare word or a quoted identifier (the name);
//   - the token after the name is the end, a `;`, or SETTINGS (current
//     ClickHouse allows `FORMAT JSON SETTINGS ...`; 18.16 only `SETTINGS ...
//     FORMAT JSON`, which also ends with the name).
// So `SELECT format FROM t` (a column named format) is not a FORMAT clause.
// Scanning stops at the first top-level `;` (ClickHouse's HTTP interface runs
// one statement; only trailing semicolons are allowed).
//
// Names are matched case-insensitively and aliases normalized to the
// canonical name (TSV → TabSeparated, JSONLines → JSONEachRow, ...), as
// current ClickHouse does ("All format names are case-insensitive"). 18.16
// is case-sensitive (`FORMAT tsv` → 404, Code 73 UNKNOWN_FORMAT there); when
// breakwater answers in its stead it is lenient, which only matters for
// queries 18.16 would have rejected anyway. Unknown names are returned as
// written (without quotes), so the caller can tell them apart.

/** Canonical output format names ClickHouse knows (18.16 and current), plus aliases. */
const CANONICAL = [
  'TabSeparated',
  'TabSeparatedRaw',
  'TabSeparatedWithNames',
  'TabSeparatedWithNamesAndTypes',
  'TabSeparatedRawWithNames',
  'TabSeparatedRawWithNamesAndTypes',
  'Template',
  'CSV',
  'CSVWithNames',
  'CSVWithNamesAndTypes',
  'CustomSeparated',
  'CustomSeparatedWithNames',
  'CustomSeparatedWithNamesAndTypes',
  'Values',
  'Vertical',
  'VerticalRaw',
  'JSON',
  'JSONStrings',
  'JSONColumns',
  'JSONColumnsWithMetadata',
  'JSONCompact',
  'JSONCompactStrings',
  'JSONCompactColumns',
  'JSONEachRow',
  'PrettyJSONEachRow',
  'JSONEachRowWithProgress',
  'JSONStringsEachRow',
  'JSONStringsEachRowWithProgress',
  'JSONCompactEachRow',
  'JSONCompactEachRowWithNames',
  'JSONCompactEachRowWithNamesAndTypes',
  'JSONCompactEachRowWithProgress',
  'JSONCompactStringsEachRow',
  'JSONCompactStringsEachRowWithNames',
  'JSONCompactStringsEachRowWithNamesAndTypes',
  'JSONCompactStringsEachRowWithProgress',
  'JSONObjectEachRow',
  'BSONEachRow',
  'TSKV',
  'Pretty',
  'PrettyNoEscapes',
  'PrettyMonoBlock',
  'PrettyNoEscapesMonoBlock',
  'PrettyCompact',
  'PrettyCompactNoEscapes',
  'PrettyCompactMonoBlock',
  'PrettyCompactNoEscapesMonoBlock',
  'PrettySpace',
  'PrettySpaceNoEscapes',
  'PrettySpaceMonoBlock',
  'PrettySpaceNoEscapesMonoBlock',
  'Prometheus',
  'Protobuf',
  'ProtobufSingle',
  'ProtobufList',
  'Avro',
  'Parquet',
  'Arrow',
  'ArrowStream',
  'ORC',
  'Npy',
  'RowBinary',
  'RowBinaryWithNames',
  'RowBinaryWithNamesAndTypes',
  'Native',
  'Null',
  'XML',
  'CapnProto',
  'LineAsString',
  'RawBLOB',
  'MsgPack',
  'Markdown',
  'SQLInsert',
  'ODBCDriver',
  'ODBCDriver2',
] as const;

const ALIASES: Readonly<Record<string, string>> = {
  TSV: 'TabSeparated',
  TSVRaw: 'TabSeparatedRaw',
  Raw: 'TabSeparatedRaw',
  TSVWithNames: 'TabSeparatedWithNames',
  TSVWithNamesAndTypes: 'TabSeparatedWithNamesAndTypes',
  TSVRawWithNames: 'TabSeparatedRawWithNames',
  RawWithNames: 'TabSeparatedRawWithNames',
  TSVRawWithNamesAndTypes: 'TabSeparatedRawWithNamesAndTypes',
  RawWithNamesAndTypes: 'TabSeparatedRawWithNamesAndTypes',
  JSONLines: 'JSONEachRow',
  NDJSON: 'JSONEachRow',
  PrettyJSONLines: 'PrettyJSONEachRow',
  PrettyNDJSON: 'PrettyJSONEachRow',
};

// Exact spellings first (the common case needs no toLowerCase()), then lowercased.
const EXACT = new Map<string, string>();
const LOWER = new Map<string, string>();
for (const name of CANONICAL) {
  EXACT.set(name, name);
  LOWER.set(name.toLowerCase(), name);
}
for (const [alias, name] of Object.entries(ALIASES)) {
  EXACT.set(alias, name);
  LOWER.set(alias.toLowerCase(), name);
}

/** The format ClickHouse uses when neither the query nor the URL names one. */
export const DEFAULT_FORMAT = 'TabSeparated';

/** Canonical name for a format name or alias, any case; unknown names unchanged. */
export function normalizeFormatName(name: string): string {
  return EXACT.get(name) ?? LOWER.get(name.toLowerCase()) ?? name;
}

/** True when `name` (any case, or an alias) is a format ClickHouse knows. */
export function isKnownFormat(name: string): boolean {
  return EXACT.has(name) || LOWER.has(name.toLowerCase());
}

// Token kinds the clause recognizer cares about.
const T_OTHER = 0;
const T_WORD = 1; // bare word
const T_QUOTED = 2; // quoted identifier: "x", `x`, “x”
const T_DOT = 3;
const T_END = 4; // end of input or top-level ';'

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36;
}

/** True when sql[start, end) is `word` in any ASCII case (word given in uppercase). */
function wordIs(sql: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) {
    let c = sql.charCodeAt(start + k);
    if (c >= 97 && c <= 122) c -= 32;
    if (c !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** End index (exclusive) of a quoted run opened at `i` with `quote`; sql.length if unterminated. */
function skipQuoted(sql: string, i: number, quote: number): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === 92 /* \ */) {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (j + 1 < n && sql.charCodeAt(j + 1) === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return n;
}

/**
 * The output format of a read query, canonical name (see normalizeFormatName).
 * Never throws. `defaultFormatParam` is the `default_format` URL parameter,
 * null when absent.
 */
export function requestedFormat(sql: string, defaultFormatParam: string | null): string {
  const fromQuery = formatClause(sql);
  if (fromQuery !== undefined) return normalizeFormatName(fromQuery);
  if (defaultFormatParam) return normalizeFormatName(defaultFormatParam);
  return DEFAULT_FORMAT;
}

/** The name in the query's FORMAT clause as written (quotes removed), or undefined. */
export function formatClause(sql: string): string | undefined {
  const n = sql.length;
  let i = 0;
  let depth = 0;
  let prevDot = false;
  let expectName = false;
  // candidate name awaiting the token that confirms it: [pendStart, pendEnd)
  let pendStart = -1;
  let pendEnd = -1;
  let accStart = -1;
  let accEnd = -1;
  let hd = -1;

  for (;;) {
    // ---- next significant token: kind + [ts, te) (content range for quoted)
    let kind = T_OTHER;
    let ts = i;
    let te = i;
    const depthAtToken = depth;
    if (i >= n) {
      kind = T_END;
    } else {
      const c = sql.charCodeAt(i);
      const next = i + 1 < n ? sql.charCodeAt(i + 1) : -1;
      if (isSpace(c)) {
        i++;
        continue;
      }
      if ((c === 45 && next === 45) || (c === 47 && next === 47) || (c === 35 && (next === 32 || next === 33))) {
        const nl = sql.indexOf('\n', i + 2);
        i = nl < 0 ? n : nl + 1;
        continue;
      }
      if (c === 47 && next === 42) {
        let j = i + 2;
        let level = 1;
        while (j < n && level > 0) {
          const d = sql.charCodeAt(j);
          const e = j + 1 < n ? sql.charCodeAt(j + 1) : -1;
          if (d === 47 && e === 42) {
            level++;
            j += 2;
          } else if (d === 42 && e === 47) {
            level--;
            j += 2;
          } else j++;
        }
        i = j;
        continue;
      }
      if (c === 39 /* ' */) {
        i = skipQuoted(sql, i, 39);
      } else if (c === 34 /* " */ || c === 96 /* ` */) {
        const j = skipQuoted(sql, i, c);
        kind = T_QUOTED;
        ts = i + 1;
        te = j - 1;
        i = j;
      } else if (c === 0x2018 || c === 0x201c) {
        // ‘string’ / “identifier”: no escapes inside
        const close = sql.indexOf(c === 0x2018 ? '\u2019' : '\u201d', i + 1);
        const j = close < 0 ? n : close + 1;
        if (c === 0x201c) {
          kind = T_QUOTED;
          ts = i + 1;
          te = j - 1;
        }
        i = j;
      } else if (c === 36 /* $ */ && (hd = heredocEnd(sql, i)) > 0) {
        i = hd;
      } else if (isWordChar(c)) {
        let j = i + 1;
        if (c >= 48 && c <= 57) {
          // number (1, 1.5, 1e-3, 0x1F): a word run with dots; '1abc' is a word in ClickHouse, rare
          while (j < n && (isWordChar(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) j++;
        } else {
          while (j < n && isWordChar(sql.charCodeAt(j))) j++;
          kind = T_WORD;
        }
        ts = i;
        te = j;
        i = j;
      } else if (c === 40 || c === 91 || c === 123) {
        depth++;
        i++;
      } else if (c === 41 || c === 93 || c === 125) {
        if (depth > 0) depth--;
        i++;
      } else if (c === 46) {
        kind = T_DOT;
        i++;
      } else if (c === 59 /* ; */ && depth === 0) {
        kind = T_END;
      } else {
        i++;
      }
    }

    // ---- clause recognizer
    if (pendStart >= 0) {
      if (kind === T_END || (kind === T_WORD && wordIs(sql, ts, te, 'SETTINGS'))) {
        accStart = pendStart;
        accEnd = pendEnd;
      }
      pendStart = -1;
    }
    if (kind === T_END) break;
    if (expectName) {
      expectName = false;
      if ((kind === T_WORD || kind === T_QUOTED) && te > ts) {
        pendStart = ts;
        pendEnd = te;
      }
    }
    if (kind === T_WORD && depthAtToken === 0 && !prevDot && wordIs(sql, ts, te, 'FORMAT')) expectName = true;
    prevDot = kind === T_DOT;
  }
  return accStart >= 0 ? sql.slice(accStart, accEnd) : undefined;
}

/** End index of a heredoc $tag$...$tag$ starting at i, or -1 if there is none. */
export function heredocEnd(sql: string, i: number): number {
  const tagEnd = sql.indexOf('$', i + 1);
  if (tagEnd < 0) return -1;
  for (let k = i + 1; k < tagEnd; k++) {
    const c = sql.charCodeAt(k);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95)) return -1;
  }
  const close = sql.indexOf(sql.slice(i, tagEnd + 1), tagEnd + 1);
  return close < 0 ? -1 : close + (tagEnd + 1 - i);
}
