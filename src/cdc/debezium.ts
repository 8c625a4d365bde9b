// Decodes one Debezium change message (JSON converter) into a ChangeEvent:
// with the `{schema, payload}` wrapper (schemas.enable=true) or the bare
// envelope (schemas.enable=false, what the original deployment emitted).
// One JSON.parse per message (of the payload alone when the schema text is one
// already seen); the row struct's field schemas are built once per distinct
// schema and reused (verified field by field, no allocation).
import type { ChangeEvent, ChangeOp, FieldSchema } from './change-event.js';
import { CdcError, excerpt } from './errors.js';

type Json = Record<string, unknown>;

const NO_SOURCE: Record<string, unknown> = Object.freeze({});

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textExcerpt(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * null for a tombstone (null or empty value, or a wrapper whose payload is
 * null); a ChangeEvent otherwise. Throws CdcError 'undecodable' or 'unknown_op'.
 */
export function decodeChange(value: Buffer | string | null): ChangeEvent | null {
  if (value === null || value.length === 0) return null;
  const fast = typeof value === 'string' ? decodeWrapped(value) : decodeWrappedBytes(value);
  if (fast !== undefined) return fast;
  const text = typeof value === 'string' ? value : value.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CdcError('undecodable', `message value is not JSON (${(err as Error).message}): ${textExcerpt(text)}; the consumer expects Debezium's JSON converter (value.converter=org.apache.kafka.connect.json.JsonConverter)`);
  }
  if (doc === null) return null;
  if (!isObject(doc)) throw new CdcError('undecodable', `message value is JSON but not an object: ${excerpt(doc)}; expected a Debezium change envelope`);
  if ('payload' in doc && 'schema' in doc && !('op' in doc)) {
    // schemas.enable=true: {schema, payload}
    if (doc.payload === null) return null;
    if (!isObject(doc.payload)) throw new CdcError('undecodable', `message has a {schema, payload} wrapper but its payload is not an object: ${excerpt(doc.payload)}`);
    return fromEnvelope(doc.payload, doc.schema, undefined);
  }
  return fromEnvelope(doc, undefined, undefined);
}

// ---- the {schema, payload} fast path ------------------------------------------
// JsonConverter writes `{"schema":<schema>,"payload":<envelope>}`, the schema
// being ~85% of the bytes and the same for every message of a table. So the
// schema text is compared with the recently seen ones (length, then content)
// and only the payload is parsed. A schema text is trusted as a split point
// only after it parsed on its own as one complete JSON value.

const HEAD = '{"schema":';
const SPLIT = '},"payload":';

interface KnownSchema {
  text: string;
  bytes: Buffer;
  schema: unknown;
  after?: Map<string, FieldSchema> | undefined;
  before?: Map<string, FieldSchema> | undefined;
  resolved: number; // bit 1: after, bit 2: before
}

const known: KnownSchema[] = [];
const KNOWN_LIMIT = 16;

/** undefined when the text is not in JsonConverter's wrapper layout (the caller parses it whole). */
function decodeWrapped(text: string): ChangeEvent | null | undefined {
  if (!text.startsWith(HEAD)) return undefined;
  const split = text.indexOf(SPLIT, HEAD.length);
  if (split < 0) return undefined;
  let end = text.length - 1;
  while (end > split && text.charCodeAt(end) <= 32) end--;
  if (text.charCodeAt(end) !== 125) return undefined;
  const schemaLength = split + 1 - HEAD.length;
  let entry: KnownSchema | undefined;
  for (let i = 0; i < known.length; i++) {
    const k = known[i] as KnownSchema;
    if (k.text.length === schemaLength && text.startsWith(k.text, HEAD.length)) {
      entry = k;
      break;
    }
  }
  if (entry === undefined) {
    const schemaText = text.slice(HEAD.length, split + 1);
    let schema: unknown;
    try {
      schema = JSON.parse(schemaText);
    } catch {
      return undefined;
    }
    entry = remember(schemaText, Buffer.from(schemaText), schema);
  }
  return fromPayload(text.slice(split + SPLIT.length, end), entry);
}

const HEAD_BYTES = Buffer.from(HEAD);
const SPLIT_BYTES = Buffer.from(SPLIT);

/** decodeWrapped on the raw bytes: memcmp the schema, UTF-8-decode only the payload. */
function decodeWrappedBytes(buf: Buffer): ChangeEvent | null | undefined {
  if (buf.length < HEAD_BYTES.length + SPLIT_BYTES.length || buf.compare(HEAD_BYTES, 0, HEAD_BYTES.length, 0, HEAD_BYTES.length) !== 0) return undefined;
  const split = buf.indexOf(SPLIT_BYTES, HEAD_BYTES.length);
  if (split < 0) return undefined;
  let end = buf.length - 1;
  while (end > split && (buf[end] as number) <= 32) end--;
  if (buf[end] !== 125) return undefined;
  const schemaEnd = split + 1;
  const schemaLength = schemaEnd - HEAD_BYTES.length;
  let entry: KnownSchema | undefined;
  for (let i = 0; i < known.length; i++) {
    const k = known[i] as KnownSchema;
    if (k.bytes.length === schemaLength && buf.compare(k.bytes, 0, schemaLength, HEAD_BYTES.length, schemaEnd) === 0) {
      entry = k;
      break;
    }
  }
  if (entry === undefined) {
    const schemaText = buf.toString('utf8', HEAD_BYTES.length, schemaEnd);
    let schema: unknown;
    try {
      schema = JSON.parse(schemaText);
    } catch {
      return undefined;
    }
    entry = remember(schemaText, Buffer.from(buf.subarray(HEAD_BYTES.length, schemaEnd)), schema);
  }
  return fromPayload(buf.toString('utf8', split + SPLIT_BYTES.length, end), entry);
}

function remember(text: string, bytes: Buffer, schema: unknown): KnownSchema {
  const entry: KnownSchema = { text, bytes, schema, resolved: 0 };
  if (known.length >= KNOWN_LIMIT) known.shift();
  known.push(entry);
  return entry;
}

function fromPayload(payloadText: string, entry: KnownSchema): ChangeEvent | null | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(payloadText);
  } catch {
    return undefined; // the whole-text parse reports it
  }
  if (payload === null) return null;
  if (!isObject(payload)) return undefined;
  return fromEnvelope(payload, entry.schema, entry);
}

function fromEnvelope(envelope: Json, schema: unknown, entry: KnownSchema | undefined): ChangeEvent {
  const op = envelope.op;
  if (typeof op !== 'string') {
    const keys = Object.keys(envelope).slice(0, 8).join(', ');
    throw new CdcError(
      'undecodable',
      `message is not a Debezium change envelope: no "op" field (fields: ${keys || 'none'}); the consumer needs the full envelope (before/after/op/source): remove an ExtractNewRecordState ("unwrap") transform from the connector`,
    );
  }
  let image: 'after' | 'before';
  switch (op) {
    case 'c':
    case 'u':
    case 'r':
      image = 'after';
      break;
    case 'd':
      image = 'before';
      break;
    case 't':
    case 'm':
      throw new CdcError('unknown_op', `Debezium op "${op}" (${op === 't' ? 'truncate' : 'logical decoding message'}) is not supported: only c, u, d, r are; exclude it at the source (skipped.operations=t, or drop messages from the topic)`);
    default:
      throw new CdcError('unknown_op', `unknown Debezium op ${excerpt(op)}; expected one of c, u, d, r`);
  }

  const row = envelope[image];
  if (!isObject(row)) {
    const hint =
      op === 'd'
        ? 'a delete without "before" cannot name its key: set the table\'s REPLICA IDENTITY to DEFAULT (with a primary key) or FULL'
        : `a "${op}" event needs "after"`;
    throw new CdcError('undecodable', `Debezium "${op}" event has ${excerpt(row)} as "${image}": ${hint}`);
  }

  const source = envelope.source;
  const tsMs = envelope.ts_ms;
  return {
    op: op as ChangeOp,
    row,
    fields: schema === undefined ? undefined : entry === undefined ? fieldsOf(schema, image) : knownFields(entry, image),
    source: isObject(source) ? source : NO_SOURCE,
    tsMs: typeof tsMs === 'number' ? tsMs : undefined,
  };
}

function knownFields(entry: KnownSchema, image: 'after' | 'before'): Map<string, FieldSchema> | undefined {
  const bit = image === 'after' ? 1 : 2;
  if ((entry.resolved & bit) === 0) {
    entry[image] = fieldsOf(entry.schema, image);
    entry.resolved |= bit;
  }
  return entry[image];
}

// ---- field schemas, cached per distinct schema -----------------------------

interface CachedFields {
  /** The raw Connect field entries' identifying parts, to verify a hit. */
  names: string[];
  types: unknown[];
  semantics: unknown[];
  params: Array<Record<string, string> | undefined>;
  map: Map<string, FieldSchema>;
}

// Keyed by envelope schema name + image + field count; a hit is verified
// field by field (name, type, semantic type, parameters), so a changed column
// type under the same name rebuilds instead of returning stale schemas.
const cache = new Map<string, CachedFields>();
const CACHE_LIMIT = 256;

function fieldsOf(schema: unknown, image: 'after' | 'before'): Map<string, FieldSchema> | undefined {
  if (!isObject(schema) || !Array.isArray(schema.fields)) return undefined;
  let struct: Json | undefined;
  for (const f of schema.fields as unknown[]) {
    if (isObject(f) && f.field === image) {
      struct = f;
      break;
    }
  }
  if (struct === undefined || !Array.isArray(struct.fields)) return undefined;
  const entries = struct.fields as unknown[];
  const key = `${typeof schema.name === 'string' ? schema.name : ''}\u0000${image}\u0000${entries.length}`;
  const hit = cache.get(key);
  if (hit !== undefined && matches(hit, entries)) return hit.map;

  const built = build(entries);
  if (cache.size >= CACHE_LIMIT && hit === undefined) cache.clear();
  cache.set(key, built);
  return built.map;
}

function matches(c: CachedFields, entries: unknown[]): boolean {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Json;
    if (e === null || typeof e !== 'object') return false;
    if (e.field !== c.names[i] || e.type !== c.types[i] || e.name !== c.semantics[i]) return false;
    if (!sameParams(e.parameters, c.params[i])) return false;
  }
  return true;
}

function sameParams(a: unknown, b: Record<string, string> | undefined): boolean {
  if (a === undefined || a === null) return b === undefined;
  if (b === undefined || !isObject(a)) return false;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(b).length;
}

function build(entries: unknown[]): CachedFields {
  const out: CachedFields = { names: [], types: [], semantics: [], params: [], map: new Map() };
  for (const e of entries) {
    if (!isObject(e) || typeof e.field !== 'string') {
      // Keep the arrays aligned so `matches` fails on this entry next time too.
      out.names.push('\u0000');
      out.types.push(undefined);
      out.semantics.push(undefined);
      out.params.push(undefined);
      continue;
    }
    const fs: FieldSchema = { type: typeof e.type === 'string' ? e.type : 'unknown' };
    if (typeof e.name === 'string') fs.name = e.name;
    let params: Record<string, string> | undefined;
    if (isObject(e.parameters)) {
      params = {};
      for (const k in e.parameters) params[k] = String(e.parameters[k]);
      fs.parameters = params;
    }
    if (typeof e.optional === 'boolean') fs.optional = e.optional;
    out.names.push(e.field);
    out.types.push(e.type);
    out.semantics.push(e.name);
    out.params.push(params);
    out.map.set(e.field, fs);
  }
  return out;
}
