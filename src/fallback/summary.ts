// Fallbacks are logged as one summary per dependency per interval, never one line per request.
import type { Logger } from '../log/logger.js';

export class FallbackSummary {
  private counts = new Map<string, number>();
  private total = 0;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  /** kind and reason, e.g. "static" because "open". */
  count(kind: string, reason: string): void {
    const key = `${kind}/${reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total++;
  }

  flush(): void {
    if (this.total === 0) return;
    const served: Record<string, number> = {};
    for (const [k, v] of this.counts) served[k] = v;
    this.log.info({ fallbacks: this.total, served }, `served ${this.total} fallback responses (kind/reason: count)`);
    this.counts.clear();
    this.total = 0;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
