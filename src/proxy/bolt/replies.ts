// The messages breakwater writes in Neo4j's place: SUCCESS, FAILURE, IGNORED and the metadata
// of an empty or replayed result, each chunked and ready to write. Never a bookmark: one that
// Neo4j did not issue would make a causally chained read wait for a transaction that never was.
import { chunk } from './framing.js';
import { atLeast, type BoltVersion } from './handshake.js';
import { Sig } from './messages.js';
import { packStruct, type PackMap, type PackValue } from './packstream.js';

export const IGNORED = chunk(Buffer.from([0xb0, Sig.IGNORED]));
const EMPTY_SUCCESS = chunk(Buffer.from([0xb1, Sig.SUCCESS, 0xa0]));

function map(entries: Record<string, PackValue>): PackMap {
  return Object.assign(Object.create(null) as PackMap, entries);
}

export function success(meta?: Record<string, PackValue>): Buffer {
  if (meta === undefined) return EMPTY_SUCCESS;
  return chunk(packStruct(Sig.SUCCESS, [map(meta)]));
}

/**
 * A FAILURE in the version's own shape. Bolt 5.7+ reads `neo4j_code` and the GQL fields, older
 * versions `code`: from 5.7 on both are sent, as the issue asks and drivers of either age read.
 * Shape checked against Neo4j 5.26 (Bolt 5.8): neo4j_code, message, gql_status, description.
 */
export function failure(version: BoltVersion, code: string, message: string): Buffer {
  if (!atLeast(version, 5, 7)) return chunk(packStruct(Sig.FAILURE, [map({ code, message })]));
  return chunk(
    packStruct(Sig.FAILURE, [
      map({
        neo4j_code: code,
        code,
        message,
        gql_status: '50N42',
        description: `error: general processing exception - unexpected error. ${message}`,
      }),
    ]),
  );
}

/** RUN's answer for a result breakwater serves: its fields, no time spent. Inside a transaction it carries the query id. */
export function runSuccess(fields: readonly string[], qid: number | undefined): Buffer {
  const meta: Record<string, PackValue> = { fields: [...fields], t_first: 0 };
  if (qid !== undefined) meta.qid = qid;
  return success(meta);
}

/** PULL's answer when more records remain. */
export const HAS_MORE = success({ has_more: true });

/** The last PULL or DISCARD answer of a result breakwater served: a read, no bookmark. */
export function resultEnd(db: string | undefined): Buffer {
  const meta: Record<string, PackValue> = { type: 'r', t_last: 0 };
  if (db !== undefined) meta.db = db;
  return success(meta);
}
