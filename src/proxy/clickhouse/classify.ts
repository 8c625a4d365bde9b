// Outcome of an upstream ClickHouse HTTP response, for the breaker:
//   success  the dependency answered normally
//   failure  dependency trouble: counts against the breaker
//   ignored  the caller's own error (bad SQL, unknown table, wrong password,
//            its own limits): passes through to the app, does not count
// Connection errors and timeouts never reach this: the caller classifies them.
//
// Where the exception code comes from:
//   - the `X-ClickHouse-Exception-Code` response header (current versions);
//   - else, for a non-2xx answer, the start of the body: ClickHouse 18.16
//     sends no such header (checked: only X-ClickHouse-Server-Display-Name),
//     its body starts `Code: 62, e.displayText() = DB::Exception: ...`;
//     current versions write `Code: 60. DB::Exception: ... (UNKNOWN_TABLE)`.
//   A 2xx body is never parsed: it is data, and may well start "Code: 1,".
//   The body may be compressed even when the app did not ask ClickHouse to
//   compress: 18.16 gzips the error for a bad URL setting (unknown setting,
//   unknown database, `readonly` override: 404/500) whenever the request had
//   `Accept-Encoding: gzip` (checked), without enable_http_compression. Pass
//   the response's Content-Encoding: the prefix is then inflated (gzip,
//   deflate, br; a partial stream is fine). Other encodings (zstd, lz4, ...)
//   cannot be read: the verdict then falls back to the status.
//   An exception in the middle of a streamed 200 result is not visible in a
//   prefix; it is not classified here.
//
// HTTP status alone is a poor guide. ClickHouse maps only a few codes to a
// specific status (current src/Server/HTTP/exceptionCodeToHTTPStatus.cpp:
// auth → 401/403, parse/syntax errors → 400, UNKNOWN_* → 404, TIMEOUT_EXCEEDED
// → 408, QUERY_IS_TOO_LARGE → 413, NOT_IMPLEMENTED → 501, SOCKET_TIMEOUT /
// CANNOT_OPEN_FILE / CANNOT_SCHEDULE_TASK → 503) and answers 500 for
// everything else, caller errors included. What 18.16 sent here:
//   400  62 syntax error, 6 CANNOT_PARSE_TEXT
//   401  192 UNKNOWN_USER, 193 WRONG_PASSWORD (with WWW-Authenticate)
//   404  60 unknown table, 47 unknown identifier, 81 unknown database,
//        73 unknown format, 115 unknown setting
//   500  43 illegal type of argument, 117 INCORRECT_DATA, 164 READONLY,
//        395 throwIf, 396 result rows limit, 107 file does not exist,
//        113 no session (SET/USE without session_id), 160 sleep() > 3 s,
//        159 TIMEOUT_EXCEEDED, 241 MEMORY_LIMIT_EXCEEDED,
//        202 TOO_MANY_SIMULTANEOUS_QUERIES
// Note that current versions send 408 — a 4xx — for TIMEOUT_EXCEEDED, which
// is why the code, when there is one, decides before the status.
//
// Rules, in order:
//   1. code known as server trouble (TROUBLE below)            → failure
//   2. any other code with a 2xx status (exception header on a
//      200: the query failed after the status was sent)          → ignored
//   3. code known as a caller error (CALLER below)               → ignored
//   4. unrecognized code: 502/503/504 → failure (current ClickHouse uses 503
//      only for trouble codes, and a gateway status means the hop failed);
//      any other status → ignored. ClickHouse sends 500 for most exceptions,
//      caller errors among them (18.16 even sends 500 for illegal argument
//      types and for INSERT data that does not parse), so a 500 with a code we
//      do not recognize is more likely a caller error than an outage, and
//      counting it would let one bad query pattern open the breaker for all.
//   5. no code: 2xx → success; 5xx → failure (a 5xx without ClickHouse's
//      error body is a proxy or a crashed server); 408 and 429 (a timeout or
//      rate limit from a proxy in front of ClickHouse) → failure; other → ignored.
//
// Server trouble (rule 1), researched from ClickHouse's
// src/Common/ErrorCodes.cpp (names as of current versions):
//
// | code | name                                  | why it is the server's trouble                 |
// |------|---------------------------------------|------------------------------------------------|
// |  159 | TIMEOUT_EXCEEDED                      | max_execution_time hit: slow server            |
// |  160 | TOO_SLOW                              | min_execution_speed / estimated time checks (*) |
// |  173 | CANNOT_ALLOCATE_MEMORY                | out of memory                                  |
// |  198 | DNS_ERROR                             | cannot resolve a shard/replica                 |
// |  202 | TOO_MANY_SIMULTANEOUS_QUERIES         | overload (max_concurrent_queries)              |
// |  203 | NO_FREE_CONNECTION                    | connection pool to shards exhausted            |
// |  209 | SOCKET_TIMEOUT                        | network timeout (503 on current versions)      |
// |  210 | NETWORK_ERROR                         | network error                                  |
// |  225 | NO_ZOOKEEPER                          | Keeper not configured/available                |
// |  241 | MEMORY_LIMIT_EXCEEDED                 | memory limit (query or server total)           |
// |  242 | TABLE_IS_READ_ONLY                    | replica lost Keeper session                    |
// |  243 | NOT_ENOUGH_SPACE                      | disk full                                      |
// |  244 | UNEXPECTED_ZOOKEEPER_ERROR            | Keeper trouble                                 |
// |  252 | TOO_MANY_PARTS                        | merges behind inserts                          |
// |  254 | NO_ACTIVE_REPLICAS                    | replication trouble                            |
// |  265 | NO_AVAILABLE_REPLICA                  | replicas unreachable                           |
// |  279 | ALL_CONNECTION_TRIES_FAILED           | shards unreachable                             |
// |  285 | TOO_FEW_LIVE_REPLICAS                 | quorum insert cannot reach replicas            |
// |  286 | UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE | quorum trouble                                 |
// |  289 | REPLICA_IS_NOT_IN_QUORUM              | quorum trouble                                 |
// |  319 | UNKNOWN_STATUS_OF_INSERT              | Keeper lost mid-insert                         |
// |  364 | RECEIVED_ERROR_TOO_MANY_REQUESTS      | a remote refused: overload                     |
// |  369 | ALL_REPLICAS_ARE_STALE                | replication lag                                |
// |  415 | ALL_REPLICAS_LOST                     | replication trouble                            |
// |  425 | SYSTEM_ERROR                          | OS-level error                                 |
// |  439 | CANNOT_SCHEDULE_TASK                  | thread pool exhausted (503 on current)         |
// |  473 | DEADLOCK_AVOIDED                      | lock wait timed out (lock_acquire_timeout)     |
// |  519 | NO_REMOTE_SHARD_AVAILABLE             | shards unreachable                             |
// |  574 | DISTRIBUTED_TOO_MANY_PENDING_BYTES    | Distributed insert backlog: throttled          |
// |  733 | TABLE_IS_BEING_RESTARTED              | replica restarting                             |
// |  745 | SERVER_OVERLOADED                     | overload (load-based query rejection)          |
// |  749 | TCP_CONNECTION_LIMIT_REACHED          | connection limit                               |
// |  762 | HTTP_CONNECTION_LIMIT_REACHED         | connection limit                               |
// |  904 | TOO_MANY_UNAVAILABLE_SHARDS           | shards unreachable                             |
// |  999 | KEEPER_EXCEPTION                      | Keeper/ZooKeeper trouble                       |
//
// (*) 18.16 also raises TOO_SLOW for `sleep(x)` with x > 3 s (checked), a
//     caller error; apps do not do that, so TOO_SLOW stays a failure.
//
// Deliberately NOT trouble (ignored), contrary to a first guess:
//   164 READONLY: on 18.16 it is what a GET INSERT, a readonly user's write,
//   or changing `readonly` in readonly mode get (all checked) — the caller's
//   request/config, not the server's state. The replica-lost-Keeper case is
//   242 TABLE_IS_READ_ONLY, which is trouble.
//   201 QUOTA_EXCEEDED, 158 TOO_MANY_ROWS, 307 TOO_MANY_BYTES, 396
//   TOO_MANY_ROWS_OR_BYTES, 290 LIMIT_EXCEEDED: the caller's own limits.
//   394 QUERY_WAS_CANCELLED: KILL QUERY or the client went away.
//   49 LOGICAL_ERROR, 1000 POCO_EXCEPTION, 1001 STD_EXCEPTION: too vague;
//   rule 4 applies.

import zlib from 'node:zlib';

export type Verdict = 'success' | 'failure' | 'ignored';

// Trouble codes with names (for logs), see the table above.
const TROUBLE: ReadonlyArray<readonly [number, string]> = [
  [159, 'TIMEOUT_EXCEEDED'],
  [160, 'TOO_SLOW'],
  [173, 'CANNOT_ALLOCATE_MEMORY'],
  [198, 'DNS_ERROR'],
  [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
  [203, 'NO_FREE_CONNECTION'],
  [209, 'SOCKET_TIMEOUT'],
  [210, 'NETWORK_ERROR'],
  [225, 'NO_ZOOKEEPER'],
  [241, 'MEMORY_LIMIT_EXCEEDED'],
  [242, 'TABLE_IS_READ_ONLY'],
  [243, 'NOT_ENOUGH_SPACE'],
  [244, 'UNEXPECTED_ZOOKEEPER_ERROR'],
  [252, 'TOO_MANY_PARTS'],
  [254, 'NO_ACTIVE_REPLICAS'],
  [265, 'NO_AVAILABLE_REPLICA'],
  [279, 'ALL_CONNECTION_TRIES_FAILED'],
  [285, 'TOO_FEW_LIVE_REPLICAS'],
  [286, 'UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE'],
  [289, 'REPLICA_IS_NOT_IN_QUORUM'],
  [319, 'UNKNOWN_STATUS_OF_INSERT'],
  [364, 'RECEIVED_ERROR_TOO_MANY_REQUESTS'],
  [369, 'ALL_REPLICAS_ARE_STALE'],
  [415, 'ALL_REPLICAS_LOST'],
  [425, 'SYSTEM_ERROR'],
  [439, 'CANNOT_SCHEDULE_TASK'],
  [473, 'DEADLOCK_AVOIDED'],
  [519, 'NO_REMOTE_SHARD_AVAILABLE'],
  [574, 'DISTRIBUTED_TOO_MANY_PENDING_BYTES'],
  [733, 'TABLE_IS_BEING_RESTARTED'],
  [745, 'SERVER_OVERLOADED'],
  [749, 'TCP_CONNECTION_LIMIT_REACHED'],
  [762, 'HTTP_CONNECTION_LIMIT_REACHED'],
  [904, 'TOO_MANY_UNAVAILABLE_SHARDS'],
  [999, 'KEEPER_EXCEPTION'],
];

// Caller errors: the request, the SQL, the credentials or the caller's own
// limits are wrong; the server is fine. Listed so that they stay ignored even
// behind a 502/503/504 (rule 3 before rule 4), and for logs.
const CALLER: ReadonlyArray<readonly [number, string]> = [
  [1, 'UNSUPPORTED_METHOD'],
  [2, 'UNSUPPORTED_PARAMETER'],
  [6, 'CANNOT_PARSE_TEXT'],
  [8, 'THERE_IS_NO_COLUMN'],
  [16, 'NO_SUCH_COLUMN_IN_TABLE'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [36, 'BAD_ARGUMENTS'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [42, 'NUMBER_OF_ARGUMENTS_DOESNT_MATCH'],
  [43, 'ILLEGAL_TYPE_OF_ARGUMENT'],
  [44, 'ILLEGAL_COLUMN'],
  [46, 'UNKNOWN_FUNCTION'],
  [47, 'UNKNOWN_IDENTIFIER'],
  [48, 'NOT_IMPLEMENTED'],
  [50, 'UNKNOWN_TYPE'],
  [53, 'TYPE_MISMATCH'],
  [57, 'TABLE_ALREADY_EXISTS'],
  [60, 'UNKNOWN_TABLE'],
  [62, 'SYNTAX_ERROR'],
  [63, 'UNKNOWN_AGGREGATE_FUNCTION'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [73, 'UNKNOWN_FORMAT'],
  [80, 'INCORRECT_QUERY'],
  [81, 'UNKNOWN_DATABASE'],
  [82, 'DATABASE_ALREADY_EXISTS'],
  [107, 'FILE_DOESNT_EXIST'],
  [113, 'THERE_IS_NO_SESSION'],
  [115, 'UNKNOWN_SETTING'],
  [117, 'INCORRECT_DATA'],
  [158, 'TOO_MANY_ROWS'],
  [164, 'READONLY'],
  [192, 'UNKNOWN_USER'],
  [193, 'WRONG_PASSWORD'],
  [194, 'REQUIRED_PASSWORD'],
  [195, 'IP_ADDRESS_NOT_ALLOWED'],
  [201, 'QUOTA_EXCEEDED'],
  [215, 'NOT_AN_AGGREGATE'],
  [216, 'QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING'],
  [229, 'QUERY_IS_TOO_LARGE'],
  [290, 'LIMIT_EXCEEDED'],
  [291, 'DATABASE_ACCESS_DENIED'],
  [307, 'TOO_MANY_BYTES'],
  [352, 'AMBIGUOUS_COLUMN_NAME'],
  [358, 'INTO_OUTFILE_NOT_ALLOWED'],
  [372, 'SESSION_NOT_FOUND'],
  [373, 'SESSION_IS_LOCKED'],
  [386, 'NO_COMMON_TYPE'],
  [394, 'QUERY_WAS_CANCELLED'],
  [395, 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO'],
  [396, 'TOO_MANY_ROWS_OR_BYTES'],
  [452, 'SETTING_CONSTRAINT_VIOLATION'],
  [456, 'UNKNOWN_QUERY_PARAMETER'],
  [457, 'BAD_QUERY_PARAMETER'],
  [472, 'READONLY_SETTING'],
  [497, 'ACCESS_DENIED'],
  [516, 'AUTHENTICATION_FAILED'],
];

// Dense lookup: 0 = unrecognized, 1 = trouble, 2 = caller error.
const MAX_CODE = 1024;
const KIND = new Uint8Array(MAX_CODE);
const NAMES = new Map<number, string>();
for (const [code, name] of TROUBLE) {
  KIND[code] = 1;
  NAMES.set(code, name);
}
for (const [code, name] of CALLER) {
  KIND[code] = 2;
  NAMES.set(code, name);
}

/** Codes counted as dependency trouble, ascending. */
export const SERVER_TROUBLE_CODES: readonly number[] = Object.freeze(TROUBLE.map((row) => row[0]));
/** Codes known as caller errors, ascending. */
export const CALLER_ERROR_CODES: readonly number[] = Object.freeze(CALLER.map((row) => row[0]));

/** True when a ClickHouse exception code means the server is in trouble. */
export function isServerTroubleCode(code: number): boolean {
  return code >= 0 && code < MAX_CODE && KIND[code] === 1;
}

/** True when a ClickHouse exception code is a known caller error. */
export function isCallerErrorCode(code: number): boolean {
  return code >= 0 && code < MAX_CODE && KIND[code] === 2;
}

/** ClickHouse's name for a code this module knows (both tables), for logs. */
export function exceptionCodeName(code: number): string | undefined {
  return NAMES.get(code);
}

// "Code: " as char codes
const C = 67;
const O = 111;
const D = 100;
const E = 101;
const COLON = 58;
const SPACE = 32;
const MAX_DIGITS = 6;

function at(src: Uint8Array | string, i: number): number {
  return typeof src === 'string' ? src.charCodeAt(i) : (src[i] as number);
}

/**
 * The exception code at the start of a ClickHouse error body, or undefined.
 * Accepts `Code: 62, e.displayText() = ...` (18.16 and other old versions)
 * and `Code: 60. DB::Exception: ...` (current), after optional leading
 * whitespace. The number must be followed by ',' or '.', so a prefix cut in
 * the middle of the number gives undefined rather than a wrong code. Never
 * throws; reads at most the first few dozen bytes.
 */
export function exceptionCodeFromBody(prefix: Buffer | Uint8Array | string): number | undefined {
  const n = prefix.length;
  let i = 0;
  // leading whitespace, bounded
  while (i < n && i < 16) {
    const c = at(prefix, i);
    if (c === SPACE || (c >= 9 && c <= 13)) i++;
    else break;
  }
  if (n - i < 8) return undefined; // "Code: N," at least
  if (at(prefix, i) !== C || at(prefix, i + 1) !== O || at(prefix, i + 2) !== D || at(prefix, i + 3) !== E || at(prefix, i + 4) !== COLON || at(prefix, i + 5) !== SPACE) {
    return undefined;
  }
  i += 6;
  let code = 0;
  let digits = 0;
  while (i < n && digits <= MAX_DIGITS) {
    const c = at(prefix, i);
    if (c >= 48 && c <= 57) {
      code = code * 10 + (c - 48);
      digits++;
      i++;
    } else break;
  }
  if (digits === 0 || digits > MAX_DIGITS || i >= n) return undefined;
  const term = at(prefix, i);
  return term === 44 /* , */ || term === 46 /* . */ ? code : undefined;
}

/** The code in an X-ClickHouse-Exception-Code header value, or undefined. */
export function exceptionCodeFromHeader(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let i = 0;
  let end = value.length;
  while (i < end && value.charCodeAt(i) === SPACE) i++;
  while (end > i && value.charCodeAt(end - 1) === SPACE) end--;
  if (end === i || end - i > MAX_DIGITS) return undefined;
  let code = 0;
  for (let k = i; k < end; k++) {
    const c = value.charCodeAt(k);
    if (c < 48 || c > 57) return undefined;
    code = code * 10 + (c - 48);
  }
  return code;
}

const MAX_INFLATED = 64 * 1024;

/**
 * The first bytes of a response body as text bytes: `prefix` itself when not
 * encoded, inflated when gzip/deflate/br (a truncated stream is fine: what
 * can be inflated is returned), undefined when it cannot be read.
 */
export function decodeBodyPrefix(prefix: Buffer, contentEncoding: string | undefined): Buffer | undefined {
  if (contentEncoding === undefined) return prefix;
  const enc = contentEncoding.trim().toLowerCase();
  if (enc === '' || enc === 'identity') return prefix;
  try {
    if (enc === 'gzip' || enc === 'x-gzip') {
      return zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED });
    }
    if (enc === 'deflate') {
      try {
        return zlib.inflateSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED });
      } catch {
        return zlib.inflateRawSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED });
      }
    }
    if (enc === 'br') {
      return zlib.brotliDecompressSync(prefix, {
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
        maxOutputLength: MAX_INFLATED,
      });
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * Verdict for an upstream answer: its status, its X-ClickHouse-Exception-Code
 * header (undefined when absent), the first bytes of its body as received
 * (undefined when not read; ~64 bytes of text are plenty, take the whole
 * first chunk when compressed) and its Content-Encoding header (undefined
 * when absent). See the rules at the top of the file.
 */
export function classifyResponse(
  status: number,
  exceptionCodeHeader: string | undefined,
  bodyPrefix: Buffer | undefined,
  contentEncoding?: string,
): Verdict {
  const ok = status >= 200 && status < 300;
  let code = exceptionCodeFromHeader(exceptionCodeHeader);
  if (code === undefined && !ok && bodyPrefix !== undefined) {
    const text = decodeBodyPrefix(bodyPrefix, contentEncoding);
    if (text !== undefined) code = exceptionCodeFromBody(text);
  }

  if (code !== undefined) {
    if (isServerTroubleCode(code)) return 'failure';
    if (ok || isCallerErrorCode(code)) return 'ignored';
    return status === 502 || status === 503 || status === 504 ? 'failure' : 'ignored';
  }
  if (ok) return 'success';
  if (status >= 500 || status === 408 || status === 429) return 'failure';
  return 'ignored';
}
