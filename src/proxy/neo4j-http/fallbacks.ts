// Neo4j HTTP fallback rules and steps (`static`, `fail`) and the chain built from them. A rule
// covers a request when EVERY statement matches its `match` (query pattern, read/write); a
// request whose statements were not read (explicit transactions, discovery, a body that is not
// a statement list) is covered only by a rule that matches anything (no `query`, statement
// `any`), and then only its `fail` can answer: `cache` and `static` need a readable auto-commit.
import type { Neo4jHttpDependencyConfig, Neo4jHttpFallbackRule } from '../../config/schema.js';
import { FallbackChain, type FallbackRule, type FallbackStep } from '../../fallback/chain.js';
import { compileQueryPattern } from '../cypher/query-pattern.js';
import { isReadQuery } from '../cypher/statement.js';
import type { ColumnMemory } from './columns.js';
import { emptyResults, failure } from './replies.js';
import type { Neo4jHttpRequest } from './request.js';

type FailWith = Neo4jHttpFallbackRule['failWith'];

/** Whether a rule covers a request's statements (undefined: not read). */
export type Coverage = (statements: readonly string[] | undefined) => boolean;

export function coverage(rule: Neo4jHttpFallbackRule): Coverage {
  const compiled = rule.match.query === undefined ? undefined : compileQueryPattern(rule.match.query);
  // The schema rejects patterns that do not compile.
  const pattern = compiled instanceof RegExp ? compiled : undefined;
  const kind = rule.match.statement;
  if (pattern === undefined && kind === 'any') return () => true;
  return (statements) =>
    statements !== undefined &&
    statements.every((s) => (pattern === undefined || pattern.test(s)) && (kind === 'any' || isReadQuery(s) === (kind === 'read')));
}

/** Whether every statement only reads: what `cache` and `static` may answer. */
export function allRead(statements: readonly string[]): boolean {
  return statements.every(isReadQuery);
}

export function staticStep(columns: ColumnMemory): FallbackStep<Neo4jHttpRequest> {
  return {
    kind: 'static',
    serve(c) {
      if (c.commitDb === undefined || c.statements === undefined || !c.acceptsJson || !allRead(c.statements)) return false;
      c.reply(emptyResults(c.statements.map((s) => columns.get(s)), c.includeStats ?? []));
      return true;
    },
  };
}

export function failStep(failWith: FailWith): FallbackStep<Neo4jHttpRequest> {
  return {
    kind: 'fail',
    serve(c) {
      const retryAfter = Math.max(1, Math.ceil(c.dep.breaker.retryAfterMs() / 1000));
      c.reply(failure(failWith, failMessage(c, retryAfter), retryAfter));
      return true;
    },
  };
}

function failMessage(c: Neo4jHttpRequest, retryAfter: number): string {
  const name = c.dep.name;
  switch (c.reason) {
    case 'failed':
      return `breakwater: ${name} failed: ${c.error ?? 'unknown error'} (retry in ${retryAfter}s)`;
    case 'bulkhead':
      return `breakwater: ${name} has too many requests in flight (maxConcurrent ${c.dep.config.maxConcurrent})`;
    case 'half_open_full':
      return `breakwater: ${name} circuit half-open, trial call in progress (retry in ${retryAfter}s)`;
    case 'forced_open':
      return `breakwater: ${name} circuit forced open by an operator`;
    default:
      return `breakwater: ${name} circuit open (retry in ${retryAfter}s)`;
  }
}

export function neo4jHttpChain(
  config: Neo4jHttpDependencyConfig,
  served: (kind: string, c: Neo4jHttpRequest) => void,
  steps: { cache: FallbackStep<Neo4jHttpRequest> | undefined; static: FallbackStep<Neo4jHttpRequest> },
): FallbackChain<Neo4jHttpRequest> {
  const rules: FallbackRule<Neo4jHttpRequest>[] = config.fallback.map((rule) => {
    const covers = coverage(rule);
    const fail = failStep(rule.failWith);
    const list: FallbackStep<Neo4jHttpRequest>[] = [];
    for (const kind of rule.use) {
      if (kind === 'fail') list.push(fail);
      else if (kind === 'static') list.push(steps.static);
      else if (steps.cache !== undefined) list.push(steps.cache);
    }
    // When cache and static decline, the rule's own `failWith` answers, not the default.
    if (list[list.length - 1] !== fail) list.push(fail);
    return { matches: (c) => covers(c.statements), steps: list };
  });
  return new FallbackChain(rules, failStep('transient'), served);
}
