// Which FAILUREs mean Neo4j is in trouble (they count against the breaker) and which are the
// caller's (syntax errors, constraint violations, security: passed through, not counted).
import { isMap, readValue, type PackMap } from './packstream.js';

export type FailureClass = 'failure' | 'caller';

/** Transient codes that a caller or an operator caused (a terminated transaction), not the server's health. */
const CALLER_TRANSIENT = new Set(['Neo.TransientError.Transaction.Terminated', 'Neo.TransientError.Transaction.LockClientStopped']);

/**
 * Neo.TransientError.* (the server cannot serve now: unavailable database, leader switch,
 * memory pressure, deadlock), DatabaseUnavailable in any class and Neo.DatabaseError.*
 * (the server itself broke) count; Neo.ClientError.* is the caller's.
 */
export function classifyCode(code: string): FailureClass {
  if (code.includes('DatabaseUnavailable')) return 'failure';
  if (code.startsWith('Neo.TransientError.')) return CALLER_TRANSIENT.has(code) ? 'caller' : 'failure';
  if (code.startsWith('Neo.DatabaseError.')) return 'failure';
  return 'caller';
}

export interface FailureInfo {
  code: string;
  message: string;
}

/** The code and message of a FAILURE's payload (Bolt 5.7+ `neo4j_code`, older `code`). */
export function failureInfo(payload: Buffer): FailureInfo {
  try {
    const meta = readValue(payload, 2, payload.length).value;
    if (isMap(meta)) {
      const m = meta as PackMap;
      const code = typeof m.neo4j_code === 'string' ? m.neo4j_code : typeof m.code === 'string' ? m.code : 'Neo.DatabaseError.General.UnknownError';
      const message = typeof m.message === 'string' ? m.message : '';
      return { code, message: message.length > 300 ? `${message.slice(0, 300)}…` : message };
    }
  } catch {
    // A FAILURE breakwater cannot read is still a failure; its bytes go to the client unchanged.
  }
  return { code: 'Neo.DatabaseError.General.UnknownError', message: 'unreadable FAILURE metadata' };
}
