// kcat (formerly kafkacat), the librdkafka command-line client, for tests that
// want a second, non-kafkajs Kafka client (librdkafka negotiates the newest
// api versions, flexible ones included). Debian package `kcat`; test/run.sh
// (npm test) installs it.
import { findBinary } from './process.js';
import { runTool, type RunToolResult } from './run-tool.js';

/** Absolute path of kcat: $BREAKWATER_KCAT, else PATH; throws E_SERVICE_NOT_INSTALLED with the apt-get command. */
export function findKcat(): string {
  return findBinary('kcat', 'kcat', 'BREAKWATER_KCAT');
}

export interface KcatOptions {
  /** Written to kcat's stdin, which is then closed (producer mode: one message per line). */
  input?: string | Buffer;
  /** Killed (SIGKILL) after this long and the promise rejects; default 30 s. */
  timeoutMs?: number;
}

export type KcatResult = RunToolResult;

/**
 * Runs `kcat ...args` and resolves with its output and exit code (a non-zero
 * exit resolves too: check `code`). Rejects with E_SERVICE_NOT_INSTALLED when
 * kcat is missing and E_SERVICE_QUERY when it outlives timeoutMs.
 */
export function kcat(args: string[], opts: KcatOptions = {}): Promise<KcatResult> {
  const bin = findKcat();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return runTool('kcat', bin, args, args, { input: opts.input, timeoutMs, stderrTailLines: 15 });
}
