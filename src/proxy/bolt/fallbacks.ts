// Bolt's fallback steps (`cache`, `static`, `fail`) and the chain built from a dependency's
// rules. Only a RUN is ever answered by the chain; `cache` and `static` answer reads only (an
// auto-commit RUN or a RUN in a read transaction, of a query without a writing clause), so a
// write never gets a fake success, and everything else falls through to `fail`.
import type { BoltDependencyConfig, BoltFallbackRule } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import { FallbackChain, type FallbackReason, type FallbackRule, type FallbackStep } from '../../fallback/chain.js';
import type { ResponseCache } from '../../store/response-cache.js';
import { compileQueryPattern } from '../cypher/query-pattern.js';

export type LocalAnswer =
  | { readonly kind: 'result'; readonly fields: readonly string[]; readonly records: Buffer | undefined }
  | { readonly kind: 'failure'; readonly code: string; readonly message: string };

export interface BoltFallback {
  readonly dep: Dependency;
  readonly reason: FallbackReason;
  /** What failed, when Neo4j failed (reason `failed`). */
  readonly error: string | undefined;
  readonly query: string;
  /** The query has no writing clause. */
  readonly readQuery: boolean;
  /** `cache` and `static` may answer: a read query, auto-commit or in a read transaction. */
  readonly servable: boolean;
  /** The cache key of this query and its parameters; undefined when it is not cached. */
  readonly cacheKey: string | undefined;
  /** The best-known field list of the query, for `static`. */
  fields(): readonly string[];
  answer: LocalAnswer | undefined;
}

export const FAIL_CODES = {
  transient: 'Neo.TransientError.General.DatabaseUnavailable',
  'database-error': 'Neo.DatabaseError.General.UnknownError',
} as const;

export function failMessage(c: Pick<BoltFallback, 'dep' | 'reason' | 'error'>): string {
  const name = c.dep.name;
  const retry = Math.max(1, Math.ceil(c.dep.breaker.retryAfterMs() / 1000));
  switch (c.reason) {
    case 'failed':
      return `breakwater: ${name} unavailable: ${c.error ?? 'unknown error'}`;
    case 'half_open_full':
      return `breakwater: ${name} circuit half-open, trial call in progress (retry in ${retry}s)`;
    case 'forced_open':
      return `breakwater: ${name} circuit forced open by an operator`;
    case 'bulkhead':
      return `breakwater: ${name} has too many connections (maxConcurrent ${c.dep.config.maxConcurrent})`;
    default:
      return `breakwater: ${name} circuit open (retry in ${retry}s)`;
  }
}

export function failStep(failWith: BoltFallbackRule['failWith']): FallbackStep<BoltFallback> {
  return {
    kind: 'fail',
    serve(c) {
      c.answer = { kind: 'failure', code: FAIL_CODES[failWith], message: failMessage(c) };
      return true;
    },
  };
}

/** An empty result with the query's field list. */
export const staticStep: FallbackStep<BoltFallback> = {
  kind: 'static',
  serve(c) {
    if (!c.servable) return false;
    c.answer = { kind: 'result', fields: c.fields(), records: undefined };
    return true;
  },
};

/** The last good result of the same query and parameters. */
export function cacheStep(store: ResponseCache): FallbackStep<BoltFallback> {
  return {
    kind: 'cache',
    serve(c) {
      const key = c.cacheKey;
      if (!c.servable || key === undefined) return false;
      return store.get(key).then((hit) => {
        const fields = hit === undefined ? undefined : parseFields(hit.entry.meta.fields);
        if (fields === undefined) return false;
        c.answer = { kind: 'result', fields, records: hit!.entry.body };
        return true;
      });
    },
  };
}

function parseFields(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((f) => typeof f === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

export function ruleMatcher(match: BoltFallbackRule['match']): (c: Pick<BoltFallback, 'query' | 'readQuery'>) => boolean {
  const pattern = match.query === undefined ? undefined : compileQueryPattern(match.query);
  if (pattern instanceof Error) throw pattern; // the config schema already refused it
  const statement = match.statement;
  return (c) => (pattern === undefined || pattern.test(c.query)) && (statement === 'any' || (statement === 'read') === c.readQuery);
}

/** Whether results of this query are stored for `cache`: the first rule that covers it uses `cache`. */
export function cachingRule(config: BoltDependencyConfig): (c: Pick<BoltFallback, 'query' | 'readQuery'>) => boolean {
  const matchers = config.fallback.map((r) => ({ matches: ruleMatcher(r.match), caches: r.use.includes('cache') }));
  return (c) => matchers.find((m) => m.matches(c))?.caches === true;
}

export function boltChain(config: BoltDependencyConfig, served: (kind: string, c: BoltFallback) => void, store: ResponseCache | undefined): FallbackChain<BoltFallback> {
  const cache = store && cacheStep(store);
  const rules: FallbackRule<BoltFallback>[] = config.fallback.map((rule) => ({
    matches: ruleMatcher(rule.match),
    // The rule's own `fail` ends its steps, so its failWith holds when cache and static decline.
    steps: [...rule.use.filter((k) => k !== 'fail').flatMap((kind) => (kind === 'cache' ? (cache ? [cache] : []) : [staticStep])), failStep(rule.failWith)],
  }));
  return new FallbackChain(rules, failStep('transient'), served);
}
