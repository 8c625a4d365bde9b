// The startup gate: holds /startupz until the dependencies named in startup.waitFor are healthy,
// then passes; on timeout it either gives up with a message that says what to fix (exit) or
// passes anyway and leaves /readyz to tell the truth (serve-unready).
import type { Config } from '../config/schema.js';
import type { Dependency } from '../dependency/dependency.js';
import type { Logger } from '../log/logger.js';

export type GateOutcome = 'passed' | 'exit' | 'serve-unready' | 'cancelled';

/** Something besides a dependency that startup waits for (the CDC consumer). */
export interface StartupCondition {
  name: string;
  /** Undefined when satisfied; otherwise what is wrong and how to fix it. */
  notReadyReason(): string | undefined;
}

export class StartupGate {
  passed = false;
  outcome: GateOutcome | undefined;
  private readonly startedAt = Date.now();
  private cancelled = false;

  constructor(
    private readonly config: Config['startup'],
    private readonly deps: ReadonlyMap<string, Dependency>,
    private readonly log: Logger,
    private readonly conditions: readonly StartupCondition[] = [],
  ) {}

  waitingFor(): string[] {
    return [
      ...this.config.waitFor.filter((n) => !this.deps.get(n)?.healthy),
      ...this.conditions.filter((c) => c.notReadyReason() !== undefined).map((c) => c.name),
    ];
  }

  async run(): Promise<GateOutcome> {
    const deadline = this.startedAt + this.config.timeout;
    while (!this.cancelled) {
      const waiting = this.waitingFor();
      if (waiting.length === 0) {
        this.passed = true;
        const waited = [...this.config.waitFor, ...this.conditions.map((c) => c.name)];
        this.log.info({ waitedMs: Date.now() - this.startedAt }, `startup gate passed: ${waited.join(', ') || 'nothing to wait for'}`);
        return (this.outcome = 'passed');
      }
      if (Date.now() >= deadline) {
        if (this.config.onTimeout === 'exit') {
          this.log.fatal({ waitingFor: waiting }, this.failureMessage());
          return (this.outcome = 'exit');
        }
        this.passed = true;
        this.log.warn({ waitingFor: waiting }, `startup gate timed out after ${this.config.timeout}ms; serving unready (startup.onTimeout: serve-unready): ${this.describe(waiting)}`);
        return (this.outcome = 'serve-unready');
      }
      await new Promise((r) => setTimeout(r, 100).unref());
    }
    return (this.outcome = 'cancelled');
  }

  cancel(): void {
    this.cancelled = true;
  }

  failureMessage(): string {
    const waiting = this.waitingFor();
    return (
      `startup failed: ${waiting.join(', ')} not healthy after ${this.config.timeout}ms (startup.onTimeout: exit). ` +
      this.describe(waiting) +
      ' Check that the dependency is running and reachable from this pod, that its upstream address in the config (or the environment variable it reads) is right, or raise startup.timeout.'
    );
  }

  private describe(names: string[]): string {
    return names
      .map((n) => {
        const d = this.deps.get(n);
        if (!d) return `${n}: ${this.conditions.find((c) => c.name === n)?.notReadyReason() ?? 'not ready'}.`;
        const tried = d.checks.map((c) => `${c.opts.target} (${c.lastError ?? 'ok'})`).join(', ');
        return `${n}: tried ${tried || d.config.upstream.join(', ')}.`;
      })
      .join(' ');
  }

  status(): Record<string, unknown> {
    return { outcome: this.outcome ?? 'waiting', waitFor: this.config.waitFor, waitingFor: this.passed ? [] : this.waitingFor() };
  }
}
