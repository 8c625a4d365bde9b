// `neo4j://` URLs make drivers ask for a routing table (ROUTE) and then connect to the servers
// it lists. breakwater writes its own address over every server in the table, so the driver
// keeps talking to it; when Neo4j cannot answer, it answers with a table of that one address.
import { chunk } from './framing.js';
import { Sig } from './messages.js';
import { isMap, packStruct, readStructHeader, readValue, type PackMap, type PackValue } from './packstream.js';
import { firstMap } from './requests.js';

function map(entries: Record<string, PackValue>): PackMap {
  return Object.assign(Object.create(null) as PackMap, entries);
}

/** The ROUTE SUCCESS with every address replaced by `advertised`, chunked; undefined when it has no table. */
export function rewriteRoute(payload: Buffer, advertised: string): Buffer | undefined {
  const meta = firstMap(payload);
  const rt = meta.rt;
  if (!isMap(rt) || !Array.isArray(rt.servers)) return undefined;
  rt.servers = rt.servers.map((s) => {
    if (!isMap(s)) return s;
    return map({ ...s, addresses: [advertised] });
  });
  return chunk(packStruct(Sig.SUCCESS, [meta]));
}

/** A routing table breakwater answers while Neo4j is unavailable: itself in every role, for ttl seconds. */
export function localRoute(advertised: string, db: string, ttlSeconds: number): Buffer {
  const servers = ['WRITE', 'READ', 'ROUTE'].map((role) => map({ addresses: [advertised], role }));
  return chunk(packStruct(Sig.SUCCESS, [map({ rt: map({ ttl: ttlSeconds, db, servers }) })]));
}

/** The database a ROUTE asks for: Bolt 4.4+ `{db}` in its third field, 4.3 a string there. */
export function routeDatabase(payload: Buffer): string | undefined {
  try {
    const fields = readFields(payload);
    const third = fields[2];
    if (typeof third === 'string') return third;
    if (third !== undefined && isMap(third) && typeof third.db === 'string') return third.db;
  } catch {
    // a malformed ROUTE: the default database
  }
  return undefined;
}

function readFields(payload: Buffer): PackValue[] {
  const h = readStructHeader(payload, 0, payload.length);
  const out: PackValue[] = [];
  let p = h.next;
  for (let i = 0; i < h.size && p < payload.length; i++) {
    const v = readValue(payload, p, payload.length);
    out.push(v.value);
    p = v.end;
  }
  return out;
}
