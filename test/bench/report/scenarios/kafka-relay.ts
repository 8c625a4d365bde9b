// bench:kafka-relay (test/bench/kafka-relay.bench.ts): 1 KiB consume direct, through a bare Node
// pipe and through breakwater: the floor for any Node relay. It states no target.
import { median } from '../../support/report.js';
import { type Extract, type Scenario, div, num, ratio } from '../model.js';

/** The fields of kafka-relay.bench.ts's results read here: msg/s per round and path. */
interface RelayResults {
  runs?: Record<string, number[]>;
}

function extract(json: unknown): Extract {
  const runs = Object.entries((json as RelayResults).runs ?? {});
  const med = Object.fromEntries(runs.map(([path, xs]) => [path, median(xs)]));
  return {
    title: 'Kafka relay floor, 1 KiB consume (`bench:kafka-relay`)',
    notes: [],
    tables: runs.length
      ? [
          {
            caption: 'kafkajs consuming 50,000 × 1 KiB with a fresh group per round; medians',
            header: ['path', 'median msg/s', '× direct', '× pipe', 'rounds'],
            rows: runs.map(([path, xs]) => [path, num(med[path]), ratio(div(med[path], med['direct'])), ratio(div(med[path], med['pipe'])), xs.map((x) => num(x)).join(', ')]),
          },
        ]
      : [],
    charts: [],
    targets: [],
  };
}

export const kafkaRelay: Scenario = { name: 'kafka-relay', optional: true, extract };
