// node dist/test/bench/report/main.js [--results DIR] [--out DIR]
// Builds report.md, its PNG charts and summary.json from the <name>-latest.json files of the
// benches, and prints the path of report.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildReport } from './report.js';

// dist/test/bench/report/main.js -> the repository
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

const { values } = parseArgs({
  options: {
    results: { type: 'string', default: path.join(ROOT, 'test/bench/results') },
    out: { type: 'string' },
  },
});
const resultsDir = path.resolve(values.results!);
const outDir = path.resolve(values.out ?? path.join(resultsDir, 'report'));

try {
  const report = await buildReport(resultsDir, outDir);
  process.stdout.write(`${report}\n`);
} catch (err) {
  const message = (err as Error).message;
  process.stderr.write(`${message.startsWith('bench report') ? '' : 'bench report: '}${message}\n`);
  process.exit(1);
}
