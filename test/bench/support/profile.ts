// Summarizes a V8 .cpuprofile (node --cpu-prof): self and total time per function, grouped by
// where the code lives (breakwater's own code, undici, node internals, GC...), with breakwater's
// compiled positions mapped back to src/*.ts through the source maps tsc writes.
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export type Area = 'breakwater' | 'undici' | 'llhttp-wasm' | 'node_modules' | 'node' | 'native' | 'gc' | 'program' | 'idle' | 'other';

export interface FunctionTime {
  function: string;
  /** src/…ts:line for breakwater's code, otherwise the script and line as V8 saw them */
  where: string;
  area: Area;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  samples: number;
  /** true when only the samples inside the given time window were counted */
  windowed: boolean;
  /** share of all sampled time per area (self time) */
  areas: Record<Area, number>;
  /** the busiest functions by self time, all areas */
  topSelf: FunctionTime[];
  /** breakwater's own functions by self time */
  breakwaterSelf: FunctionTime[];
  /** breakwater's own functions by total (inclusive) time */
  breakwaterTotal: FunctionTime[];
  /** share of the samples whose stack contains a frame of each stage (stages may nest) */
  stages: { stage: string; pct: number }[];
}

/** A stage of the request path, found by a frame's function name (and script, when given). */
export interface Stage {
  stage: string;
  functionName: string;
  urlIncludes?: string;
  /** count only samples where this frame is the leaf (self time) */
  selfOnly?: boolean;
}

function areaOf(cf: CallFrame): Area {
  const u = cf.url;
  if (u === '') {
    if (cf.functionName === '(garbage collector)') return 'gc';
    if (cf.functionName === '(program)') return 'program';
    if (cf.functionName === '(idle)') return 'idle';
    return 'native'; // C++ builtins and bindings (writev, writeLatin1String...)
  }
  if (u.startsWith('wasm://')) return 'llhttp-wasm'; // undici's HTTP parser
  if (u.includes('/node_modules/undici/')) return 'undici';
  if (u.includes('/node_modules/')) return 'node_modules';
  if (u.startsWith('node:')) return 'node';
  if (u.includes('/dist/src/')) return 'breakwater';
  return 'other';
}

const maps = new Map<string, SourceMap | null>();
function sourceMapFor(url: string): SourceMap | null {
  if (maps.has(url)) return maps.get(url)!;
  let map: SourceMap | null = null;
  try {
    const file = url.startsWith('file://') ? fileURLToPath(url) : url;
    map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    map = null;
  }
  maps.set(url, map);
  return map;
}

function whereOf(cf: CallFrame, area: Area, root: string): string {
  if (cf.url === '') return '';
  if (area === 'breakwater') {
    const map = sourceMapFor(cf.url);
    const entry = map?.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
      const src = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource;
      const abs = path.isAbsolute(src) ? src : path.resolve(path.dirname(fileURLToPath(cf.url)), src);
      return `${path.relative(root, abs)}:${entry.originalLine + 1}`;
    }
  }
  let u = cf.url;
  if (u.startsWith('file://')) u = path.relative(root, fileURLToPath(u));
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length);
  return `${u}:${cf.lineNumber + 1}`;
}

/**
 * `window`: [start, end] in microseconds of the monotonic clock (process.hrtime.bigint() / 1000n
 * in any process on this machine; V8 stamps profiles with the same clock): only samples taken
 * inside it count, so start-up and shutdown do not dilute the picture.
 */
export function summarizeProfile(file: string, opts: { root: string; top?: number; window?: [number, number]; stages?: Stage[] }): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const top = opts.top ?? 15;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const stages = opts.stages ?? [];
  const stageUs = stages.map(() => 0);
  const stageOf = new Map<number, number[]>(); // node id -> indexes of the stages it matches
  for (const n of profile.nodes) {
    const hits: number[] = [];
    stages.forEach((st, i) => {
      if (n.callFrame.functionName === st.functionName && (st.urlIncludes === undefined || n.callFrame.url.includes(st.urlIncludes))) hits.push(i);
    });
    if (hits.length) stageOf.set(n.id, hits);
  }
  const keyOf = new Map<number, string>();
  const info = new Map<string, { function: string; where: string; area: Area; self: number; total: number }>();
  for (const n of profile.nodes) {
    const cf = n.callFrame;
    const area = areaOf(cf);
    const where = whereOf(cf, area, opts.root);
    const fn = cf.functionName || '(anonymous)';
    const key = `${fn}@${where}`;
    keyOf.set(n.id, key);
    if (!info.has(key)) info.set(key, { function: fn, where, area, self: 0, total: 0 });
  }
  // timeDeltas[i] is the time between sample i-1 and sample i: attribute it to sample i.
  let totalUs = 0;
  let counted = 0;
  let windowed = opts.window !== undefined;
  const inWindow = (ts: number): boolean => !windowed || (ts >= opts.window![0] && ts <= opts.window![1]);
  if (windowed) {
    // a window that misses the profile entirely means the clocks differ: count everything
    let ts = profile.startTime;
    let any = false;
    for (const d of profile.timeDeltas) if (inWindow((ts += d))) any = true;
    if (!any) windowed = false;
  }
  let ts = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    ts += profile.timeDeltas[i] ?? 0;
    if (!inWindow(ts)) continue;
    counted++;
    totalUs += dt;
    let id: number | undefined = profile.samples[i]!;
    info.get(keyOf.get(id)!)!.self += dt;
    const seen = new Set<string>();
    const seenStage = new Set<number>();
    for (const si of stageOf.get(id) ?? []) if (stages[si]!.selfOnly) seenStage.add(si);
    for (let sid: number | undefined = id; sid !== undefined; sid = parent.get(sid)) {
      for (const si of stageOf.get(sid) ?? []) if (!stages[si]!.selfOnly) seenStage.add(si);
    }
    for (const si of seenStage) stageUs[si]! += dt;
    while (id !== undefined) {
      const k = keyOf.get(id)!;
      if (!seen.has(k)) {
        seen.add(k);
        info.get(k)!.total += dt;
      }
      id = parent.get(id);
    }
  }
  const areas: Record<Area, number> = { breakwater: 0, undici: 0, 'llhttp-wasm': 0, node_modules: 0, node: 0, native: 0, gc: 0, program: 0, idle: 0, other: 0 };
  for (const f of info.values()) areas[f.area] += f.self;
  for (const a of Object.keys(areas) as Area[]) areas[a] = pct(areas[a], totalUs);
  const rows = [...info.values()].map(
    (f): FunctionTime => ({
      function: f.function,
      where: f.where,
      area: f.area,
      selfMs: Math.round(f.self / 100) / 10,
      selfPct: pct(f.self, totalUs),
      totalMs: Math.round(f.total / 100) / 10,
      totalPct: pct(f.total, totalUs),
    }),
  );
  const bySelf = [...rows].sort((a, b) => b.selfMs - a.selfMs);
  const ours = rows.filter((r) => r.area === 'breakwater');
  return {
    file,
    durationMs: Math.round(totalUs / 1000),
    samples: counted,
    windowed,
    areas,
    topSelf: bySelf.filter((r) => r.area !== 'idle').slice(0, top),
    breakwaterSelf: [...ours].sort((a, b) => b.selfMs - a.selfMs).slice(0, top),
    breakwaterTotal: [...ours].sort((a, b) => b.totalMs - a.totalMs).slice(0, top),
    stages: stages.map((st, i) => ({ stage: st.stage, pct: pct(stageUs[i]!, totalUs) })),
  };
}

function pct(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}
