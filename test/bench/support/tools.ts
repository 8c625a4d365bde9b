// The benchmark's tools, installed on first use and cached outside the repository:
// Debian packages (wrk, nginx, haproxy) with apt-get, vegeta with `go install` into
// ~/.cache/breakwater/bin (override the cache with BREAKWATER_CACHE).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../../services/process.js';
import { logCommand, run, runOk } from './procs.js';

export const CACHE_DIR = process.env.BREAKWATER_CACHE ?? path.join(os.homedir(), '.cache', 'breakwater');
export const VEGETA_MODULE = 'github.com/tsenart/vegeta/v12';
export const VEGETA_VERSION = 'v12.13.0';

function which(binary: string, pkg: string): string | undefined {
  try {
    return findBinary(binary, pkg);
  } catch {
    return undefined;
  }
}

/**
 * The path of a binary from a Debian package, installing the package when it is missing.
 * Package scripts are kept from starting system-wide services (policy-rc.d exit 101).
 * `optional`: returns undefined instead of throwing when the install fails.
 */
export async function ensureDeb(binary: string, pkg: string, opts: { optional?: boolean } = {}): Promise<string | undefined> {
  const found = which(binary, pkg);
  if (found) return found;
  process.stdout.write(`bench: ${binary} is missing: installing Debian package ${pkg}\n`);
  if (process.getuid?.() !== 0) {
    const msg = `${binary} not found and not running as root: install it with \`apt-get install ${pkg}\``;
    if (opts.optional) {
      process.stdout.write(`bench: ${msg}; skipping what needs it\n`);
      return undefined;
    }
    throw new Error(msg);
  }
  const policy = '/usr/sbin/policy-rc.d';
  let createdPolicy = false;
  if (!fs.existsSync(policy)) {
    fs.writeFileSync(policy, '#!/bin/sh\n# temporary, from breakwater test/bench\nexit 101\n', { mode: 0o755 });
    createdPolicy = true;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', pkg];
  try {
    let r = await run(install, { env, timeoutMs: 600_000 });
    if (r.code !== 0) {
      // a fresh machine has no package lists yet
      await run(['apt-get', 'update', '-q'], { env, timeoutMs: 600_000 });
      r = await run(install, { env, timeoutMs: 600_000 });
    }
    if (r.code !== 0) throw new Error(`apt-get install ${pkg} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  } catch (err) {
    if (opts.optional) {
      process.stdout.write(`bench: ${(err as Error).message}\nbench: skipping what needs ${binary}\n`);
      return undefined;
    }
    throw err;
  } finally {
    if (createdPolicy) fs.rmSync(policy, { force: true });
  }
  const installed = which(binary, pkg);
  if (!installed && !opts.optional) throw new Error(`${binary} still missing after apt-get install ${pkg}`);
  return installed;
}

function goBinary(): string {
  for (const candidate of [...(process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'go')), '/usr/local/go/bin/go', '/usr/lib/go/bin/go']) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error('vegeta is not installed and there is no Go toolchain to build it: install Go (apt-get install golang-go) or put vegeta on PATH');
}

/** ~/.cache/breakwater/bin/vegeta at VEGETA_VERSION, built with `go install` when missing or another version. */
export async function ensureVegeta(): Promise<string> {
  const bin = path.join(CACHE_DIR, 'bin');
  const vegeta = path.join(bin, 'vegeta');
  const go = goBinary();
  if (fs.existsSync(vegeta)) {
    // `go version -m` reads the module version the binary was built from.
    const r = await run([go, 'version', '-m', vegeta], { log: false });
    if (r.code === 0 && r.stdout.includes(`${VEGETA_MODULE}\t${VEGETA_VERSION}`)) return vegeta;
  }
  fs.mkdirSync(bin, { recursive: true });
  process.stdout.write(`bench: building vegeta ${VEGETA_VERSION} into ${bin} (once; about a minute)\n`);
  logCommand(`GOBIN=${bin} ${go} install ${VEGETA_MODULE}@${VEGETA_VERSION}`);
  await runOk([go, 'install', `${VEGETA_MODULE}@${VEGETA_VERSION}`], {
    env: { ...process.env, GOBIN: bin },
    log: false,
    timeoutMs: 900_000,
  });
  return vegeta;
}

/** First line of a version command's output (stdout or stderr), for the results file. */
export async function versionOf(argv: string[]): Promise<string> {
  const r = await run(argv, { log: false });
  const text = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  return text ?? 'unknown';
}
