import { execFileSync } from 'node:child_process';
// Where a benchmark run is kept: test/bench/results/<name>-<start time>.{json,txt} (gitignored),
// plus <name>-latest.json.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './sidecar.js';

export const RESULTS_DIR = path.join(ROOT, 'test/bench/results');

/** The path of this run's file with the given extension (the start time names the run). */
export function resultFile(name: string, startedAt: string, ext: string): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  return path.join(RESULTS_DIR, `${name}-${startedAt.replace(/[:.]/g, '-')}.${ext}`);
}

/** Writes the JSON and text results of a run, prints the text, and returns the JSON file. */
export function saveResults(name: string, results: { startedAt: string }, text: string): string {
  const jsonFile = resultFile(name, results.startedAt, 'json');
  fs.writeFileSync(jsonFile, JSON.stringify(results, null, 2) + '\n');
  fs.copyFileSync(jsonFile, path.join(RESULTS_DIR, `${name}-latest.json`));
  fs.writeFileSync(resultFile(name, results.startedAt, 'txt'), text + '\n');
  process.stdout.write(`\n${text}\n\nresults: ${path.relative(ROOT, jsonFile)} (and ${name}-latest.json)\n`);
  return jsonFile;
}

/** The commit a bench ran on, marked when the tree had uncommitted changes; 'unknown' outside a checkout. */
export function benchCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown'; // not a checkout
  }
}

/** Runs a bench's main(); a failure is kept in results.error (the report says so) and gives exit code 1. */
export async function runMain(main: () => Promise<void>, results: { error?: string }): Promise<number> {
  try {
    await main();
    return 0;
  } catch (err) {
    results.error = (err as Error).stack ?? String(err);
    process.stderr.write(`\nbench failed: ${results.error}\n`);
    return 1;
  }
}
