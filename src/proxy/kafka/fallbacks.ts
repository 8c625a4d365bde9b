// Which fallback answers a topic's produce when the cluster cannot: the first rule covering the
// topic decides (`spool` or `fail`); after the rules comes `fail`. Decisions are cached per
// topic name (topics are few; the cache is bounded anyway).
import type { KafkaFallbackRule } from '../../config/schema.js';

export type TopicFallback = 'spool' | 'fail';

const MAX_CACHED = 10_000;

export class TopicRules {
  private readonly cache = new Map<string, TopicFallback>();
  /** Some rule spools: the spool must exist. */
  readonly spools: boolean;

  constructor(private readonly rules: readonly KafkaFallbackRule[]) {
    this.spools = rules.some((r) => r.use.includes('spool'));
  }

  forTopic(topic: string): TopicFallback {
    let f = this.cache.get(topic);
    if (f !== undefined) return f;
    f = 'fail';
    for (const r of this.rules) {
      if (r.match.topics === 'any' || r.match.topics.includes(topic)) {
        f = r.use[0] === 'spool' ? 'spool' : 'fail';
        break;
      }
    }
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(topic, f);
    return f;
  }
}
