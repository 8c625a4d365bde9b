// Metadata (api key 3) requests and responses, versions 0-13, fully parsed into a model and
// encoded back, so that the proxy can remember the cluster and answer Metadata itself while
// the cluster is unreachable.
//
// Layouts, from clients/src/main/resources/common/message/Metadata{Request,Response}.json in
// apache/kafka (flexible v9+: compact strings/arrays, a tagged-field section per struct):
//   Request: Topics[TopicId v10+ (uuid), Name (nullable v10+)] (v0: non-nullable, empty = all;
//     v1+: nullable, null = all), AllowAutoTopicCreation v4+ (v0-3: true),
//     IncludeClusterAuthorizedOperations v8-10, IncludeTopicAuthorizedOperations v8+.
//     v12 and v13 requests are laid out like v11 (v12: topics by id, names null).
//   Response: ThrottleTimeMs v3+, Brokers[NodeId, Host, Port, Rack v1+ (nullable)],
//     ClusterId v2+ (nullable), ControllerId v1+, Topics[ErrorCode, Name (nullable v12+),
//     TopicId v10+, IsInternal v1+, Partitions[ErrorCode, PartitionIndex, LeaderId,
//     LeaderEpoch v7+, ReplicaNodes, IsrNodes, OfflineReplicas v5+],
//     TopicAuthorizedOperations v8+], ClusterAuthorizedOperations v8-10, ErrorCode v13+.
// Fields absent from a version take the spec's defaults when parsed (LeaderEpoch -1,
// ControllerId -1, authorized operations INT32_MIN, TopicId zero...). No tagged field is
// defined for Metadata: unknown tagged fields are skipped when parsing and none are written.
import { KafkaWireError, Reader, Writer } from '../wire.js';
import type { ClusterState } from './cluster-state.js';

export const METADATA_API_KEY = 3;
export const METADATA_MIN_VERSION = 0;
export const METADATA_MAX_VERSION = 13;
/** First flexible Metadata version. */
export const METADATA_FIRST_FLEXIBLE = 9;
/** "Authorized operations not provided" (the spec default for both bitfields). */
export const AUTHORIZED_OPERATIONS_UNKNOWN = -2147483648;
/** The all-zero topic id: "no topic id" (shared: never write into it). */
export const ZERO_TOPIC_ID: Buffer = Buffer.alloc(16);

const UNKNOWN_TOPIC_OR_PARTITION = 3;
const LEADER_NOT_AVAILABLE = 5;
const UNKNOWN_TOPIC_ID = 100;

export interface MetadataRequestTopic {
  /** null: the topic is requested by id (v12+; v10-11 allow null on the wire too). */
  name: string | null;
  /** 16 bytes (a copy), or null when the version has no topic id or it is all zero. */
  topicId: Buffer | null;
}

export interface MetadataRequest {
  /** null = all topics (v0: an empty array; v1+: a null array). */
  topics: MetadataRequestTopic[] | null;
  /** v4+ field; v0-3 requests imply true. */
  allowAutoTopicCreation: boolean;
  /** v8-10 field; false otherwise. */
  includeClusterAuthorizedOperations: boolean;
  /** v8+ field; false otherwise. */
  includeTopicAuthorizedOperations: boolean;
}

export interface BrokerModel {
  nodeId: number;
  host: string;
  port: number;
  /** null when unassigned, and always in v0 (no rack field). */
  rack: string | null;
}

export interface PartitionModel {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  /** -1 below v7 (not on the wire). */
  leaderEpoch: number;
  replicaNodes: number[];
  isrNodes: number[];
  /** [] below v5 (not on the wire). */
  offlineReplicas: number[];
}

export interface TopicModel {
  errorCode: number;
  /** Nullable on the wire from v12 (topics asked for by an unknown id); encoded as "" below v12. */
  name: string | null;
  /** 16 bytes; all zero = none (always zero below v10). */
  topicId: Buffer;
  isInternal: boolean;
  partitions: PartitionModel[];
  /** INT32_MIN (not provided) below v8 or when not requested. */
  topicAuthorizedOperations: number;
}

export interface MetadataModel {
  /** 0 below v3. */
  throttleTimeMs: number;
  brokers: BrokerModel[];
  /** null below v2. */
  clusterId: string | null;
  /** -1 in v0. */
  controllerId: number;
  topics: TopicModel[];
  /** Only on the wire in v8-10; INT32_MIN otherwise. */
  clusterAuthorizedOperations: number;
  /** Top-level error, v13+ (e.g. REBOOTSTRAP_REQUIRED); 0 otherwise. */
  errorCode: number;
}

function checkVersion(version: number, what: string): void {
  if (!Number.isInteger(version) || version < METADATA_MIN_VERSION || version > METADATA_MAX_VERSION) {
    throw new KafkaWireError('unsupported_version', `Metadata ${what} version ${version} is outside ${METADATA_MIN_VERSION}..${METADATA_MAX_VERSION}`);
  }
}

function int32s(r: Reader, flex: boolean, what: string): number[] {
  const n = r.count(flex, what);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.int32();
  return out;
}

function expectEnd(r: Reader, what: string): void {
  if (r.remaining !== 0) {
    throw new KafkaWireError('malformed', `${what}: ${r.remaining} bytes left over at byte ${r.pos} (a different version than announced?)`, r.pos);
  }
}

function isZeroId(id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}

/** Parses a Metadata request body (after the request header). Throws KafkaWireError. */
export function parseMetadataRequest(version: number, body: Buffer): MetadataRequest {
  checkVersion(version, 'request');
  const flex = version >= METADATA_FIRST_FLEXIBLE;
  const r = new Reader(body);
  const n = r.count(flex, 'Metadata request topics', true);
  if (n === null && version === 0) throw new KafkaWireError('malformed', 'null Metadata v0 request topics array at byte 0', 0);
  let topics: MetadataRequestTopic[] | null = null;
  if (n !== null) {
    topics = [];
    for (let i = 0; i < n; i++) {
      let topicId: Buffer | null = null;
      if (version >= 10) {
        const id = r.uuid();
        if (!isZeroId(id)) topicId = Buffer.from(id);
      }
      const at = r.pos;
      const name = flex ? r.compactNullableString() : r.nullableString();
      if (name === null && version < 10) throw new KafkaWireError('malformed', `null topic name in a Metadata v${version} request at byte ${at}`, at);
      if (flex) r.skipTaggedFields();
      topics.push({ name, topicId });
    }
    if (version === 0 && n === 0) topics = null;
  }
  const allowAutoTopicCreation = version >= 4 ? r.bool() : true;
  const includeClusterAuthorizedOperations = version >= 8 && version <= 10 ? r.bool() : false;
  const includeTopicAuthorizedOperations = version >= 8 ? r.bool() : false;
  if (flex) r.skipTaggedFields();
  expectEnd(r, `Metadata v${version} request`);
  return { topics, allowAutoTopicCreation, includeClusterAuthorizedOperations, includeTopicAuthorizedOperations };
}

/** Encodes a Metadata request body (the inverse of parseMetadataRequest; for tests and probes). */
export function encodeMetadataRequest(version: number, req: MetadataRequest): Buffer {
  checkVersion(version, 'request');
  const flex = version >= METADATA_FIRST_FLEXIBLE;
  const w = new Writer(64);
  const topics = req.topics === null && version === 0 ? [] : req.topics;
  if (flex) w.compactArrayLength(topics === null ? null : topics.length);
  else w.arrayLength(topics === null ? null : topics.length);
  for (const t of topics ?? []) {
    if (version >= 10) w.raw(uuidBytes(t.topicId ?? ZERO_TOPIC_ID));
    else if (t.name === null) throw new RangeError(`Metadata v${version} requests cannot ask for a topic by id`);
    if (flex) w.compactNullableString(t.name);
    else w.nullableString(t.name);
    if (flex) w.taggedFields();
  }
  if (version >= 4) w.bool(req.allowAutoTopicCreation);
  if (version >= 8 && version <= 10) w.bool(req.includeClusterAuthorizedOperations);
  if (version >= 8) w.bool(req.includeTopicAuthorizedOperations);
  if (flex) w.taggedFields();
  return w.toBuffer();
}

function uuidBytes(id: Uint8Array): Uint8Array {
  if (id.length !== 16) throw new RangeError(`a topic id has 16 bytes, not ${id.length}`);
  return id;
}

/** Parses a Metadata response body (after the response header). Throws KafkaWireError. */
export function parseMetadataResponse(version: number, body: Buffer): MetadataModel {
  checkVersion(version, 'response');
  const v = version;
  const flex = v >= METADATA_FIRST_FLEXIBLE;
  const r = new Reader(body);
  const str = (): string => (flex ? r.compactString() : r.string());
  const nstr = (): string | null => (flex ? r.compactNullableString() : r.nullableString());
  const throttleTimeMs = v >= 3 ? r.int32() : 0;
  const brokers: BrokerModel[] = [];
  for (let i = 0, n = r.count(flex, 'Metadata brokers'); i < n; i++) {
    const nodeId = r.int32();
    const host = str();
    const port = r.int32();
    const rack = v >= 1 ? nstr() : null;
    if (flex) r.skipTaggedFields();
    brokers.push({ nodeId, host, port, rack });
  }
  const clusterId = v >= 2 ? nstr() : null;
  const controllerId = v >= 1 ? r.int32() : -1;
  const topics: TopicModel[] = [];
  for (let i = 0, n = r.count(flex, 'Metadata topics'); i < n; i++) {
    const errorCode = r.int16();
    const name = v >= 12 ? nstr() : str();
    const topicId = v >= 10 ? Buffer.from(r.uuid()) : Buffer.alloc(16);
    const isInternal = v >= 1 ? r.bool() : false;
    const partitions: PartitionModel[] = [];
    for (let j = 0, m = r.count(flex, 'Metadata partitions'); j < m; j++) {
      const pErr = r.int16();
      const partitionIndex = r.int32();
      const leaderId = r.int32();
      const leaderEpoch = v >= 7 ? r.int32() : -1;
      const replicaNodes = int32s(r, flex, 'Metadata replica nodes');
      const isrNodes = int32s(r, flex, 'Metadata ISR nodes');
      const offlineReplicas = v >= 5 ? int32s(r, flex, 'Metadata offline replicas') : [];
      if (flex) r.skipTaggedFields();
      partitions.push({ errorCode: pErr, partitionIndex, leaderId, leaderEpoch, replicaNodes, isrNodes, offlineReplicas });
    }
    const topicAuthorizedOperations = v >= 8 ? r.int32() : AUTHORIZED_OPERATIONS_UNKNOWN;
    if (flex) r.skipTaggedFields();
    topics.push({ errorCode, name, topicId, isInternal, partitions, topicAuthorizedOperations });
  }
  const clusterAuthorizedOperations = v >= 8 && v <= 10 ? r.int32() : AUTHORIZED_OPERATIONS_UNKNOWN;
  const errorCode = v >= 13 ? r.int16() : 0;
  if (flex) r.skipTaggedFields();
  expectEnd(r, `Metadata v${v} response`);
  return { throttleTimeMs, brokers, clusterId, controllerId, topics, clusterAuthorizedOperations, errorCode };
}

/**
 * Encodes a Metadata response body (no response header) at the given version; fields the
 * version lacks are left out, a null topic name is written as "" below v12. Throws RangeError
 * for values that do not fit their wire types.
 */
export function encodeMetadataResponse(version: number, model: MetadataModel): Buffer {
  checkVersion(version, 'response');
  const v = version;
  const flex = v >= METADATA_FIRST_FLEXIBLE;
  const w = new Writer(256);
  const str = (s: string): void => void (flex ? w.compactString(s) : w.string(s));
  const nstr = (s: string | null): void => void (flex ? w.compactNullableString(s) : w.nullableString(s));
  const len = (n: number): void => void (flex ? w.compactArrayLength(n) : w.arrayLength(n));
  const ints = (xs: readonly number[]): void => {
    len(xs.length);
    for (const x of xs) w.int32(x);
  };
  if (v >= 3) w.int32(model.throttleTimeMs);
  len(model.brokers.length);
  for (const b of model.brokers) {
    w.int32(b.nodeId);
    str(b.host);
    w.int32(b.port);
    if (v >= 1) nstr(b.rack);
    if (flex) w.taggedFields();
  }
  if (v >= 2) nstr(model.clusterId);
  if (v >= 1) w.int32(model.controllerId);
  len(model.topics.length);
  for (const t of model.topics) {
    w.int16(t.errorCode);
    if (v >= 12) nstr(t.name);
    else str(t.name ?? '');
    if (v >= 10) w.raw(uuidBytes(t.topicId));
    if (v >= 1) w.bool(t.isInternal);
    len(t.partitions.length);
    for (const p of t.partitions) {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
      if (v >= 7) w.int32(p.leaderEpoch);
      ints(p.replicaNodes);
      ints(p.isrNodes);
      if (v >= 5) ints(p.offlineReplicas);
      if (flex) w.taggedFields();
    }
    if (v >= 8) w.int32(t.topicAuthorizedOperations);
    if (flex) w.taggedFields();
  }
  if (v >= 8 && v <= 10) w.int32(model.clusterAuthorizedOperations);
  if (v >= 13) w.int16(model.errorCode);
  if (flex) w.taggedFields();
  return w.toBuffer();
}

/**
 * The Metadata response body (no header) the proxy sends when it answers from the stored
 * state: the brokers, cluster id and controller of the state (the UPSTREAM addresses: rewrite
 * them like a broker's response), the requested topics (all stored topics when
 * request.topics is null; duplicates answered once; in Kafka's order: unknown ids, the topics
 * found in request order, unknown names). A requested name not in the state gets
 * LEADER_NOT_AVAILABLE (5) when the request allowed auto-creation, else
 * UNKNOWN_TOPIC_OR_PARTITION (3); a topic asked for by an unknown id (or with neither name nor
 * id) gets UNKNOWN_TOPIC_ID (100) with a null name; both without partitions. Authorized
 * operations are INT32_MIN (not provided) unless the request asked for topic operations and the
 * stored topic has them; cluster operations are always INT32_MIN. Below v12 a topic asked for by
 * id only (which Kafka refuses with INVALID_REQUEST) is answered as an unknown id with name "".
 * Byte for byte what Kafka 4.4 answers from the same state (checked against a real broker).
 */
export function answerMetadata(version: number, state: ClusterState, request: MetadataRequest): Buffer {
  checkVersion(version, 'response');
  const byName = new Map<string, TopicModel>();
  const byId = new Map<string, TopicModel>();
  for (const t of state.topics) {
    if (t.name !== null) byName.set(t.name, t);
    if (!isZeroId(t.topicId)) byId.set(t.topicId.toString('hex'), t);
  }
  const answer = (t: TopicModel): TopicModel => ({
    errorCode: 0,
    name: t.name,
    topicId: t.topicId,
    isInternal: t.isInternal,
    partitions: t.partitions,
    topicAuthorizedOperations: request.includeTopicAuthorizedOperations ? t.topicAuthorizedOperations : AUTHORIZED_OPERATIONS_UNKNOWN,
  });
  const missing = (errorCode: number, name: string | null, topicId: Buffer): TopicModel => ({
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
  });
  let topics: TopicModel[];
  if (request.topics === null) {
    topics = state.topics.map(answer);
  } else {
    // Kafka's order: unknown ids first, then the topics found, then the unknown names
    const unknownIds: TopicModel[] = [];
    const found: TopicModel[] = [];
    const unknownNames: TopicModel[] = [];
    const seen = new Set<string>();
    for (const q of request.topics) {
      const key = q.name !== null ? `n:${q.name}` : `i:${(q.topicId ?? ZERO_TOPIC_ID).toString('hex')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (q.name !== null) {
        const t = byName.get(q.name);
        if (t) found.push(answer(t));
        else unknownNames.push(missing(request.allowAutoTopicCreation ? LEADER_NOT_AVAILABLE : UNKNOWN_TOPIC_OR_PARTITION, q.name, Buffer.alloc(16)));
      } else {
        const t = q.topicId === null ? undefined : byId.get(q.topicId.toString('hex'));
        if (t) found.push(answer(t));
        else unknownIds.push(missing(UNKNOWN_TOPIC_ID, null, q.topicId ?? Buffer.alloc(16)));
      }
    }
    topics = [...unknownIds, ...found, ...unknownNames];
  }
  return encodeMetadataResponse(version, {
    throttleTimeMs: 0,
    brokers: state.brokers,
    clusterId: state.clusterId,
    controllerId: state.controllerId,
    topics,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
    errorCode: 0,
  });
}
