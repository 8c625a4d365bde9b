// Bolt requests by message type: a bounded label (the 13 request names and `other`). Plain
// numbers bumped on the data path, read when Prometheus scrapes (no label hashing per message).
import type { Metrics } from '../../metrics/metrics.js';
import { requestName } from './messages.js';

export class BoltRequestCounters {
  private readonly counts = new Float64Array(256);

  constructor(metrics: Metrics, dependency: string) {
    metrics.addBoltSource(dependency, () => {
      // Several signatures share the name `other`: summed into one series.
      const byName = new Map<string, number>();
      this.counts.forEach((v, sig) => {
        if (v > 0) byName.set(requestName(sig), (byName.get(requestName(sig)) ?? 0) + v);
      });
      return [...byName].map(([message, value]) => ({ message, value }));
    });
  }

  count(signature: number): void {
    this.counts[signature & 0xff]!++;
  }
}
