// Hot-path metrics without prom-client's per-call label hashing: the data path bumps plain
// numbers, and these families read them when Prometheus scrapes. Registered in prom-client's
// registry like any other metric (it only needs name, help, type and get()).

export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class CollectedFamily {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram' | 'gauge',
    private readonly read: () => Sample[],
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  reset(): void {}
}

/** One histogram series: bucket counts in a typed array, observe() is a short scan. */
export class HistogramCells {
  private readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  samples(name: string, labels: Record<string, string>): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { le: this.bounds[i]!, ...labels }, value: cumulative });
    }
    out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: this.count });
    out.push({ metricName: `${name}_sum`, labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
    return out;
  }
}
