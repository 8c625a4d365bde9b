// Redis's fallback steps (`static`, `fail`) and the chain built from a dependency's rules, with
// the defaults after them: reads answer a miss, connection setup is answered, the rest fails.
import type { RedisDependencyConfig, RedisFallbackRule } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import { FallbackChain, type FallbackReason, type FallbackRule, type FallbackStep } from '../../fallback/chain.js';
import type { CommandInfo } from './commands.js';
import { errorReply, missReply, setupReply, type Proto } from './replies.js';

export interface RedisFallback {
  readonly dep: Dependency;
  readonly info: CommandInfo;
  readonly argc: number;
  /** The command's arguments, name first; only setup answers look at them. */
  readonly args: () => readonly Buffer[];
  readonly proto: Proto;
  readonly reason: FallbackReason;
  readonly error: string | undefined;
  /** Redis's own error reply when it answered with trouble: `fail` relays it unchanged. */
  readonly upstreamError: Buffer | undefined;
  reply(bytes: Buffer, after?: { proto?: Proto; close?: boolean }): void;
}

/** A read answers as a miss in its reply type; a setup command is answered as Redis would. */
export const staticStep: FallbackStep<RedisFallback> = {
  kind: 'static',
  serve(c) {
    if (c.info.klass === 'read') {
      if (c.info.miss === undefined) return false;
      c.reply(missReply(c.info.miss, c.argc, c.proto));
      return true;
    }
    if (c.info.klass === 'setup') {
      const answer = setupReply(c.args(), c.proto);
      if (answer === undefined) return false;
      c.reply(answer.reply, { proto: answer.proto, close: answer.close });
      return true;
    }
    return false;
  },
};

/** `-ERR breakwater: <dependency> circuit open (retry in Ns)`, or Redis's own error when it sent one. */
export const failStep: FallbackStep<RedisFallback> = {
  kind: 'fail',
  serve(c) {
    c.reply(c.upstreamError ?? errorReply(failMessage(c)));
    return true;
  },
};

export function failMessage(c: Pick<RedisFallback, 'dep' | 'reason' | 'error'>): string {
  const name = c.dep.name;
  const retry = Math.max(1, Math.ceil(c.dep.breaker.retryAfterMs() / 1000));
  switch (c.reason) {
    case 'failed':
      return `${name} unavailable: ${c.error ?? 'unknown error'}`;
    case 'half_open_full':
      return `${name} circuit half-open, trial call in progress (retry in ${retry}s)`;
    case 'forced_open':
      return `${name} circuit forced open by an operator`;
    case 'bulkhead':
      return `${name} has too many connections (maxConcurrent ${c.dep.config.maxConcurrent})`;
    default:
      return `${name} circuit open (retry in ${retry}s)`;
  }
}

const STEPS: Record<RedisFallbackRule['use'][number], FallbackStep<RedisFallback>> = { static: staticStep, fail: failStep };

function matcher(commands: RedisFallbackRule['match']['commands']): (c: RedisFallback) => boolean {
  if (commands === 'any') return () => true;
  if (typeof commands === 'string') return (c) => c.info.klass === commands;
  const names = new Set(commands.map((n) => n.toLowerCase()));
  return (c) => names.has(c.info.name);
}

const DEFAULT_RULES: FallbackRule<RedisFallback>[] = [
  { matches: (c) => c.info.klass === 'read' || c.info.klass === 'setup', steps: [staticStep] },
];

export function redisChain(config: RedisDependencyConfig, served: (kind: string, c: RedisFallback) => void): FallbackChain<RedisFallback> {
  const rules: FallbackRule<RedisFallback>[] = config.fallback.map((rule) => ({
    matches: matcher(rule.match.commands),
    steps: rule.use.map((kind) => STEPS[kind]),
  }));
  return new FallbackChain([...rules, ...DEFAULT_RULES], failStep, served);
}
