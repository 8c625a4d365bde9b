// The bench report: reads each scenario's <name>-latest.json, extracts its headline figures and
// targets (scenarios/*.ts), draws the charts (charts.ts) and writes report.md, the PNGs and
// summary.json into one directory. A missing, unreadable or failed scenario is a line in the
// report, never a reason to stop.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { memoryRows, type MemoryRow } from './memory.js';
import os from 'node:os';
import path from 'node:path';
import { barChart, percentileChart, timelineChart } from './charts.js';
import type { Chart, Extract, Scenario, Target } from './model.js';
import { SCENARIOS } from './scenarios/index.js';

/** What `npm run bench` (test/bench/all.bench.ts) ran: its run.json. */
export interface BenchRun {
  startedAt: string;
  full?: boolean;
  totalSeconds?: number;
  scenarios: { name: string; command: string; seconds: number; exitCode: number | null }[];
}

export interface ReportOptions {
  /** the scenarios to report (default: all of scenarios/index.ts) */
  scenarios?: Scenario[];
  /** the run that produced resultsDir: its scenarios are expected, and their commands and exit codes shown */
  run?: BenchRun;
  /** what the header says about the machine and the checkout (default: read from this one) */
  machine?: string;
  commit?: string;
  now?: Date;
}

/** When and where a scenario ran, from the fields the benches share. */
interface RunInfo {
  startedAt?: string;
  finishedAt?: string;
  commit?: string;
  quick: boolean;
}

interface ScenarioReport {
  name: string;
  file: string;
  status: 'ok' | 'missing' | 'unreadable' | 'failed' | 'not extracted';
  /** why it is not 'ok': the bench's error, a parse error... */
  problem?: string;
  run?: RunInfo;
  extract?: Extract;
  memory?: MemoryRow[];
}

/** Writes outDir/report.md, its PNGs and outDir/summary.json; returns the path of report.md. */
export async function buildReport(resultsDir: string, outDir: string, opts: ReportOptions = {}): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  const ran = new Map((opts.run?.scenarios ?? []).map((r) => [r.name, r]));
  const scenarios = (opts.scenarios ?? SCENARIOS)
    .map((s) => readScenario(s, resultsDir, ran.has(s.name)))
    .filter((r): r is ScenarioReport => r !== undefined);

  const charts: string[] = [];
  const draw = async (c: Chart): Promise<string> => {
    await drawChart(c, path.join(outDir, c.file));
    charts.push(c.file);
    return `![${c.alt}](${c.file})`;
  };

  const md: string[] = ['# breakwater benchmark report', ''];
  const now = opts.now ?? new Date();
  md.push(`Built ${utc(now.toISOString())} UTC from \`${shown(resultsDir)}\`, checkout at commit ${opts.commit ?? checkoutCommit()}.`, '');
  md.push(`Machine: ${opts.machine ?? machine()}.`, '');
  if (opts.run) {
    const r = opts.run;
    md.push(`\`npm run bench\` started ${utc(r.startedAt)} UTC, ${r.full ? 'every scenario at its full length' : 'every scenario in its short form'}${r.totalSeconds ? `, ${duration(r.totalSeconds)} in all` : ''}.`, '');
  }

  md.push('## Runs', '');
  md.push(
    mdTable(
      ['scenario', 'started (UTC)', 'took', 'commit', 'notes'],
      scenarios.map((s) => {
        const r = ran.get(s.name);
        const notes = [r ? `\`${r.command}\`${r.exitCode === 0 ? '' : `, exit code ${r.exitCode}`}` : '', s.run?.quick ? '`--quick` run' : '', problemLine(s)];
        return [s.name, s.run?.startedAt ? utc(s.run.startedAt) : '-', r ? duration(r.seconds) : took(s.run), s.run?.commit ?? '-', notes.filter(Boolean).join('; ')];
      }),
    ),
    '',
  );

  md.push('## Targets', '');
  const targetRows: string[][] = [];
  for (const s of scenarios) {
    if (s.status !== 'ok' && !s.extract?.targets.length) targetRows.push([s.name, `(no figures: ${s.status})`, '-', '-', 'not measured']);
    const quick = s.run?.quick && '(`--quick` run)';
    for (const t of s.extract?.targets ?? []) targetRows.push([s.name, t.what, t.target, t.met !== null && quick ? `${t.measured} ${quick}` : t.measured, verdict(t)]);
  }
  md.push(mdTable(['scenario', 'what', 'target', 'measured', 'result'], targetRows), '');
  const untargeted = scenarios.filter((s) => s.status === 'ok' && s.extract && !s.extract.targets.length).map((s) => s.name);
  if (untargeted.length) md.push(`No target stated by: ${untargeted.join(', ')}.`, '');
  const all = scenarios.flatMap((s) => s.extract?.targets ?? []);
  for (const c of summaryCharts(all)) md.push(await draw(c), '');

  const memory = scenarios.flatMap((s) => s.memory ?? []);
  if (memory.length) {
    md.push('## Memory', '', "breakwater's resident set (VmRSS) as each scenario measured it, and the peak (VmHWM) where it did.", '');
    md.push(mdTable(['scenario', 'moment', 'RSS MiB', 'peak MiB'], memory.map((m) => [m.scenario, m.moment, m.rssMiB.toFixed(1), m.peakMiB === undefined ? '-' : m.peakMiB.toFixed(1)])), '');
  }

  for (const s of scenarios) {
    md.push(`## ${s.extract?.title ?? `\`${s.name}\``}`, '');
    md.push(`Results: \`${shown(s.file)}\`${s.run?.startedAt ? `, ran ${utc(s.run.startedAt)} UTC${s.run.commit ? ` at commit ${s.run.commit}` : ''}` : ''}.`, '');
    if (s.status !== 'ok') md.push(`**${problemLine(s)}**`, '');
    const e = s.extract;
    if (!e) continue;
    for (const n of e.notes) md.push(n, '');
    for (const t of e.tables) {
      if (t.caption) md.push(t.caption, '');
      md.push(mdTable(t.header, t.rows), '');
    }
    for (const c of e.charts) md.push(await draw(c), '');
  }

  const report = path.join(outDir, 'report.md');
  fs.writeFileSync(report, md.join('\n'));
  const summary = path.join(outDir, 'summary.json');
  const figures = scenarios.map((s) => ({
    name: s.name,
    file: s.file,
    status: s.status,
    ...(s.problem ? { problem: s.problem } : {}),
    ...(s.run ? { run: s.run } : {}),
    ...(s.extract ? { title: s.extract.title, notes: s.extract.notes, targets: s.extract.targets, tables: s.extract.tables, charts: s.extract.charts.map((c) => c.file) } : {}),
  }));
  fs.writeFileSync(summary, JSON.stringify({ builtAt: now.toISOString(), resultsDir, ...(opts.run ? { run: opts.run } : {}), charts, scenarios: figures }, null, 2) + '\n');
  return report;
}

/** Reads and extracts one scenario; undefined when an optional one that was not run has no file. */
function readScenario(s: Scenario, resultsDir: string, wasRun: boolean): ScenarioReport | undefined {
  const file = path.join(resultsDir, `${s.name}-latest.json`);
  if (!fs.existsSync(file)) return s.optional && !wasRun ? undefined : { name: s.name, file, status: 'missing', problem: `${path.basename(file)} not found` };
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    return { name: s.name, file, status: 'unreadable', problem: `${path.basename(file)} is not JSON: ${(err as Error).message}` };
  }
  const run = runInfo(json);
  // a failed bench keeps what it measured before the failure: report that as well
  const failed = typeof json.error === 'string' ? { status: 'failed' as const, problem: `the bench failed: ${json.error.split('\n')[0]}` } : undefined;
  try {
    return { name: s.name, file, run, status: 'ok', ...failed, extract: s.extract(json), memory: memoryRows(s.name, json) };
  } catch (err) {
    return { name: s.name, file, run, ...(failed ?? { status: 'not extracted' as const, problem: `could not read its figures: ${(err as Error).message}` }) };
  }
}

function runInfo(json: Record<string, unknown>): RunInfo {
  const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
  const host = (json.host ?? {}) as Record<string, unknown>;
  const settings = (json.settings ?? {}) as Record<string, unknown>;
  return { startedAt: str(json.startedAt), finishedAt: str(json.finishedAt) || undefined, commit: str(host.commit) ?? str(json.commit), quick: settings.quick === true };
}

async function drawChart(c: Chart, file: string): Promise<void> {
  switch (c.kind) {
    case 'bars':
      await barChart(file, c);
      return;
    case 'percentiles':
      await percentileChart(file, c);
      return;
    case 'timeline':
      await timelineChart(file, c);
      return;
  }
}

/** Every target with numbers, measured against its target: one chart for ratios, one for added latency. */
function summaryCharts(targets: Target[]): Chart[] {
  const of = (kind: 'ratio' | 'addedMs'): Target[] => targets.filter((t) => t.compare?.kind === kind);
  const bars = (list: Target[]): { group: string; series: string; value: number }[] => list.map((t) => ({ group: t.compare!.label, series: t.met ? 'met' : 'missed', value: t.compare!.value }));
  const refs = (list: Target[]): { group: string; value: number }[] => list.map((t) => ({ group: t.compare!.label, value: t.compare!.target }));
  const out: Chart[] = [];
  const ratios = of('ratio');
  if (ratios.length)
    out.push({ kind: 'bars', file: 'targets-throughput.png', alt: 'throughput ratios against their targets', title: 'Throughput targets: breakwater against its baseline', subtitle: 'black line: the target (at least); the baseline is in the label', yTitle: 'ratio', bars: bars(ratios), references: refs(ratios) });
  const added = of('addedMs');
  if (added.length)
    out.push({ kind: 'bars', file: 'targets-latency.png', alt: 'added p99 latency against the targets', title: 'Latency targets: p99 added by breakwater at a fixed rate', subtitle: 'black line: the target (at most)', yTitle: 'added p99 (ms)', bars: bars(added), references: refs(added), format: '.2f' });
  return out;
}

function verdict(t: Target): string {
  return t.met === null ? 'not measured' : t.met ? 'met' : '**missed**';
}

function problemLine(s: ScenarioReport): string {
  switch (s.status) {
    case 'ok':
      return '';
    case 'missing':
      return `No results: ${s.problem}.`;
    default:
      return `${s.problem}`;
  }
}

function mdTable(header: string[], rows: string[][]): string {
  const cell = (c: string): string => c.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}

/** A path as the reader can use it: relative inside the working directory, absolute outside. */
function shown(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') ? p : r;
}

/** "2026-11-27 03:07" */
function utc(iso: string): string {
  return iso.replace('T', ' ').slice(0, 16);
}

function took(run: RunInfo | undefined): string {
  if (!run?.startedAt || !run.finishedAt) return '-';
  return duration((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000);
}

function duration(seconds: number): string {
  return Number.isFinite(seconds) ? (seconds >= 90 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`) : '-';
}

function machine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let cores = os.cpus().length;
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? cpu;
    cores = (info.match(/^processor\s*:/gm) ?? []).length || cores;
  } catch {
    // not Linux: os.cpus() it is
  }
  return `${cpu}, ${cores} cores, ${Math.round((os.totalmem() / 2 ** 30) * 10) / 10} GiB, Linux ${os.release()}, Node ${process.version}`;
}

function checkoutCommit(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain') ? ' (with uncommitted changes)' : '');
  } catch {
    return 'unknown (not a git checkout)';
  }
}
