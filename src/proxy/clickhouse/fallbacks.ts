// ClickHouse's fallback steps (`static`, `fail`) and the chain built from a dependency's rules.
import type { ClickHouseDependencyConfig } from '../../config/schema.js';
import { FallbackChain, type FallbackRule, type FallbackStep } from '../../fallback/chain.js';
import { requestedFormat } from './format.js';
import { emptyResult } from './replies.js';
import type { ClickHouseRequest } from './request.js';

export const FALLBACK_HEADER = 'x-breakwater-fallback';

/** An empty result in the FORMAT the client asked for; declines writes and unknown formats. */
export const staticStep: FallbackStep<ClickHouseRequest> = {
  kind: 'static',
  serve(c) {
    if (c.kind !== 'read') return false;
    const empty = emptyResult(requestedFormat(c.sql, c.defaultFormat));
    if (empty === undefined) return false;
    c.reply({ status: 200, headers: { 'content-type': empty.contentType, [FALLBACK_HEADER]: 'static' }, body: empty.body });
    return true;
  },
};

/** 503 with Retry-After (the time left open) and a JSON body naming the dependency and its state. */
export const failStep: FallbackStep<ClickHouseRequest> = {
  kind: 'fail',
  serve(c) {
    const b = c.dep.breaker;
    const retryAfter = Math.max(1, Math.ceil(b.retryAfterMs() / 1000));
    const body = JSON.stringify({
      error: failMessage(c),
      dependency: c.dep.name,
      state: b.state,
      reason: c.reason,
      retryAfterSeconds: retryAfter,
      ...(c.error ? { upstreamError: c.error } : {}),
    });
    c.reply({
      status: 503,
      headers: { 'content-type': 'application/json; charset=UTF-8', 'retry-after': retryAfter, [FALLBACK_HEADER]: 'fail' },
      body: Buffer.from(body),
    });
    return true;
  },
};

function failMessage(c: ClickHouseRequest): string {
  const name = c.dep.name;
  switch (c.reason) {
    case 'failed':
      return `breakwater: ${name} failed: ${c.error ?? 'unknown error'}`;
    case 'bulkhead':
      return `breakwater: ${name} has too many requests in flight (maxConcurrent ${c.dep.config.maxConcurrent})`;
    case 'half_open_full':
      return `breakwater: ${name} circuit half-open, trial call in progress`;
    case 'forced_open':
      return `breakwater: ${name} circuit forced open by an operator`;
    default:
      return `breakwater: ${name} circuit open`;
  }
}

export function clickhouseChain(
  config: ClickHouseDependencyConfig,
  served: (kind: string, c: ClickHouseRequest) => void,
  cache: FallbackStep<ClickHouseRequest> | undefined,
): FallbackChain<ClickHouseRequest> {
  const STEPS: Record<string, FallbackStep<ClickHouseRequest>> = { static: staticStep, fail: failStep };
  if (cache) STEPS.cache = cache;
  const rules: FallbackRule<ClickHouseRequest>[] = config.fallback.map((rule) => {
    const statement = rule.match.statement;
    return {
      matches: statement === 'any' ? () => true : (c) => c.kind === statement,
      steps: rule.use.map((kind) => STEPS[kind]!),
    };
  });
  return new FallbackChain(rules, failStep, served);
}
