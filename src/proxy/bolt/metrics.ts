// Bolt requests by message type: a bounded label (the 13 request names and `other`).
import { Counter, type Registry } from 'prom-client';
import { requestName } from './messages.js';

const families = new WeakMap<Registry, Counter>();

export class BoltRequestCounters {
  /** The labelled child of each signature, made on first use: one increment per message. */
  private readonly children: (Counter.Internal | undefined)[] = new Array(256);

  constructor(
    private readonly registry: Registry,
    private readonly dependency: string,
  ) {}

  count(signature: number): void {
    const sig = signature & 0xff;
    let child = this.children[sig];
    if (child === undefined) child = this.children[sig] = this.family().labels(this.dependency, requestName(sig));
    child.inc();
  }

  private family(): Counter {
    let family = families.get(this.registry);
    if (family === undefined) {
      family = new Counter({
        name: 'breakwater_bolt_requests_total',
        help: 'Bolt requests from clients by message type (HELLO, RUN, PULL, BEGIN, ...), whether Neo4j or a fallback answered them.',
        labelNames: ['dependency', 'message'],
        registers: [this.registry],
      });
      families.set(this.registry, family);
    }
    return family;
  }
}
