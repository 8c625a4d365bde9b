// What a scenario's extraction returns, and the helpers the extractions share: reading a
// bench's own verdict strings (the targets are the bench's, never restated here) and
// formatting numbers for the tables.
import type { BarChartOptions, PercentileRow, TimelineOptions } from './charts.js';

export interface Table {
  /** a line above the table: what was measured and how */
  caption?: string;
  header: string[];
  rows: string[][];
}

/** A chart to draw into outDir/<file>; the options are those of the function in charts.ts. */
export type Chart = { file: string; alt: string } & (
  | ({ kind: 'bars' } & BarChartOptions)
  | { kind: 'percentiles'; title: string; subtitle?: string; unit: string; rows: PercentileRow[] }
  | ({ kind: 'timeline' } & TimelineOptions)
);

export interface Target {
  /** what is measured, e.g. "GET -P 1, breakwater / twemproxy" */
  what: string;
  /** the target as the bench states it, e.g. ">= 0.5x" */
  target: string;
  /** the figure, with the bench's own caveats (UNRELIABLE...) */
  measured: string;
  /** null: not measured in this run */
  met: boolean | null;
  /** the figure and the target as numbers, for the summary charts */
  compare?: { kind: 'ratio' | 'addedMs'; label: string; value: number; target: number };
}

export interface Extract {
  title: string;
  /** lines under the title: how the run was made, caveats */
  notes: string[];
  tables: Table[];
  charts: Chart[];
  targets: Target[];
}

export interface Scenario {
  /** reads <name>-latest.json */
  name: string;
  /** a missing file is not worth a line unless `npm run bench` ran it (not in its list) */
  optional?: boolean;
  extract(json: unknown): Extract;
}

/**
 * A bench verdict string: "met (0.51x)", "MISSED (1.071 ms), UNRELIABLE: ...",
 * "NOT MEASURED: 3 failed requests", or cache/spool's "MET: ... (target >= 95%)".
 */
export function parseVerdict(text: string): { met: boolean | null; measured: string } {
  const met = /^met\b/i.test(text) ? true : /^missed\b/i.test(text) ? false : null;
  const paren = /^\w+\s*\(([^)]*)\)(.*)$/.exec(text);
  const measured = paren ? (paren[1]! + paren[2]!.replace(/^,\s*/, '; ')).trim() : text.replace(/^(met|missed|not measured)\s*:?\s*/i, '');
  return { met, measured: measured.replace(/(\d)x\b/g, '$1×') }; // "0.51x" as the other ratios: "0.51×"
}

/**
 * The target whose verdict key matches `key` in a bench's `verdicts`; when the run has none
 * (that section was not run, or failed before its verdict), the target is "not measured".
 */
export function fromVerdicts(verdicts: Record<string, string> | undefined, key: RegExp, what: string, target: string): Target {
  const hit = Object.entries(verdicts ?? {}).find(([k]) => key.test(k));
  if (!hit) return { what, target, measured: '-', met: null };
  return { what, target, ...parseVerdict(hit[1]) };
}

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** 12,345 / 1.23: thousands separators, fixed digits; '-' for nothing */
export function num(x: number | null | undefined, digits = 0): string {
  return finite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-';
}

export const ms = (x: number | null | undefined, digits = 3): string => (finite(x) ? `${num(x, digits)} ms` : '-');
export const ratio = (x: number | null | undefined, digits = 2): string => (finite(x) ? `${num(x, digits)}×` : '-');
export const pct = (share: number | null | undefined, digits = 1): string => (finite(share) ? `${num(share * 100, digits)}%` : '-');
export const signedMs = (x: number | null | undefined, digits = 3): string => (finite(x) ? `${x >= 0 ? '+' : ''}${num(x, digits)} ms` : '-');

/** x / y, or undefined when either is missing or y is 0 */
export function div(x: number | null | undefined, y: number | null | undefined): number | undefined {
  return finite(x) && finite(y) && y !== 0 ? x / y : undefined;
}

/** The note for a bench's `--quick` run: short durations, few repetitions, figures that say little. */
export function quickNote(settings: { quick?: unknown } | undefined): string[] {
  return settings?.quick === true ? ['A `--quick` run (short durations, few repetitions): the figures are indicative only.'] : [];
}
