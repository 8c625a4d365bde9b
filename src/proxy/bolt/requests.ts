// What the proxy reads out of the few requests it must understand: RUN (query, parameters,
// database, mode), BEGIN (mode, database), PULL/DISCARD (how many records), HELLO/LOGON (who
// logs in). Everything else passes through as bytes. Payloads are whole messages without
// chunk headers: `B<n> <signature> fields…`.
import { createHash } from 'node:crypto';
import { isMap, readStructHeader, readValue, skipValue, type PackMap, type PackValue } from './packstream.js';

export interface RunRequest {
  query: string;
  /** The parameters exactly as the client packed them: part of the cache key. */
  params: Buffer;
  db: string | undefined;
  /** `r` when the client asked for a read (auto-commit RUN extra `mode`). */
  mode: string | undefined;
  impUser: string | undefined;
}

function fieldsStart(payload: Buffer): number {
  return readStructHeader(payload, 0, payload.length).next;
}

function str(v: PackValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** RUN query params extra (Bolt 4+ always sends extra). Throws PackStreamError on a malformed RUN. */
export function decodeRun(payload: Buffer): RunRequest {
  let p = fieldsStart(payload);
  const q = readValue(payload, p, payload.length);
  p = q.end;
  const paramsEnd = skipValue(payload, p, payload.length);
  const params = payload.subarray(p, paramsEnd);
  let extra: PackMap | undefined;
  if (paramsEnd < payload.length) {
    const e = readValue(payload, paramsEnd, payload.length).value;
    if (isMap(e)) extra = e;
  }
  return { query: typeof q.value === 'string' ? q.value : '', params, db: str(extra?.db), mode: str(extra?.mode), impUser: str(extra?.imp_user) };
}

/** The single map field of BEGIN, HELLO, LOGON, PULL, DISCARD, SUCCESS (or an empty map). */
export function firstMap(payload: Buffer): PackMap {
  const p = fieldsStart(payload);
  if (p >= payload.length) return Object.create(null) as PackMap;
  const v = readValue(payload, p, payload.length).value;
  return isMap(v) ? v : (Object.create(null) as PackMap);
}

/** PULL/DISCARD `n`: records wanted, -1 for all. */
export function recordsWanted(meta: PackMap): number {
  const n = meta.n;
  if (typeof n === 'number') return n;
  if (typeof n === 'bigint') return n < 0n ? -1 : Number.MAX_SAFE_INTEGER;
  return -1;
}

/**
 * A digest of the credentials in a HELLO (Bolt < 5.1) or LOGON map, or undefined when it
 * carries none. Only the digest is kept: breakwater answers a login itself only with
 * credentials Neo4j accepted before.
 */
export function credentialDigest(meta: PackMap): string | undefined {
  if (meta.scheme === undefined && meta.principal === undefined && meta.credentials === undefined) return undefined;
  const h = createHash('sha256');
  for (const k of ['scheme', 'principal', 'credentials', 'realm']) {
    const v = meta[k];
    // Any PackStream value may arrive here (a bigint, bytes): stringified without throwing.
    h.update(`${k}\0${typeof v === 'string' ? v : JSON.stringify(v ?? null, (_key, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))}\0`);
  }
  return h.digest('hex');
}

/** The user a HELLO/LOGON names (part of the cache key: never the password). */
export function principalOf(meta: PackMap): string | undefined {
  return str(meta.principal);
}
