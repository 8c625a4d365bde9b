// The chart tests' tools (helm, kubeconform, pss-check, promtool) and rendering the example chart.
// tools-install.sh puts the Go tools and the schemas in a cache outside the repository;
// promtool comes from Debian's prometheus package (test/run.sh installs it).
import { existsSync, rmSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runTool, type RunToolResult } from '../services/run-tool.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHARTS = path.join(ROOT, 'charts');
export const EXAMPLE_APP = path.join(CHARTS, 'example-app');
/** Keep in step with tools-install.sh. */
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';

export const TOOLS_DIR =
  process.env.BREAKWATER_K8S_TOOLS || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'breakwater', 'k8s-tools');

const HOW = 'run: bash test/charts/tools-install.sh (npm test does)';

/** The path of a tool from tools-install.sh; throws saying how to get it. */
export function tool(name: 'helm' | 'kubeconform' | 'pss-check'): string {
  const p = path.join(TOOLS_DIR, 'bin', name);
  if (!existsSync(p)) throw new Error(`${name} is missing (${p}): ${HOW}`);
  return p;
}

/** promtool, from Debian's prometheus package. */
export function promtool(): string {
  for (const p of ['/usr/bin/promtool', '/usr/local/bin/promtool']) if (existsSync(p)) return p;
  throw new Error('promtool is missing: apt-get install prometheus (npm test installs it)');
}

export function schemaDir(): string {
  const p = path.join(TOOLS_DIR, 'schemas');
  if (!existsSync(p)) throw new Error(`the Kubernetes JSON schemas are missing (${p}): ${HOW}`);
  return p;
}

export function crdDir(): string {
  const p = path.join(TOOLS_DIR, 'crds', PROMETHEUS_OPERATOR_VERSION);
  if (!existsSync(p)) throw new Error(`the Prometheus Operator CRDs are missing (${p}): ${HOW}`);
  return p;
}

export function run(bin: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunToolResult> {
  return runTool(path.basename(bin), bin, args, args, {
    timeoutMs: opts.timeoutMs ?? 120_000,
    stderrTailLines: 30,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

/** Runs the cached helm. */
export async function helm(args: string[]): Promise<RunToolResult> {
  return run(tool('helm'), args);
}

let prepared: Promise<string> | undefined;
/**
 * A private copy of charts/ with the example chart's dependency built (`helm dependency build`
 * packs the library into its charts/ folder): test files run in parallel and must not race on
 * the checkout. Returns the copy's example-app folder.
 */
export function preparedExampleApp(): Promise<string> {
  prepared ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'breakwater-charts-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await cp(CHARTS, dir, { recursive: true, filter: (src) => !src.startsWith(path.join(EXAMPLE_APP, 'charts')) });
    const app = path.join(dir, 'example-app');
    const r = await helm(['dependency', 'build', app, '--skip-refresh']);
    if (r.code !== 0) throw new Error(`helm dependency build ${app} failed:\n${r.stderr}${r.stdout}`);
    return app;
  })();
  return prepared;
}

export interface Rendered {
  /** helm template's output. */
  text: string;
  /** The documents, parsed (empty ones dropped). */
  docs: Array<Record<string, any>>;
}

/** `helm template feed charts/example-app -f <values>... --set ... --kube-version ...`. */
export async function renderExampleApp(opts: { values?: string[]; set?: string[]; kubeVersion?: string; release?: string } = {}): Promise<Rendered> {
  const app = await preparedExampleApp();
  const args = ['template', opts.release ?? 'feed', app, '--kube-version', opts.kubeVersion ?? '1.31.0'];
  for (const v of opts.values ?? []) args.push('-f', path.isAbsolute(v) ? v : path.join(app, v));
  for (const s of opts.set ?? []) args.push('--set', s);
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length) throw new Error(`helm template printed invalid YAML: ${d.errors[0]!.message}`);
      return d.toJS() as Record<string, any> | null;
    })
    .filter((d): d is Record<string, any> => d !== null);
  return { text: r.stdout, docs };
}

export function findDoc(r: Rendered, kind: string, name?: string): Record<string, any> {
  const d = r.docs.find((x) => x.kind === kind && (name === undefined || x.metadata?.name === name));
  if (!d) throw new Error(`no ${kind}${name ? ` named ${name}` : ''} in the rendered chart (kinds: ${r.docs.map((x) => x.kind).join(', ')})`);
  return d;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'breakwater-charts-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
