// Outcome of a Neo4j HTTP API answer, for the breaker (connection errors and timeouts never get
// here: they are failures, judged by the listener):
//
// | what Neo4j answered                                   | verdict  | why                                       |
// |-------------------------------------------------------|----------|-------------------------------------------|
// | 2xx, `errors: []` (or no errors key: discovery, Jolt) | success  |                                           |
// | 2xx with a `Neo.TransientError.*` code                 | failure  | Neo4j's own "try again later": deadlock, lock timeout, database unavailable, out of memory |
// | any code with `DatabaseUnavailable`                    | failure  | the database is stopped or starting       |
// | 2xx with a `Neo.DatabaseError.*` code                  | failure  | "the database failed to service the request": the server's fault, not the query's |
// | 2xx with a `Neo.ClientError.*` code                    | ignored  | the caller's error (syntax, constraint, arithmetic, auth): passed through, not counted |
// | 5xx, 408, 429                                          | failure  | the server (or a proxy in front of it) failed |
// | other 4xx (401, 403, 404 database not found, 400)      | ignored  | the caller's, unless its body has a failure code as above |
//
// Seen on Neo4j 5.26: a Cypher syntax error is `200 {"results":[],"errors":[{"code":
// "Neo.ClientError.Statement.SyntaxError","message":"Invalid input ..."}]}`; a deadlock is a 200
// with `Neo.TransientError.Transaction.DeadlockDetected`; a wrong password is 401 with
// `{"errors":[{"code":"Neo.ClientError.Security.Unauthorized",...}]}`; an unknown database is 404
// with `Neo.ClientError.Database.DatabaseNotFound`.
import type { Verdict } from '../http/relay.js';
import type { ErrorsFound } from './errors-scan.js';

/** Whether an error code means Neo4j itself is in trouble (counts against the breaker). */
export function isServerTrouble(code: string): boolean {
  return code.includes('TransientError') || code.includes('DatabaseUnavailable') || code.startsWith('Neo.DatabaseError.');
}

/** The verdict from the status alone: 'inspect' when the body decides. */
export function verdictOfStatus(status: number): Verdict | 'inspect' {
  if (status >= 200 && status < 300) return 'success';
  if (status >= 500 || status === 408 || status === 429) return 'failure';
  return 'inspect';
}

/** The verdict for a response's status and the error codes its body carried. */
export function verdictOf(status: number, errors: ErrorsFound): Verdict {
  const ok = status >= 200 && status < 300;
  if (errors !== undefined && errors.some(isServerTrouble)) return 'failure';
  if (!ok) return verdictOfStatus(status) === 'failure' ? 'failure' : 'ignored';
  return errors !== undefined && errors.length > 0 ? 'ignored' : 'success';
}

/** The first code that made `verdictOf` say failure, for /status and logs. */
export function troubleCode(errors: ErrorsFound): string | undefined {
  return errors?.find(isServerTrouble);
}
