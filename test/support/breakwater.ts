// Runs the real `breakwater start` CLI as a child process with a config written for the test,
// on free ports, and collects its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../services/index.js';

export const CLI = resolve('dist/src/cli/main.js');

export interface Breakwater {
  proc: ChildProcess;
  admin: string;
  configFile: string;
  logs: Record<string, unknown>[];
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  get(path: string): Promise<{ status: number; body: any }>;
  post(path: string, token?: string): Promise<{ status: number; body: any }>;
  metric(line: RegExp): Promise<number | undefined>;
  waitFor(pred: () => Promise<boolean> | boolean, what: string, timeoutMs?: number): Promise<void>;
}

export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

const live = new Set<ChildProcess>();
let exitHook = false;

/**
 * A sidecar must not outlive its test: killed on this process's exit, and by a detached
 * watchdog when this process is killed outright (a tap timeout skips teardown).
 */
function orphanGuard(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  const watchdog = spawn(
    '/bin/sh',
    ['-c', 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -KILL "$2" 2>/dev/null', 'bw-watchdog', String(process.pid), String(proc.pid)],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
}

/** `yaml` may use {{ADMIN}} for the admin address; other ports are the caller's. */
export async function startBreakwater(
  t: TeardownHost,
  yaml: string,
  opts: { env?: Record<string, string>; args?: string[]; waitLive?: boolean } = {},
): Promise<Breakwater> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-sidecar-'));
  const adminPort = await freePort();
  const configFile = join(dir, 'breakwater.yaml');
  writeFileSync(configFile, yaml.replaceAll('{{ADMIN}}', `127.0.0.1:${adminPort}`));
  const proc = spawn(process.execPath, [CLI, 'start', '--config', configFile, ...(opts.args ?? [])], {
    env: { ...process.env, BREAKWATER_ENV: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  orphanGuard(proc);
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ raw: l });
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const admin = `http://127.0.0.1:${adminPort}`;

  const bw: Breakwater = {
    proc,
    admin,
    configFile,
    logs,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async get(path) {
      const res = await fetch(admin + path, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* metrics are text */
      }
      return { status: res.status, body };
    },
    async post(path, token) {
      const res = await fetch(admin + path, {
        method: 'POST',
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, body: await res.json() };
    },
    async metric(line) {
      const { body } = await bw.get('/metrics');
      for (const l of (body as string).split('\n')) {
        if (line.test(l)) return Number(l.slice(l.lastIndexOf(' ') + 1));
      }
      return undefined;
    },
    async waitFor(pred, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (await pred()) return;
        if (proc.exitCode !== null) throw new Error(`breakwater exited (${proc.exitCode}) while waiting for ${what}: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
  t.teardown(() => bw.stop('SIGKILL'));
  if (opts.waitLive !== false) {
    await bw.waitFor(async () => {
      try {
        return (await bw.get('/livez')).status === 200;
      } catch {
        return false;
      }
    }, 'the admin server');
  }
  return bw;
}
