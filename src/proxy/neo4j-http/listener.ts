// PLACEHOLDER (being written): the Neo4j HTTP API listener.
import type { Neo4jHttpDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { ResponseCache } from '../../store/response-cache.js';

export class Neo4jHttpListener {
  constructor(
    readonly dep: Dependency,
    readonly config: Neo4jHttpDependencyConfig,
    readonly cache?: { store: ResponseCache; maxEntryBytes: number },
  ) {}
  async start(): Promise<void> {
    throw new Error('protocol neo4j-http is not implemented yet');
  }
  async close(_deadline: number): Promise<void> {}
}
