// PNG charts for the bench report: a Vega-Lite spec is compiled to Vega, rendered to SVG
// headless (renderer 'none': no canvas, no browser) and rasterized with resvg. Every chart
// function takes plain rows, writes the PNG to the given path and returns its bytes.
import fs from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

const FONT_FAMILY = 'DejaVu Sans';
const FONT_FILE = 'DejaVuSans.ttf';
const FONT_PACKAGE = 'fonts-dejavu-core';
const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', path.join(process.env.HOME ?? '/root', '.local/share/fonts'), path.join(process.env.HOME ?? '/root', '.fonts')];

let fontFile: string | undefined;

/**
 * resvg draws no text at all when it has no font (it does not fail), so a chart without
 * axis labels would pass unnoticed: look for the one font the charts name, and stop with
 * the Debian package to install when it is not there.
 */
export function chartFont(): string {
  if (fontFile) return fontFile;
  const find = (dir: string, depth: number): string | undefined => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const e of entries) if (e.isFile() && e.name === FONT_FILE) return path.join(dir, e.name);
    if (depth === 0) return undefined;
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const found = find(path.join(dir, e.name), depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  for (const dir of FONT_DIRS) {
    fontFile = find(dir, 3);
    if (fontFile) return fontFile;
  }
  throw new Error(
    `bench report: no ${FONT_FAMILY} font for the chart text (${FONT_FILE} not found under ${FONT_DIRS.join(', ')}); ` +
      `install the Debian package ${FONT_PACKAGE}: apt-get install ${FONT_PACKAGE}`,
  );
}

/**
 * Without a canvas, vega sizes text at 0.8 em per character, far wider than DejaVu Sans: titles
 * and legends then claim room they do not use and the PNG gets a wide empty margin. An estimate
 * by character class (DejaVu Sans advance widths, rounded up) sizes them within a few percent.
 */
function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) {
    if (/[ .,:;'|!iIjlft()[\]]/.test(ch)) em += 0.34;
    else if (/[-r/*"]/.test(ch)) em += 0.42;
    else if (/[mwMW%@]/.test(ch)) em += 0.98;
    else if (/[A-Z÷×≥≤+=<>~]/.test(ch)) em += 0.76;
    else em += 0.64;
  }
  return em * fontSize;
}
type TextItem = { fontSize?: number; limit?: number };
(vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics.width = (item, text) => {
  const w = textWidth(text == null ? '' : String(text).trim(), item.fontSize ?? 11);
  return item.limit && item.limit > 0 ? Math.min(w, item.limit) : w;
};

/**
 * vega-lite's warnings, less one: a reference line layered over grouped bars (xOffset) has no
 * offset, so vega-lite warns that the layers' band steps differ, and resolves it as wanted (the
 * bars' step).
 */
const BENIGN_WARNING = /^Conflicting scale property "range"/;
const base = vega.logger(vega.Warn);
const logger = {
  level(_?: number) {
    return arguments.length ? (base.level(_), this) : base.level();
  },
  error(...a: unknown[]) {
    base.error(...a);
    return this;
  },
  warn(...a: unknown[]) {
    if (!BENIGN_WARNING.test(String(a[0]))) base.warn(...a);
    return this;
  },
  info(...a: unknown[]) {
    base.info(...a);
    return this;
  },
  debug(...a: unknown[]) {
    base.debug(...a);
    return this;
  },
};

/** Vega-Lite spec -> PNG file (2x for sharp text); returns the PNG bytes. */
export async function renderChart(spec: TopLevelSpec, file: string): Promise<Buffer> {
  const font = chartFont();
  const config = { font: FONT_FAMILY, background: 'white', padding: 12, title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start' as const } };
  const view = new vega.View(vega.parse(vl.compile({ ...spec, config: { ...config, ...spec.config } } as TopLevelSpec, { logger }).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: 2 },
      font: { loadSystemFonts: false, fontFiles: [font], defaultFontFamily: FONT_FAMILY },
    })
      .render()
      .asPng();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, png);
    return png;
  } finally {
    view.finalize();
  }
}

/** One colour per target in every chart (breakwater always orange), met/missed in green/red. */
const SERIES_COLORS: Record<string, string> = {
  breakwater: '#f58518',
  direct: '#4c78a8',
  nginx: '#e45756',
  twemproxy: '#72b7b2',
  haproxy: '#54a24b',
  'tcp-pipe': '#b279a2',
  'http-proxy': '#eeca3b',
  'undici-pool': '#9d755d',
  met: '#2ca02c',
  missed: '#d62728',
};
const OTHER_COLORS = ['#4c78a8', '#72b7b2', '#54a24b', '#b279a2', '#9d755d', '#bab0ac', '#eeca3b', '#ff9da6'];

function colorScale(series: string[]): { domain: string[]; range: string[] } {
  let next = 0;
  return { domain: series, range: series.map((s) => SERIES_COLORS[s] ?? OTHER_COLORS[next++ % OTHER_COLORS.length]!) };
}

export interface Bar {
  /** the x band (a test, a scenario) */
  group: string;
  /** the bar within the band (a target: direct, breakwater, nginx...), one colour each */
  series: string;
  value: number;
}

export interface BarChartOptions {
  title: string;
  subtitle?: string;
  yTitle: string;
  bars: Bar[];
  /** a target per group, drawn as a black line across the group's band */
  references?: { group: string; value: number }[];
  /** d3 format of the value labels on the bars */
  format?: string;
  logY?: boolean;
}

/** Grouped bars (one band per group, one bar per series), with a target line per group. */
export async function barChart(file: string, o: BarChartOptions): Promise<Buffer> {
  const bars = o.bars.filter((b) => Number.isFinite(b.value) && (!o.logY || b.value > 0));
  const series = [...new Set(bars.map((b) => b.series))];
  const perGroup = Math.max(1, ...[...new Set(bars.map((b) => b.group))].map((g) => bars.filter((b) => b.group === g).length));
  // one bar per group: centre it (xOffset would leave room for the series the group lacks)
  const xOffset = perGroup > 1 ? { xOffset: { field: 'series', sort: null } } : {};
  // with xOffset the step is one bar's; a band is then perGroup bars plus vega-lite's 20% padding
  const barStep = perGroup > 1 ? 28 : 80;
  const band = perGroup > 1 ? (barStep * perGroup) / 0.8 : barStep;
  const longest = Math.max(0, ...bars.map((b) => b.group.length));
  const x = {
    field: 'group',
    type: 'nominal' as const,
    sort: null,
    title: null,
    axis: { labelAngle: longest * 7 > band ? -30 : 0, labelLimit: 400, labelFontSize: 11 },
  };
  // a log scale has no zero: bars are not stacked on one and start at the bottom of the plot
  const y = { field: 'value', type: 'quantitative' as const, title: o.yTitle, ...(o.logY ? { scale: { type: 'log' as const }, stack: null } : { scale: { zero: true } }) };
  const layers: unknown[] = [
    {
      data: { values: bars },
      mark: { type: 'bar' },
      encoding: { x, y, ...xOffset, color: { field: 'series', type: 'nominal', sort: null, title: null, legend: series.length > 1 ? { orient: 'top' } : null, scale: colorScale(series) } },
    },
    {
      data: { values: bars },
      mark: { type: 'text', dy: -6, fontSize: 10 },
      encoding: { x, y, ...xOffset, text: { field: 'value', type: 'quantitative', format: o.format ?? '.2f' } },
    },
  ];
  if (o.references?.length) {
    // a line as wide as the band: the target applies to the whole group
    layers.push({ data: { values: o.references }, mark: { type: 'tick', color: 'black', thickness: 2, size: perGroup > 1 ? barStep * perGroup : band * 0.8 }, encoding: { x, y } });
  }
  const spec = {
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) },
    width: { step: barStep, for: perGroup > 1 ? 'offset' : 'position' },
    height: 260,
    layer: layers,
  } as TopLevelSpec;
  return renderChart(spec, file);
}

export interface PercentileRow {
  target: string;
  /** 'p50', 'p90', 'p99'... drawn in the order given */
  percentile: string;
  value: number;
}

/** Latency percentiles side by side: one band per percentile, one bar per target. */
export async function percentileChart(file: string, o: { title: string; subtitle?: string; unit: string; rows: PercentileRow[] }): Promise<Buffer> {
  return barChart(file, {
    title: o.title,
    ...(o.subtitle ? { subtitle: o.subtitle } : {}),
    yTitle: `latency (${o.unit})`,
    bars: o.rows.map((r) => ({ group: r.percentile, series: r.target, value: r.value })),
    format: '.2f',
  });
}

export interface TimelinePoint {
  /** seconds */
  t: number;
  series: string;
  value: number | null;
}

export interface TimelineOptions {
  title: string;
  subtitle?: string;
  yTitle: string;
  xTitle?: string;
  points: TimelinePoint[];
  /** shaded windows (the dependency hung), in the same seconds as t */
  bands: { start: number; end: number; label: string }[];
  /** values are shares 0..1: axis in %, fixed 0-100% */
  share?: boolean;
  logY?: boolean;
}

/** One line per series over time, with shaded bands (the hang). */
export async function timelineChart(file: string, o: TimelineOptions): Promise<Buffer> {
  // a log scale cannot show 0 (no request finished in that second): leave those seconds out
  const points = o.points.filter((p) => p.value !== null && Number.isFinite(p.value) && (!o.logY || p.value > 0));
  const yScale = o.share ? { domain: [0, 1] } : o.logY ? { type: 'log' as const } : { zero: true };
  const spec = {
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) },
    width: 640,
    height: 260,
    layer: [
      {
        data: { values: o.bands },
        mark: { type: 'rect', color: '#d62728', opacity: 0.12 },
        encoding: { x: { field: 'start', type: 'quantitative' }, x2: { field: 'end' } },
      },
      {
        data: { values: o.bands },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, color: '#a01010', fontSize: 11 },
        // halfway down: lines sit at the top and bottom of a share chart
        encoding: { x: { field: 'start', type: 'quantitative' }, y: { value: 120 }, text: { field: 'label' } },
      },
      {
        data: { values: points },
        mark: { type: 'line', point: { size: 12 }, strokeWidth: 2, interpolate: 'step-after' },
        encoding: {
          x: { field: 't', type: 'quantitative', title: o.xTitle ?? 'seconds from the start of the attack' },
          y: { field: 'value', type: 'quantitative', title: o.yTitle, scale: yScale, axis: o.share ? { format: '%' } : {} },
          color: { field: 'series', type: 'nominal', sort: null, title: null, legend: { orient: 'top' }, scale: colorScale([...new Set(points.map((p) => p.series))]) },
        },
      },
    ],
  } as TopLevelSpec;
  return renderChart(spec, file);
}
