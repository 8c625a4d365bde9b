// PLACEHOLDER (being written): the Bolt listener.
import type { BoltDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { ResponseCache } from '../../store/response-cache.js';

export class BoltListener {
  constructor(
    readonly dep: Dependency,
    readonly config: BoltDependencyConfig,
    readonly cache: ResponseCache | undefined,
    readonly metrics: Metrics,
  ) {}
  async start(): Promise<void> {
    throw new Error('protocol bolt is not implemented yet');
  }
  async close(_deadline: number): Promise<void> {}
}
