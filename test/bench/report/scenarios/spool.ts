// bench:spool (test/bench/spool.bench.ts): durable spool appends with fsync batching. Target:
// settings.targetRecordsPerSec on its first case, judged in its `verdict`.
import { type Extract, type Scenario, num, ms, parseVerdict } from '../model.js';

interface Case {
  name: string;
  recordsPerSec: number;
  appendsPerFsync: number;
  latencyMs: { p50: number; p99: number };
}
/** The fields of spool.bench.ts's results read here. */
interface SpoolResults {
  settings?: { targetRecordsPerSec?: number };
  cases?: Case[];
  verdict?: string;
}

function extract(json: unknown): Extract {
  const r = json as SpoolResults;
  const cases = r.cases ?? [];
  const want = r.settings?.targetRecordsPerSec;
  const first = cases[0];
  return {
    title: 'Durable spool (`bench:spool`)',
    notes: [],
    tables: cases.length
      ? [{ caption: 'Appends fsynced before they are acknowledged', header: ['case', 'records/s', 'appends per fsync', 'p50', 'p99'], rows: cases.map((c) => [c.name, num(c.recordsPerSec), num(c.appendsPerFsync, 1), ms(c.latencyMs.p50), ms(c.latencyMs.p99)]) }]
      : [],
    charts: cases.length
      ? [
          {
            kind: 'bars',
            file: 'spool-records.png',
            alt: 'bench:spool records per second by case',
            title: 'Spool: records/s appended durably',
            subtitle: want !== undefined ? `black line: the target, >= ${num(want)} records/s (first case)` : undefined,
            yTitle: 'records/s (log scale)',
            logY: true,
            format: ',.0f',
            bars: cases.map((c) => ({ group: c.name, series: 'records/s', value: c.recordsPerSec })),
            references: want !== undefined && first ? [{ group: first.name, value: want }] : [],
          },
        ]
      : [],
    targets: [
      {
        what: first ? `records/s appended durably, ${first.name}` : 'records/s appended durably',
        target: want !== undefined ? `≥ ${num(want)}/s` : '-',
        measured: first ? `${num(first.recordsPerSec)}/s` : '-',
        met: r.verdict ? parseVerdict(r.verdict).met : null,
      },
    ],
  };
}

export const spool: Scenario = { name: 'spool', extract };
