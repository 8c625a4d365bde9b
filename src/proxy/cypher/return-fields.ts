// The field names a query's final RETURN produces, read from its text: what `static` reports
// as the field list when Neo4j has not answered that query yet. `RETURN x AS name` gives
// name; an expression without AS gives its text (as Neo4j does); `RETURN *` cannot be known.

/** The fields, or [] when they cannot be known from the text. */
export function returnFields(query: string): string[] {
  const clause = lastReturn(query);
  if (clause === undefined) return [];
  const items = splitTopLevel(clause);
  const out: string[] = [];
  for (let item of items) {
    item = item.trim();
    if (item === '' || item === '*') return [];
    const as = /\s+AS\s+(`(?:[^`]|``)+`|[\p{L}_][\p{L}\p{N}_]*)\s*$/iu.exec(item);
    if (as) out.push(as[1]!.startsWith('`') ? as[1]!.slice(1, -1).replace(/``/g, '`') : as[1]!);
    else out.push(item);
  }
  return out;
}

const TAIL = /\s(ORDER\s+BY|SKIP|LIMIT|OFFSET|UNION)\s/i;

/** The text after the last top-level RETURN (and DISTINCT), up to ORDER BY/SKIP/LIMIT. */
function lastReturn(query: string): string | undefined {
  let depth = 0;
  let found = -1;
  const n = query.length;
  for (let i = 0; i < n; i++) {
    const c = query[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(query, i, c) - 1;
      continue;
    }
    if (c === '/' && query[i + 1] === '/') {
      const nl = query.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && (c === 'R' || c === 'r') && /^RETURN\b/i.test(query.slice(i, i + 7)) && (i === 0 || /\s/.test(query[i - 1]!))) found = i + 6;
  }
  if (found < 0) return undefined;
  let text = query.slice(found).replace(/^\s+DISTINCT\b/i, '');
  const tail = TAIL.exec(` ${text} `);
  if (tail) text = text.slice(0, Math.max(0, tail.index - 1));
  return text;
}

function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(text, i, c) - 1;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function skipQuoted(text: string, i: number, quote: string): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\' && quote !== '`') j++;
    else if (text[j] === quote) return j + 1;
  }
  return text.length;
}
