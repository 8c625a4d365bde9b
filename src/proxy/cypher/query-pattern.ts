// `match.query` of a Neo4j fallback rule: a JavaScript regular expression over the Cypher text.
// A leading `(?i)` (the PCRE/Java spelling users bring from Neo4j's own docs and DESIGN.md's
// example) is accepted and means the `i` flag, which JavaScript has no inline form for.

/** The compiled pattern, or the SyntaxError that says what is wrong with it. */
export function compileQueryPattern(text: string): RegExp | SyntaxError {
  let flags = 'su';
  let source = text;
  if (source.startsWith('(?i)')) {
    flags += 'i';
    source = source.slice(4);
  }
  try {
    return new RegExp(source, flags);
  } catch (err) {
    return err as SyntaxError;
  }
}
