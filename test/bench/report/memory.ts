// breakwater's memory as each scenario measured it, for one table across the run: the benches
// keep it in different shapes (an `rss` map of moments; CDC per consumer; resilience per target).
interface Moment {
  rssMiB: number;
  hwmMiB?: number;
}

export interface MemoryRow {
  scenario: string;
  moment: string;
  rssMiB: number;
  peakMiB?: number;
}

/** The breakwater RSS figures in one scenario's JSON (none when it measured none). */
export function memoryRows(scenario: string, json: Record<string, unknown>): MemoryRow[] {
  const rows: MemoryRow[] = [];
  const rss = json.rss as Record<string, Moment> | undefined;
  if (rss && typeof rss === 'object') {
    for (const [moment, m] of Object.entries(rss)) if (typeof m?.rssMiB === 'number') rows.push({ scenario, moment, rssMiB: m.rssMiB, ...(m.hwmMiB !== undefined ? { peakMiB: m.hwmMiB } : {}) });
  }
  const cdc = json.scenarios as Array<{ name: string; rssMiB?: number; rssPeakMiB?: number }> | undefined;
  if (Array.isArray(cdc)) {
    for (const c of cdc) if (c.name === 'breakwater' && typeof c.rssMiB === 'number') rows.push({ scenario, moment: 'CDC consumer while writing', rssMiB: c.rssMiB, ...(c.rssPeakMiB !== undefined ? { peakMiB: c.rssPeakMiB } : {}) });
  }
  const targets = json.targets as Array<{ target: string; rssMiB?: { idle: number; peak: number } }> | undefined;
  if (Array.isArray(targets)) {
    for (const t of targets) if (t.rssMiB) rows.push({ scenario, moment: `${t.target}: before the hang / peak`, rssMiB: t.rssMiB.idle, peakMiB: t.rssMiB.peak });
  }
  return rows;
}
