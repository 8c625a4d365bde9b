// Config problems are values: a code, where (file:line:col and key path), what was expected
// and what was found, so that every message tells the operator what to change.

export type ConfigErrorCode =
  | 'file_unreadable'
  | 'yaml_syntax'
  | 'missing_variable'
  | 'invalid_value'
  | 'unknown_key'
  | 'overlay_missing';

export interface ConfigProblem {
  code: ConfigErrorCode;
  file: string;
  line?: number;
  col?: number;
  /** Key path, e.g. dependencies.clickhouse.breaker.openFor */
  path: string;
  message: string;
  /** The offending source text, when there is one. */
  found?: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.col ?? 1}`;
  const key = p.path === '' ? '' : ` ${p.path}:`;
  const found = p.found === undefined ? '' : ` (found: ${p.found})`;
  return `${where}:${key} ${p.message}${found} [${p.code}]`;
}

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}
