// ${VAR} and ${VAR:-default} in YAML scalar values, substituted on the parsed document so
// that errors keep their line and column. `$${` escapes a literal `${`.
import { parse as parseYaml, Scalar, visit, type Document } from 'yaml';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface MissingVariable {
  name: string;
  /** Offset of the scalar in the source. */
  offset: number;
  source: string;
}

/** Substitutes variables in place; returns the references that had no value and no default. */
export function interpolate(doc: Document, env: Readonly<Record<string, string | undefined>>): MissingVariable[] {
  const missing: MissingVariable[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
      const replaced = original.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
        if (whole === '$${') return '${';
        const value = env[name!];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        missing.push({ name: name!, offset: node.range?.[0] ?? 0, source: original });
        return '';
      });
      node.value = node.type === Scalar.PLAIN ? retype(replaced) : replaced;
    },
  });
  return missing;
}

/** An unquoted `${PORT}` that becomes "8080" should be the number 8080, as if written so. */
function retype(text: string): unknown {
  if (text === '') return text;
  try {
    const v = parseYaml(text) as unknown;
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}
