// The columns last seen for a statement text, so that `static` answers a read with the field
// list the app expects (an empty `columns` can break code that indexes rows by column name).
// Learnt from successful answers as they stream by; bounded by count and text length.

const MAX_ENTRIES = 1000;
/** Longer statement texts are not remembered (they would dominate the memory used). */
const MAX_TEXT = 16 * 1024;
/** Body bytes kept to read every statement's columns; a longer body yields the first one only. */
export const COLUMNS_BODY_BYTES = 64 * 1024;

export class ColumnMemory {
  private readonly map = new Map<string, readonly string[]>();

  get(text: string): readonly string[] | undefined {
    return this.map.get(text);
  }

  set(text: string, columns: readonly string[]): void {
    if (text.length > MAX_TEXT) return;
    const had = this.map.get(text);
    if (had !== undefined && sameColumns(had, columns)) return;
    this.map.delete(text);
    this.map.set(text, columns);
    if (this.map.size > MAX_ENTRIES) this.map.delete(this.map.keys().next().value!);
  }
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/**
 * Each statement's columns from a successful tx response: all of them from a whole body (`whole`),
 * else the first statement's from the body's start (`{"results":[{"columns":[...],"data":`).
 * Entries stay undefined where unknown.
 */
export function columnsOf(body: Buffer, whole: boolean, statements: number): (string[] | undefined)[] {
  const out: (string[] | undefined)[] = new Array(statements).fill(undefined);
  if (whole) {
    try {
      const doc = JSON.parse(body.toString('utf8')) as { results?: { columns?: unknown }[] };
      doc.results?.forEach((r, i) => {
        if (i < statements && isStringArray(r.columns)) out[i] = r.columns;
      });
      return out;
    } catch {
      // fall through to the prefix
    }
  }
  const text = body.toString('utf8');
  const head = '{"results":[{"columns":';
  if (!text.startsWith(head)) return out;
  // `],"data":` cannot occur inside a column name: its quote would be escaped.
  const end = text.indexOf('],"data":', head.length);
  if (end < 0) return out;
  try {
    const cols: unknown = JSON.parse(text.slice(head.length, end + 1));
    if (isStringArray(cols) && statements > 0) out[0] = cols;
  } catch {
    // not what Neo4j sends: learn nothing
  }
  return out;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((c) => typeof c === 'string');
}
