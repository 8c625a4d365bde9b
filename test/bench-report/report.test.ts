// The bench report (test/bench/report) built from small fixtures shaped like each bench's JSON:
// the targets table says met / missed / not measured as the benches' own verdicts do, every
// chart is a real PNG, and missing, unreadable or failed results are lines, not crashes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { buildReport } from '../bench/report/report.js';
import { parseVerdict } from '../bench/report/model.js';

// dist/test/bench-report/report.test.js -> the sources' fixtures (JSON is not compiled)
const FIXTURES = fileURLToPath(new URL('../../../test/bench-report/fixtures/', import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const fixed = { machine: 'test machine, 2 cores', commit: 'abc1234', now: new Date('2026-11-27T15:00:00Z') };

function tmp(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The rows of the "## Targets" table: [scenario, what, target, measured, result]. */
function targetRows(md: string): string[][] {
  const section = md.slice(md.indexOf('## Targets'), md.indexOf('\n## ', md.indexOf('## Targets') + 1));
  return section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| scenario') && !l.startsWith('| ---'))
    .map((l) => l.slice(2, -2).split(' | '));
}

function resultOf(rows: string[][], scenario: string, what: RegExp): string | undefined {
  return rows.find((r) => r[0] === scenario && what.test(r[1]!))?.[4];
}

t.test('parseVerdict reads the benches’ verdict strings', async (t) => {
  t.same(parseVerdict('met (0.51x)'), { met: true, measured: '0.51×' });
  t.same(parseVerdict('MISSED (0.8x), UNRELIABLE: other work took up to 12% of the CPUs'), { met: false, measured: '0.8×; UNRELIABLE: other work took up to 12% of the CPUs' });
  t.same(parseVerdict('NOT MEASURED: 3 failed or lost requests'), { met: null, measured: '3 failed or lost requests' });
  t.equal(parseVerdict('MET: 97821 records/s appended durably (target >= 50000)').met, true);
});

t.test('a report from every fixture', async (t) => {
  const out = tmp(t);
  const report = await buildReport(FIXTURES, out, fixed);
  t.equal(report, path.join(out, 'report.md'));
  const md = fs.readFileSync(report, 'utf8');

  t.match(md, /^# breakwater benchmark report/);
  t.match(md, /Machine: test machine, 2 cores\./);
  t.match(md, /\| http \| 2026-11-27 10:00 \| 5 min \| abc1234 \|/, 'when each scenario ran');
  t.match(md, /## Memory[\s\S]*\| http \| breakwater-clickhouse idle \| 70\.1 \| 70\.4 \|[\s\S]*\| cdc \| CDC consumer while writing \| 273\.1 \| - \|/, 'one memory table across the scenarios');

  const rows = targetRows(md);
  const expect: [string, RegExp, string][] = [
    ['http', /added p99/, 'met'],
    ['http', /nginx/, '**missed**'],
    ['http', /idle RSS/, 'met'],
    ['redis', /^GET -P 1,/, 'met'],
    ['redis', /^SET -P 1,/, '**missed**'],
    ['redis', /^GET -P 16,/, '**missed**'],
    ['redis', /^SET -P 16,/, 'not measured'], // no verdict: that test was not in the run
    ['redis', /added p99/, 'not measured'], // the bench's NOT MEASURED
    ['kafka', /produce 100 B/, 'met'],
    ['kafka', /consume 1 KiB/, '**missed**'],
    ['kafka', /added p99/, 'met'],
    ['neo4j', /lean client/, 'not measured'], // --only latency
    ['neo4j', /added p99/, 'met'],
    ['cdc', /events\/s/, '**missed**'],
    ['spool', /records\/s/, 'met'],
    ['cache', /reads stored/, 'not measured'], // the bench failed
  ];
  for (const [scenario, what, result] of expect) t.equal(resultOf(rows, scenario, what), result, `${scenario} ${what}: ${result}`);
  t.match(rows.find((r) => r[0] === 'redis' && r[1]!.startsWith('GET -P 16'))?.[3], /UNRELIABLE/, "the bench's caveat is kept");
  t.match(rows.find((r) => r[0] === 'http' && /added p99/.test(r[1]!)), ['http', /./, '≤ 1 ms', '0.42 ms', 'met']);

  t.match(md, /the bench failed: Error: wrk exited with code 1/, 'a failed scenario says so');
  t.notMatch(md, /kafka-relay|cdc-pipeline|breaker-latest/, 'optional scenarios without a file are left out');
  t.match(md, /## A hung ClickHouse/);
  t.match(md, /states no targets/, 'resilience: no verdicts, said so');

  const images = [...md.matchAll(/!\[[^\]]*\]\(([^)]+\.png)\)/g)].map((m) => m[1]!);
  t.same(
    [...images].sort(),
    ['cdc-events.png', 'http-latency.png', 'http-throughput.png', 'kafka-latency.png', 'kafka-throughput.png', 'neo4j-latency.png', 'redis-latency.png', 'redis-throughput.png', 'resilience-p99.png', 'resilience-within.png', 'spool-records.png', 'targets-latency.png', 'targets-throughput.png'],
    'every chart is embedded',
  );
  for (const file of images) {
    const png = fs.readFileSync(path.join(out, file));
    t.same(png.subarray(0, 8), PNG_SIGNATURE, `${file} is a PNG`);
    t.ok(png.length > 5 * 1024, `${file} is ${png.length} bytes (> 5 KB)`);
  }

  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { scenarios: { name: string; status: string; targets?: { met: boolean | null }[] }[] };
  t.same(
    summary.scenarios.map((s) => [s.name, s.status]),
    [['resilience', 'ok'], ['http', 'ok'], ['redis', 'ok'], ['kafka', 'ok'], ['neo4j', 'ok'], ['cdc', 'ok'], ['spool', 'ok'], ['cache', 'failed']],
  );
  t.same(summary.scenarios.find((s) => s.name === 'cdc')?.targets?.map((x) => x.met), [false]);
});

t.test('missing, unreadable and odd results are lines, not crashes', async (t) => {
  const results = tmp(t);
  const out = tmp(t);
  for (const name of ['http', 'resilience']) fs.copyFileSync(path.join(FIXTURES, `${name}-latest.json`), path.join(results, `${name}-latest.json`));
  fs.writeFileSync(path.join(results, 'kafka-latest.json'), '{"startedAt": "2026-11-27T1');
  fs.writeFileSync(path.join(results, 'spool-latest.json'), JSON.stringify({ startedAt: '2026-11-27T12:00:00Z', error: 'the scenario wrote no result (exit code 1)' }));
  fs.writeFileSync(path.join(results, 'cdc-latest.json'), JSON.stringify({ scenarios: 'not a list' }));
  // a resilience run that states its verdicts
  const r = JSON.parse(fs.readFileSync(path.join(results, 'resilience-latest.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(results, 'resilience-latest.json'), JSON.stringify({ ...r, verdicts: { 'breakwater: 2xx within 100 ms during the hang >= 99%': 'MISSED (98.9%)' } }));
  const run = { startedAt: '2026-11-27T13:00:00Z', totalSeconds: 600, scenarios: [{ name: 'breaker', command: 'node dist/test/bench/breaker.bench.js 1', seconds: 3, exitCode: 1 }] };

  const md = fs.readFileSync(await buildReport(results, out, { ...fixed, run }), 'utf8');
  t.match(md, /No results: redis-latest\.json not found/);
  t.match(md, /No results: neo4j-latest\.json not found/);
  t.match(md, /No results: breaker-latest\.json not found/, 'an optional scenario the run ran is expected');
  t.match(md, /`node dist\/test\/bench\/breaker\.bench\.js 1`, exit code 1/);
  t.match(md, /kafka-latest\.json is not JSON/);
  t.match(md, /the bench failed: the scenario wrote no result \(exit code 1\)/);
  t.match(md, /could not read its figures/, 'an extraction that throws');
  const rows = targetRows(md);
  t.equal(resultOf(rows, 'redis', /no figures/), 'not measured');
  t.equal(resultOf(rows, 'spool', /records\/s/), 'not measured');
  t.equal(resultOf(rows, 'resilience', /within 100 ms/), '**missed**');
  t.equal(resultOf(rows, 'http', /added p99/), 'met');
  t.ok(fs.existsSync(path.join(out, 'resilience-within.png')));
});

t.test('an empty results directory gives a report with nothing measured', async (t) => {
  const out = tmp(t);
  const md = fs.readFileSync(await buildReport(tmp(t), out, fixed), 'utf8');
  const rows = targetRows(md);
  t.equal(rows.length, 7, 'one line per expected scenario');
  t.ok(rows.every((r) => r[4] === 'not measured'));
  t.same(
    fs.readdirSync(out).filter((f) => f.endsWith('.png')),
    [],
  );
});
