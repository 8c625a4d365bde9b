// bench:cdc (test/bench/cdc.bench.ts): sustained change events/s of the CDC consumer into
// ClickHouse, against one row per INSERT and ClickHouse's Kafka engine. Target: its `target`.
import { type Extract, type Scenario, type Target, num, ratio } from '../model.js';

interface Scenario_ {
  name: string;
  events: number;
  seconds: number;
  eventsPerSec: number;
  vsOneRow?: number;
  cpuPct?: number;
  rssMiB?: number;
  error?: string;
}
/** The fields of cdc.bench.ts's `Results` read here. */
interface CdcResults {
  settings?: { events?: number };
  target?: { eventsPerSec: number; met?: boolean };
  scenarios?: Scenario_[];
}

function extract(json: unknown): Extract {
  const r = json as CdcResults;
  const list = r.scenarios ?? [];
  const want = r.target?.eventsPerSec;
  const bw = list.find((s) => s.name === 'breakwater');
  const target: Target = {
    what: 'events/s, breakwater, schemas disabled',
    target: want !== undefined ? `≥ ${num(want)}/s` : '-',
    measured: bw ? `${num(bw.eventsPerSec)}/s` : '-',
    met: r.target?.met ?? null,
  };
  return {
    title: 'CDC consumer, Kafka → ClickHouse (`bench:cdc`)',
    notes: [],
    tables: list.length
      ? [
          {
            caption: `${num(r.settings?.events)} Debezium change events pre-loaded, then drained into ClickHouse`,
            header: ['consumer', 'events', 'seconds', 'events/s', '× one row per INSERT', 'CPU % of a core', 'RSS'],
            rows: list.map((s) => [s.name, num(s.events), num(s.seconds, 2), s.error ? `error: ${s.error}` : num(s.eventsPerSec), ratio(s.vsOneRow, 1), num(s.cpuPct), s.rssMiB ? `${num(s.rssMiB, 1)} MiB` : '-']),
          },
        ]
      : [],
    charts: list.some((s) => !s.error)
      ? [
          {
            kind: 'bars',
            file: 'cdc-events.png',
            alt: 'bench:cdc events per second by consumer',
            title: 'CDC: change events/s into ClickHouse',
            subtitle: want !== undefined ? `black line: the target for breakwater, >= ${num(want)} events/s` : undefined,
            yTitle: 'events/s (log scale)',
            logY: true,
            format: ',.0f',
            bars: list.filter((s) => !s.error && s.eventsPerSec > 0).map((s) => ({ group: s.name, series: 'events/s', value: s.eventsPerSec })),
            references: want !== undefined && bw ? [{ group: 'breakwater', value: want }] : [],
          },
        ]
      : [],
    targets: [target],
  };
}

export const cdc: Scenario = { name: 'cdc', extract };
