// Reads the base file and the environment overlay, interpolates variables, merges, validates
// and freezes. The result is an immutable snapshot: a reload builds a new one.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMap, isNode, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.js';
import { interpolate } from './interpolate.js';
import { deepFreeze, deepMerge } from './merge.js';
import { configSchema, type Config } from './schema.js';

export interface LoadOptions {
  file: string;
  /** Environment overlay name: `<dir of file>/<env>.yaml` is merged over the base. */
  env?: string | undefined;
  environ?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedConfig {
  config: Readonly<Config>;
  /** The files that made it, base first. */
  files: readonly string[];
  env: string | undefined;
}

interface Source {
  file: string;
  text: string;
  doc: Document;
  lines: LineCounter;
}

export function overlayPath(file: string, env: string): string {
  return join(dirname(file), `${env}.yaml`);
}

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const environ = opts.environ ?? process.env;
  const env = opts.env ?? (environ.BREAKWATER_ENV || undefined);
  const problems: ConfigProblem[] = [];
  const sources: Source[] = [];

  const files = [opts.file];
  if (env !== undefined) {
    const overlay = overlayPath(opts.file, env);
    if (!existsSync(overlay)) {
      throw new ConfigError([
        {
          code: 'overlay_missing',
          file: overlay,
          path: '',
          message: `environment "${env}" was requested (--env or BREAKWATER_ENV) but ${overlay} does not exist; create it or pick another environment`,
        },
      ]);
    }
    files.push(overlay);
  }

  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([
        { code: 'file_unreadable', file, path: '', message: `cannot read the config file: ${(err as Error).message}` },
      ]);
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      problems.push({
        code: 'yaml_syntax',
        file,
        line: pos.line,
        col: pos.col,
        path: '',
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
      });
    }
    for (const m of interpolate(doc, environ)) {
      const pos = lines.linePos(m.offset);
      problems.push({
        code: 'missing_variable',
        file,
        line: pos.line,
        col: pos.col,
        path: '',
        message: `environment variable ${m.name} is not set and has no default; set it, or write \${${m.name}:-default}`,
        found: JSON.stringify(m.source),
      });
    }
    sources.push({ file, text, doc, lines });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  let merged: unknown = {};
  for (const s of sources) {
    let value: unknown;
    try {
      value = s.doc.toJS();
    } catch (err) {
      // e.g. an alias to an anchor that does not exist (`*a`): point at the alias.
      let at: { line: number; col: number } | undefined;
      visit(s.doc, {
        Alias(_, node) {
          if (at === undefined && node.resolve(s.doc) === undefined && node.range) at = s.lines.linePos(node.range[0]);
        },
      });
      throw new ConfigError([{ code: 'yaml_syntax', file: s.file, line: at?.line, col: at?.col, path: '', message: `YAML: ${(err as Error).message}` }]);
    }
    merged = deepMerge(merged, value ?? {});
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((issue) => toProblems(issue, [], sources)));
  }
  return { config: deepFreeze(result.data), files, env };
}

type Issue = z.core.$ZodIssue;
type Path = (string | number)[];

function toProblems(issue: Issue, prefix: Path, sources: Source[]): ConfigProblem[] {
  const path = [...prefix, ...(issue.path as Path)];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the branch that got furthest rather than "Invalid input".
    const informative = issue.errors.find((branch) => branch.some((i) => !(i.code === 'invalid_type' && i.path.length === 0)));
    if (informative) return informative.flatMap((i) => toProblems(i, path, sources));
    const expected = issue.errors.map((b) => (b[0] && 'expected' in b[0] ? String(b[0].expected) : '?'));
    return [problemAt(path, sources, 'invalid_value', `expected ${expected.join(' or ')}`)];
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) =>
      problemAt([...path, key], sources, 'unknown_key', `unknown key "${key}"${suggest(key, path)}; remove it or fix the spelling`, true),
    );
  }
  return [problemAt(path, sources, 'invalid_value', issue.message)];
}

function problemAt(path: Path, sources: Source[], code: ConfigProblem['code'], message: string, atKey = false): ConfigProblem {
  const dotted = path.join('.');
  // The last file that mentions the path is the one to fix; otherwise the nearest ancestor.
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth);
    for (let i = sources.length - 1; i >= 0; i--) {
      const s = sources[i]!;
      const node = depth === 0 ? s.doc.contents : nodeAt(s.doc, sub, atKey && depth === path.length);
      if (node && isNode(node) && node.range) {
        const pos = s.lines.linePos(node.range[0]);
        const exact = depth === path.length;
        const found = exact ? s.text.slice(node.range[0], node.range[1]).trim().split('\n')[0]!.slice(0, 80) : 'nothing (the key is missing)';
        return { code, file: s.file, line: pos.line, col: pos.col, path: dotted, message, found: atKey ? undefined : found };
      }
    }
  }
  return { code, file: sources[sources.length - 1]!.file, path: dotted, message };
}

function nodeAt(doc: Document, path: Path, keyNode: boolean): Node | undefined {
  if (!keyNode) return doc.getIn(path, true) as Node | undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === path[path.length - 1]);
  return pair?.key as Node | undefined;
}

/** "did you mean" for a misspelled key, from the keys allowed beside it. */
function suggest(key: string, parentPath: Path): string {
  const allowed = allowedKeys(parentPath);
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const list = allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
  return best === undefined ? list : ` (did you mean "${best}"?)`;
}

function allowedKeys(path: Path): string[] {
  // Walk the schema's JSON form; dependencies.<name> keys come from the protocol variants.
  let node: any = configJsonSchema();
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i]!;
    if (node.anyOf || node.oneOf) node = { properties: Object.assign({}, ...(node.anyOf ?? node.oneOf).map((v: any) => v.properties ?? {})) };
    if (typeof seg === 'number') node = node.items;
    else node = node.properties?.[seg] ?? node.additionalProperties;
  }
  if (node?.anyOf || node?.oneOf) node = { properties: Object.assign({}, ...(node.anyOf ?? node.oneOf).map((v: any) => v.properties ?? {})) };
  return node?.properties ? Object.keys(node.properties) : [];
}

let jsonSchemaCache: unknown;
function configJsonSchema(): unknown {
  if (jsonSchemaCache === undefined) jsonSchemaCache = configJsonSchemaOf();
  return jsonSchemaCache;
}

export function configJsonSchemaOf(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
