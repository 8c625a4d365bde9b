// Address rewriting for the Kafka responses that reveal broker addresses, so that clients
// keep talking to the proxy: Metadata (3), FindCoordinator (10) and DescribeCluster (60).
// Only the part of a body up to the last address is parsed; every byte other than the
// host/port fields is copied as it came (topics, tagged fields, later fields the proxy does not
// know). ApiVersions (18) responses are narrowed to the versions the proxy can rewrite.
//
// Field layouts, from clients/src/main/resources/common/message/*Response.json in apache/kafka:
//   Metadata v0-13: [ThrottleTimeMs v3+] Brokers[NodeId, Host, Port, Rack v1+ (nullable)] ...
//     flexible v9+ (compact strings/arrays, tagged fields per broker). Everything after the
//     brokers array (ClusterId, ControllerId, Topics, v13 top-level ErrorCode) is kept as is.
//   FindCoordinator v0: ErrorCode, NodeId, Host, Port; v1-3: ThrottleTimeMs, ErrorCode,
//     ErrorMessage, NodeId, Host, Port (flexible v3+); v4-6: ThrottleTimeMs,
//     Coordinators[Key, NodeId, Host, Port, ErrorCode, ErrorMessage]. NodeId -1 = none.
//   DescribeCluster v0-2 (always flexible): ThrottleTimeMs, ErrorCode, ErrorMessage,
//     EndpointType v1+, ClusterId, ControllerId, Brokers[BrokerId, Host, Port, Rack,
//     IsFenced v2+], ClusterAuthorizedOperations.
//   ApiVersions v0-4: ErrorCode, ApiKeys[ApiKey, MinVersion, MaxVersion] (flexible v3+),
//     ThrottleTimeMs v1+, tagged SupportedFeatures/FinalizedFeaturesEpoch/FinalizedFeatures...
import { KafkaWireError, Reader, Writer } from './wire.js';

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export const API_METADATA = 3;
export const API_FIND_COORDINATOR = 10;
export const API_API_VERSIONS = 18;
export const API_DESCRIBE_CLUSTER = 60;

/** The highest version of each address-bearing response this module can rewrite. */
export const REWRITABLE_MAX_VERSIONS: ReadonlyMap<number, number> = new Map([
  [API_METADATA, 13],
  [API_FIND_COORDINATOR, 6],
  [API_DESCRIBE_CLUSTER, 2],
]);
/** ApiVersions response versions narrowApiVersions understands. */
export const API_VERSIONS_MAX_VERSION = 4;

/**
 * The limits a proxy should pass to narrowApiVersions: the address-bearing APIs at the
 * versions rewriteAddresses knows, ApiVersions at the versions narrowApiVersions knows (Kafka
 * 4.4 advertises ApiVersions v5, whose layout this module does not know), and Produce <= 9 /
 * Fetch <= 15, the last versions before KIP-951 added leader endpoints (NodeEndpoints tagged
 * fields) to their responses, which are not rewritten here; the share-group APIs (76-79),
 * whose ShareFetch/ShareAcknowledge responses carry NodeEndpoints too, are removed.
 */
export const DEFAULT_NARROW_LIMITS: ReadonlyMap<number, number> = new Map([
  ...REWRITABLE_MAX_VERSIONS,
  [API_API_VERSIONS, API_VERSIONS_MAX_VERSION],
  [0, 9],
  [1, 15],
  // Share groups (KIP-932): ShareFetch/ShareAcknowledge responses carry NodeEndpoints, which
  // are not rewritten: not offered, so clients never learn a broker's real address from them.
  [76, -1],
  [77, -1],
  [78, -1],
  [79, -1],
]);

/** One address in a body: where its host string (with length prefix) and port are. */
interface Site extends BrokerAddress {
  hostStart: number;
  hostEnd: number;
  portAt: number;
  compact: boolean;
}

function unsupported(apiKey: number, apiVersion: number): KafkaWireError {
  const max = REWRITABLE_MAX_VERSIONS.get(apiKey);
  return new KafkaWireError(
    'unsupported_version',
    max === undefined
      ? `api key ${apiKey} carries no broker addresses this proxy rewrites`
      : `api key ${apiKey} version ${apiVersion} is outside 0..${max}, the versions this proxy can rewrite: narrow ApiVersions with REWRITABLE_MAX_VERSIONS so clients never use it`,
  );
}

function readSite(r: Reader, compact: boolean): Site {
  const nodeId = r.int32();
  const hostStart = r.pos;
  const host = compact ? r.compactString() : r.string();
  const hostEnd = r.pos;
  const portAt = r.pos;
  const port = r.int32();
  return { nodeId, host, port, hostStart, hostEnd, portAt, compact };
}

function sitesIn(apiKey: number, v: number, body: Buffer): Site[] {
  const r = new Reader(body);
  const sites: Site[] = [];
  switch (apiKey) {
    case API_METADATA: {
      if (v < 0 || v > 13) throw unsupported(apiKey, v);
      const flex = v >= 9;
      if (v >= 3) r.int32();
      const n = r.count(flex, 'Metadata brokers');
      for (let i = 0; i < n; i++) {
        sites.push(readSite(r, flex));
        if (v >= 1) flex ? r.compactNullableString() : r.nullableString();
        if (flex) r.skipTaggedFields();
      }
      return sites;
    }
    case API_FIND_COORDINATOR: {
      if (v < 0 || v > 6) throw unsupported(apiKey, v);
      const flex = v >= 3;
      if (v >= 1) r.int32();
      if (v <= 3) {
        r.int16();
        if (v >= 1) flex ? r.compactNullableString() : r.nullableString();
        sites.push(readSite(r, flex));
        return sites;
      }
      const n = r.count(true, 'FindCoordinator coordinators');
      for (let i = 0; i < n; i++) {
        r.compactString();
        sites.push(readSite(r, true));
        r.int16();
        r.compactNullableString();
        r.skipTaggedFields();
      }
      return sites;
    }
    case API_DESCRIBE_CLUSTER: {
      if (v < 0 || v > 2) throw unsupported(apiKey, v);
      r.int32();
      r.int16();
      r.compactNullableString();
      if (v >= 1) r.int8();
      r.compactString();
      r.int32();
      const n = r.count(true, 'DescribeCluster brokers');
      for (let i = 0; i < n; i++) {
        sites.push(readSite(r, true));
        r.compactNullableString();
        if (v >= 2) r.int8();
        r.skipTaggedFields();
      }
      return sites;
    }
    default:
      throw unsupported(apiKey, v);
  }
}

/**
 * Rewrites every broker/coordinator address in a response body (after the response header)
 * for the given api key/version; map(node) returns the address clients must use. Returns a new
 * Buffer (or the same one if nothing changed). Throws KafkaWireError on a body it cannot
 * parse or a version it does not know. Coordinator entries with node id -1 (none) are kept.
 */
export function rewriteAddresses(
  apiKey: number,
  apiVersion: number,
  body: Buffer,
  map: (b: BrokerAddress) => { host: string; port: number },
): Buffer {
  const sites = sitesIn(apiKey, apiVersion, body);
  let w: Writer | null = null;
  let copied = 0;
  for (const s of sites) {
    if (s.nodeId < 0) continue;
    const to = map({ nodeId: s.nodeId, host: s.host, port: s.port });
    if (to.host === s.host && to.port === s.port) continue;
    if (!Number.isInteger(to.port) || to.port < -0x80000000 || to.port > 0x7fffffff) {
      throw new RangeError(`rewritten port ${to.port} for broker ${s.nodeId} is not an INT32`);
    }
    w ??= new Writer(body.length + 64);
    w.raw(body.subarray(copied, s.hostStart));
    if (s.compact) w.compactString(to.host);
    else w.string(to.host);
    w.int32(to.port);
    copied = s.portAt + 4;
  }
  if (w === null) return body;
  w.raw(body.subarray(copied));
  return w.toBuffer();
}

/**
 * The upstream brokers a Metadata/FindCoordinator/DescribeCluster response reveals (unique by
 * node id, host and port, in order of appearance; coordinator node id -1 = none is left out).
 */
export function brokersIn(apiKey: number, apiVersion: number, body: Buffer): BrokerAddress[] {
  const out: BrokerAddress[] = [];
  const seen = new Set<string>();
  for (const s of sitesIn(apiKey, apiVersion, body)) {
    if (s.nodeId < 0) continue;
    const k = `${s.nodeId}\u0000${s.host}\u0000${s.port}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ nodeId: s.nodeId, host: s.host, port: s.port });
  }
  return out;
}

/**
 * Narrows an ApiVersions response body to the max versions given (per api key), so clients
 * never use a version the proxy cannot rewrite; keys absent from the limits pass unchanged,
 * a key whose limit is below its min version is removed. Handles v0-4 (v3+ flexible, with
 * tagged fields per entry and at the end, SupportedFeatures/FinalizedFeatures included, all
 * kept byte for byte). Returns the same Buffer when nothing changed.
 */
export function narrowApiVersions(apiVersion: number, body: Buffer, limits: ReadonlyMap<number, number>): Buffer {
  if (apiVersion < 0 || apiVersion > API_VERSIONS_MAX_VERSION) {
    throw new KafkaWireError('unsupported_version', `ApiVersions version ${apiVersion} is outside 0..${API_VERSIONS_MAX_VERSION}`);
  }
  const flex = apiVersion >= 3;
  const r = new Reader(body);
  r.int16();
  const arrayAt = r.pos;
  const n = r.count(flex, 'ApiVersions api keys');
  const entries: { start: number; end: number; key: number; min: number; max: number }[] = [];
  let changed = false;
  for (let i = 0; i < n; i++) {
    const start = r.pos;
    const key = r.int16();
    const min = r.int16();
    const max = r.int16();
    if (flex) r.skipTaggedFields();
    entries.push({ start, end: r.pos, key, min, max });
    const limit = limits.get(key);
    if (limit !== undefined && limit < max) changed = true;
  }
  const tail = r.pos;
  // the rest must at least parse: ThrottleTimeMs v1+, tagged fields v3+
  if (apiVersion >= 1) r.int32();
  if (flex) r.skipTaggedFields();
  if (!changed) return body;
  const kept = entries.filter((e) => {
    const limit = limits.get(e.key);
    return limit === undefined || limit >= e.min;
  });
  const w = new Writer(body.length);
  w.raw(body.subarray(0, arrayAt));
  if (flex) w.compactArrayLength(kept.length);
  else w.arrayLength(kept.length);
  for (const e of kept) {
    const limit = limits.get(e.key);
    w.int16(e.key).int16(e.min).int16(limit === undefined ? e.max : Math.min(limit, e.max));
    w.raw(body.subarray(e.start + 6, e.end));
  }
  w.raw(body.subarray(tail));
  return w.toBuffer();
}

/** A parsed ApiVersions response body (for health checks and tests). */
export function parseApiVersions(apiVersion: number, body: Buffer): { errorCode: number; apiKeys: Map<number, { min: number; max: number }> } {
  if (apiVersion < 0 || apiVersion > API_VERSIONS_MAX_VERSION) {
    throw new KafkaWireError('unsupported_version', `ApiVersions version ${apiVersion} is outside 0..${API_VERSIONS_MAX_VERSION}`);
  }
  const flex = apiVersion >= 3;
  const r = new Reader(body);
  const errorCode = r.int16();
  const n = r.count(flex, 'ApiVersions api keys');
  const apiKeys = new Map<number, { min: number; max: number }>();
  for (let i = 0; i < n; i++) {
    const key = r.int16();
    const min = r.int16();
    const max = r.int16();
    if (flex) r.skipTaggedFields();
    apiKeys.set(key, { min, max });
  }
  return { errorCode, apiKeys };
}
