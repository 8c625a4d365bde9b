// A dependency at run time: its breaker, health, metrics and the counts /status shows. Protocol
// listeners record outcomes here; admin and readiness read from here.
import { REJECTED, type Breaker, type BreakerState, type Transition } from '../breaker/breaker.js';
import type { DependencyConfig } from '../config/schema.js';
import type { FallbackReason } from '../fallback/chain.js';
import { FallbackSummary } from '../fallback/summary.js';
import type { HealthCheck } from '../health/check.js';
import type { Logger } from '../log/logger.js';
import type { DependencyMetrics } from '../metrics/metrics.js';

export interface LastError {
  message: string;
  at: string;
}

export class Dependency {
  fallbacks = 0;
  lastError: LastError | undefined;
  inFlight = 0;
  readonly checks: HealthCheck[] = [];
  readonly summary: FallbackSummary;
  /** Protocol details for /status (a listener sets it). */
  details: (() => Record<string, unknown>) | undefined;
  private readonly slowCall: number;

  constructor(
    readonly name: string,
    readonly config: DependencyConfig,
    readonly breaker: Breaker,
    readonly metrics: DependencyMetrics,
    readonly log: Logger,
    summaryInterval: number,
  ) {
    this.slowCall = config.breaker.slowCall ?? Infinity;
    this.summary = new FallbackSummary(log, summaryInterval);
    metrics.state(breaker.state);
    breaker.onTransition((t: Transition) => this.onTransition(t));
  }

  private onTransition(t: Transition): void {
    this.metrics.transition(t.from, t.to);
    this.log.warn(
      { breaker: { from: t.from, to: t.to }, reason: t.reason, retryAfterMs: this.breaker.retryAfterMs() },
      `breaker ${t.from} -> ${t.to}: ${t.reason}`,
    );
  }

  /** Health from the active checks: any healthy replica will do. No checks: healthy. */
  get healthy(): boolean {
    if (!this.config.health.enabled || this.checks.length === 0) return true;
    return this.checks.some((c) => c.healthy);
  }

  /** Ready to take traffic: healthy, and the breaker is not refusing it. */
  get ready(): boolean {
    const s: BreakerState = this.breaker.state;
    return this.healthy && s !== 'open' && s !== 'forced_open';
  }

  addCheck(check: HealthCheck): void {
    this.checks.push(check);
    check.onChange((c) => {
      this.metrics.setHealthy(this.healthy);
      if (c.healthy) {
        this.log.info({ target: c.target }, `health check passing: ${c.target}`);
      } else {
        this.log.warn({ target: c.target, error: c.error }, `health check failing: ${c.target}: ${c.error}`);
        if (!this.healthy) this.breaker.trip(`health check failing: ${c.target}: ${c.error}`);
      }
    });
  }

  /** The guard: a breaker permit (a token >= 0), or why the call may not go ahead. */
  admit(): number | FallbackReason {
    const token = this.breaker.acquire();
    if (token === REJECTED) {
      this.rejected();
      return this.refusal();
    }
    const max = this.config.maxConcurrent;
    if (max > 0 && this.inFlight >= max) {
      this.breaker.ignore(token);
      this.rejected();
      return 'bulkhead';
    }
    return token;
  }

  /** Why the breaker just refused a permit. */
  refusal(): FallbackReason {
    const s = this.breaker.state;
    return s === 'forced_open' ? 'forced_open' : s === 'half_open' ? 'half_open_full' : 'open';
  }

  // Outcome recording: the hot path calls these once per request.

  success(token: number, ms: number): void {
    this.breaker.success(token, ms);
    this.metrics.duration.observe(ms / 1000);
    if (ms >= this.slowCall) this.metrics.calls.slow++;
    else this.metrics.calls.success++;
  }

  /** A success whose duration was the caller's choice (a blocking command): no duration, never slow. */
  untimedSuccess(token: number): void {
    this.breaker.success(token, 0);
    this.metrics.calls.success++;
  }

  failure(token: number, ms: number, message: string): void {
    this.breaker.failure(token, ms);
    this.metrics.duration.observe(ms / 1000);
    this.metrics.calls.failure++;
    this.lastError = { message, at: new Date().toISOString() };
  }

  ignored(token: number, ms: number): void {
    this.breaker.ignore(token);
    this.metrics.duration.observe(ms / 1000);
    this.metrics.calls.ignored++;
  }

  rejected(): void {
    this.metrics.calls.rejected++;
  }

  fallback(kind: string, reason: string): void {
    this.fallbacks++;
    this.metrics.fallback(kind);
    this.summary.count(kind, reason);
  }

  status(): Record<string, unknown> {
    const b = this.breaker;
    return {
      protocol: this.config.protocol,
      listen: this.config.listen,
      upstream: this.config.upstream,
      required: this.config.required,
      healthy: this.healthy,
      ready: this.ready,
      checks: this.checks.map((c) => ({
        target: c.opts.target,
        state: c.state,
        lastError: c.lastError ?? null,
        lastCheckAt: c.lastCheckAt ? new Date(c.lastCheckAt).toISOString() : null,
      })),
      breaker: {
        state: b.state,
        since: new Date(b.since).toISOString(),
        retryAfterMs: b.retryAfterMs(),
      },
      inFlight: this.inFlight,
      counts: { ...this.metrics.calls, fallbacks: this.fallbacks },
      lastError: this.lastError ?? null,
      ...(this.details?.() ?? {}),
    };
  }

  close(): void {
    for (const c of this.checks) c.stop();
    this.summary.close();
  }
}
