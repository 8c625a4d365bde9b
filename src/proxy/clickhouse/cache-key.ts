// What identifies the result of a ClickHouse read over HTTP, for the response
// cache: two requests get the same key parts only when ClickHouse would answer
// both with the same bytes. Everything that may change those bytes is in the
// parts; only inputs known to leave a successful result alone are left out.
//
// In the parts:
//   - the SQL, normalized (normalizeSql): whitespace runs and comments outside
//     literals become one space, trailing `;` dropped, case kept (identifiers
//     are case-sensitive), literal contents kept byte for byte;
//   - the output format: the FORMAT clause (canonical name, format.ts), else
//     the `default_format` parameter and the `X-ClickHouse-Format` header
//     (current ClickHouse lets the header win, 18.16 ignores it: keeping both
//     inputs is right for either). Neither given is its own value, not
//     TabSeparated: the user's profile may set another default;
//   - the database: the `database` parameter and the `X-ClickHouse-Database`
//     header, both as written (same reason: their precedence differs by version);
//   - the user, by where it came from: `X-ClickHouse-User`, the Basic auth
//     username, the `user` parameter. Never a password (`password`,
//     `X-ClickHouse-Key`, the Basic auth password): only whether the
//     X-ClickHouse-Key / -Quota headers are there, since that changes where
//     ClickHouse takes the user from;
//   - Accept-Encoding, always: compression may be on in the user's profile
//     without `enable_http_compression` in the URL, and a gzipped body must
//     never answer a client that did not ask for it;
//   - every other URL parameter, `param_*` and unknown ones included, sorted
//     by name (repeats keep their order), except NON_RESULT_PARAMS below.
//
// Not cacheable (undefined): anything but a read (statement.ts); external data
// (a multipart body: the tables travel with the request); a compressed request
// body (`decompress`, Content-Encoding: the SQL text is not what was sent); an
// Authorization scheme other than Basic (the user is inside a token); a
// repeated `database`, `default_format`, `user`, `password` or `query` parameter.
//
// Known limits: `session_id` is left out as asked by the design (PROTOCOLS.md),
// so session state (temporary tables, SET) is assumed not to vary between
// sessions that send the same SQL; the URL path is not an input here, so the
// caller caches only requests to the default handler or adds the path to the
// key's scope.
import { formatClause, heredocEnd, normalizeFormatName } from './format.js';
import { statementKind } from './statement.js';

/**
 * URL parameters that never change the bytes of a successful result (errors
 * are never cached), so two requests differing only in them share an entry.
 * `max_execution_time` is NOT here: with timeout_overflow_mode=break it
 * truncates a successful result. Neither are `max_threads` (row order without
 * ORDER BY), `readonly`, `role` (row policies) or `compress`.
 */
export const NON_RESULT_PARAMS: ReadonlySet<string> = new Set([
  // identity of the query and of the HTTP session
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'close_session',
  // progress headers and response buffering: same body, different timing/headers
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'wait_end_of_query',
  'http_wait_end_of_query',
  'buffer_size',
  'http_response_buffer_size',
  'cancel_http_readonly_queries_on_client_close',
  // query log and tracing
  'log_queries',
  'log_queries_min_type',
  'log_queries_min_query_duration_ms',
  'log_queries_cut_to_length',
  'log_query_threads',
  'log_query_views',
  'log_profile_events',
  'log_formatted_queries',
  'log_comment',
  'opentelemetry_start_trace_probability',
  'opentelemetry_trace_processors',
  // only in error bodies
  'stacktrace',
  // quota accounting
  'quota_key',
]);

// Parameters that are in the key in another shape (or, for the password, never).
const FOLDED_PARAMS: ReadonlySet<string> = new Set(['query', 'database', 'default_format', 'user', 'password']);

/** The parts that identify a ClickHouse read's result, or undefined when the request must not be cached. */
export function clickhouseCacheKeyParts(input: {
  sql: string;
  params: URLSearchParams | null;
  header: (name: string) => string | undefined;
}): string[] | undefined {
  const { sql, params, header } = input;
  if (statementKind(sql) !== 'read') return undefined;
  if (/^\s*multipart\//i.test(header('content-type') ?? '')) return undefined;
  const contentEncoding = header('content-encoding')?.trim().toLowerCase();
  if (contentEncoding && contentEncoding !== 'identity') return undefined;
  const decompress = params?.get('decompress');
  if (decompress && decompress !== '0' && decompress.toLowerCase() !== 'false') return undefined;
  // A repeated database/format/user parameter: which one wins is a detail of the server version.
  for (const name of FOLDED_PARAMS) if ((params?.getAll(name).length ?? 0) > 1) return undefined;
  const identity = identityParts(params, header);
  if (identity === undefined) return undefined;

  const parts = [
    `sql:${normalizeSql(sql)}`,
    ...formatParts(sql, params, header),
    `database:${params?.get('database') ?? ''}`,
    `database-header:${header('x-clickhouse-database') ?? ''}`,
    ...identity,
    `accept-encoding:${(header('accept-encoding') ?? '').replace(/\s+/g, '').toLowerCase()}`,
  ];
  const settings: [string, string][] = [];
  for (const [name, value] of params ?? []) {
    if (name !== '' && !FOLDED_PARAMS.has(name) && !NON_RESULT_PARAMS.has(name)) settings.push([name, value]);
  }
  settings.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // The name is URI-encoded so that the first '=' always ends it.
  for (const [name, value] of settings) parts.push(`setting:${encodeURIComponent(name)}=${value}`);
  return parts;
}

/** The FORMAT clause when there is one (it overrides both defaults), else the two defaults as given. */
function formatParts(sql: string, params: URLSearchParams | null, header: (name: string) => string | undefined): string[] {
  const clause = formatClause(sql);
  if (clause !== undefined) return [`format:${normalizeFormatName(clause)}`];
  const param = params?.get('default_format');
  const fromHeader = header('x-clickhouse-format');
  return [`format-param:${param ? normalizeFormatName(param) : ''}`, `format-header:${fromHeader ? normalizeFormatName(fromHeader) : ''}`];
}

/**
 * The user by its source, one part per source present (never a password);
 * undefined for a bearer or other token. Whether X-ClickHouse-Key or
 * X-ClickHouse-Quota is present (not its value) is in too: either one makes
 * ClickHouse take the user from the headers and ignore Basic auth and the URL.
 */
function identityParts(params: URLSearchParams | null, header: (name: string) => string | undefined): string[] | undefined {
  const parts: string[] = [];
  const fromHeader = header('x-clickhouse-user');
  if (fromHeader !== undefined) parts.push(`user-header:${fromHeader}`);
  if (header('x-clickhouse-key') !== undefined) parts.push('key-header:present');
  if (header('x-clickhouse-quota') !== undefined) parts.push('quota-header:present');
  const authorization = header('authorization');
  if (authorization !== undefined) {
    const basic = /^\s*basic\s+(\S*)\s*$/i.exec(authorization);
    if (basic === null) return undefined;
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    parts.push(`user-basic:${colon < 0 ? decoded : decoded.slice(0, colon)}`);
  }
  const fromParam = params?.get('user');
  if (fromParam !== undefined && fromParam !== null) parts.push(`user-param:${fromParam}`);
  return parts.length > 0 ? parts : ['user:default'];
}

function isSpace(c: number): boolean {
  // ' ' \t \n \v \f \r, as ClickHouse's lexer
  return c === 32 || (c >= 9 && c <= 13);
}

/** Characters that may start something other than a plain token run. */
function isSpecial(c: number): boolean {
  return (
    isSpace(c) ||
    c === 39 /* ' */ ||
    c === 34 /* " */ ||
    c === 96 /* ` */ ||
    c === 0x2018 /* ‘ */ ||
    c === 0x201c /* “ */ ||
    c === 36 /* $ */ ||
    c === 45 /* - */ ||
    c === 47 /* / */ ||
    c === 35 /* # */ ||
    c === 59 /* ; */
  );
}

/** End (exclusive) of a '...' / "..." / `...` run opened at i: backslash escapes, doubled quotes; sql.length if unterminated. */
function quotedEnd(sql: string, i: number, quote: number): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === 92 /* \ */) j += 2;
    else if (c !== quote) j++;
    else if (j + 1 < n && sql.charCodeAt(j + 1) === quote) j += 2;
    else return j + 1;
  }
  return n;
}

/** End of a nested block comment opened at i, or -1 when it is unterminated. */
function blockCommentEnd(sql: string, i: number): number {
  const n = sql.length;
  let j = i + 2;
  let depth = 1;
  while (j < n) {
    const d = sql.charCodeAt(j);
    const e = j + 1 < n ? sql.charCodeAt(j + 1) : -1;
    if (d === 47 && e === 42) {
      depth++;
      j += 2;
    } else if (d === 42 && e === 47) {
      if (--depth === 0) return j + 2;
      j += 2;
    } else j++;
  }
  return -1;
}

/**
 * The SQL with each run of whitespace and comments outside literals replaced
 * by one space (none at the ends), and trailing `;` dropped. Literals,
 * quoted identifiers and heredocs are kept as written; so is whatever
 * follows an unterminated literal or block comment. Idempotent.
 *
 * The lexing mirrors ClickHouse's (see statement.ts and format.ts): comments
 * are `--`, `//`, `# `, `#!` to end of line and nested block comments. The
 * separator after a bare `#` is a tab, since a space would turn it into a
 * comment (ClickHouse rejects a bare `#` anyway).
 */
export function normalizeSql(sql: string): string {
  const n = sql.length;
  let out = '';
  let keep = 0; // out.length after the last token that is not a top-level ';'
  let gap = false; // whitespace or a comment since the last token
  const emit = (token: string, semicolon = false): void => {
    // After a bare '#', a space would make a `# ` comment of it: a tab does not.
    if (gap && out.length > 0) out += out.endsWith('#') ? '\t' : ' ';
    out += token;
    gap = false;
    if (!semicolon) keep = out.length;
  };
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : -1;
    if (!isSpecial(c)) {
      let j = i + 1;
      while (j < n && !isSpecial(sql.charCodeAt(j))) j++;
      emit(sql.slice(i, j));
      i = j;
    } else if (isSpace(c)) {
      let j = i + 1;
      while (j < n && isSpace(sql.charCodeAt(j))) j++;
      gap = true;
      i = j;
    } else if ((c === 45 && next === 45) || (c === 47 && next === 47) || (c === 35 && (next === 32 || next === 33))) {
      const nl = sql.indexOf('\n', i + 2);
      i = nl < 0 ? n : nl;
      gap = true;
    } else if (c === 47 && next === 42) {
      const end = blockCommentEnd(sql, i);
      if (end < 0) {
        emit(sql.slice(i));
        i = n;
      } else {
        gap = true;
        i = end;
      }
    } else if (c === 39 || c === 34 || c === 96) {
      const end = quotedEnd(sql, i, c);
      emit(sql.slice(i, end));
      i = end;
    } else if (c === 0x2018 || c === 0x201c) {
      // ‘string’ / “identifier”: no escapes inside
      const close = sql.indexOf(c === 0x2018 ? '\u2019' : '\u201d', i + 1);
      const end = close < 0 ? n : close + 1;
      emit(sql.slice(i, end));
      i = end;
    } else if (c === 36) {
      const end = heredocEnd(sql, i);
      emit(sql.slice(i, end < 0 ? i + 1 : end));
      i = end < 0 ? i + 1 : end;
    } else {
      // a lone '-', '/', '#' or ';'
      emit(sql.charAt(i), c === 59);
      i++;
    }
  }
  return out.slice(0, keep);
}
