// An active health check: a probe run every interval with a timeout; thresholds of consecutive
// passes / failures turn it healthy / unhealthy. Starts unknown, which counts as unhealthy.

export type Probe = (signal: AbortSignal) => Promise<void>;

export interface HealthCheckOptions {
  /** What is probed, for messages: "http://127.0.0.1:8123/ping". */
  target: string;
  probe: Probe;
  interval: number;
  timeout: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface HealthChange {
  healthy: boolean;
  target: string;
  error: string | undefined;
}

export class HealthCheck {
  healthy = false;
  state: 'unknown' | 'healthy' | 'unhealthy' = 'unknown';
  lastError: string | undefined = 'not checked yet';
  lastCheckAt = 0;
  private passes = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private listeners: ((c: HealthChange) => void)[] = [];

  constructor(readonly opts: HealthCheckOptions) {}

  onChange(listener: (c: HealthChange) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.timer) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.opts.interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async runOnce(): Promise<void> {
    if (this.running) return; // a hung upstream must not pile up probes
    this.running = true;
    let error: string | undefined;
    try {
      await this.opts.probe(AbortSignal.timeout(this.opts.timeout));
    } catch (err) {
      error = describeError(err, this.opts.timeout);
    } finally {
      this.running = false;
    }
    this.record(error);
  }

  private record(error: string | undefined): void {
    this.lastCheckAt = Date.now();
    if (error === undefined) {
      this.passes++;
      this.failures = 0;
      this.lastError = undefined;
      if (this.state !== 'healthy' && this.passes >= this.opts.healthyThreshold) this.set('healthy');
    } else {
      this.failures++;
      this.passes = 0;
      this.lastError = error;
      if (this.state !== 'unhealthy' && this.failures >= this.opts.unhealthyThreshold) this.set('unhealthy');
    }
  }

  private set(state: 'healthy' | 'unhealthy'): void {
    this.state = state;
    this.healthy = state === 'healthy';
    for (const l of this.listeners) l({ healthy: this.healthy, target: this.opts.target, error: this.lastError });
  }
}

function describeError(err: unknown, timeout: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeout}ms`;
  const cause = e?.cause?.code ?? e?.code;
  const msg = e?.cause?.message ?? e?.message ?? String(err);
  return cause && !msg.includes(cause) ? `${cause}: ${msg}` : msg;
}
