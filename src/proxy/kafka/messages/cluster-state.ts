// The last known state of the Kafka cluster, kept so that the proxy can answer ApiVersions and
// Metadata while the cluster is unreachable, and kept on disk (JSON) so that it survives a
// restart of the sidecar. Brokers are the UPSTREAM addresses (as the cluster advertises them);
// the proxy rewrites them on the way out like any broker response.
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BrokerModel, MetadataModel, PartitionModel, TopicModel } from './metadata.js';

export interface ClusterState {
  clusterId: string | null;
  controllerId: number;
  /** Upstream addresses. */
  brokers: BrokerModel[];
  /** Topics without errors, in the order the cluster listed them. */
  topics: TopicModel[];
  /** [apiKey, minVersion, maxVersion] as the cluster offered them (or as the proxy narrowed them). */
  apiVersions: [number, number, number][];
  /** When the state was last updated (epoch ms). */
  updatedAt: number;
}

/** The JSON form (format 1). topicId is Kafka's base64url form (22 characters, as kafka-topics prints it). */
export interface ClusterStateJson {
  format: 1;
  clusterId: string | null;
  controllerId: number;
  brokers: { nodeId: number; host: string; port: number; rack: string | null }[];
  topics: {
    name: string;
    topicId: string;
    isInternal: boolean;
    partitions: PartitionModel[];
    topicAuthorizedOperations: number;
  }[];
  apiVersions: [number, number, number][];
  /** ISO 8601. */
  updatedAt: string;
}

export const CLUSTER_STATE_FORMAT = 1;

/** A stored cluster state that cannot be used (what is wrong and where). */
export class ClusterStateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterStateError';
  }
}

const UNKNOWN_TOPIC_OR_PARTITION = 3;
const UNKNOWN_TOPIC_ID = 100;

/** An empty state (no brokers, no topics, no api versions). */
/** A partition with its own arrays (the state never shares them with a response or a caller). */
function copyPartition(p: PartitionModel): PartitionModel {
  return {
    errorCode: p.errorCode,
    partitionIndex: p.partitionIndex,
    leaderId: p.leaderId,
    leaderEpoch: p.leaderEpoch,
    replicaNodes: [...p.replicaNodes],
    isrNodes: [...p.isrNodes],
    offlineReplicas: [...p.offlineReplicas],
  };
}

export function emptyClusterState(now: number): ClusterState {
  return { clusterId: null, controllerId: -1, brokers: [], topics: [], apiVersions: [], updatedAt: now };
}

function copyTopic(t: TopicModel): TopicModel {
  return {
    errorCode: 0,
    name: t.name,
    topicId: Buffer.from(t.topicId),
    isInternal: t.isInternal,
    partitions: t.partitions.map(copyPartition),
    topicAuthorizedOperations: t.topicAuthorizedOperations,
  };
}

/**
 * The state after a Metadata response from the cluster. Brokers come from the response;
 * cluster id and controller too, unless the response lacks them (a null cluster id below v2,
 * controller -1 in v0) and the previous state has them. Topics: when the request asked for all
 * topics, the listed topics replace the stored ones; otherwise the listed ones are updated or
 * added by name. Topics with an error code are not stored; one listed with
 * UNKNOWN_TOPIC_OR_PARTITION (by name) or UNKNOWN_TOPIC_ID (by id) is removed from the state
 * (it was deleted), other errors (leader not available, authorization...) leave the stored entry
 * as it was. A response with a top-level error (v13+, e.g. REBOOTSTRAP_REQUIRED) returns the
 * previous state unchanged (when there is one). ApiVersions are kept.
 */
export function mergeMetadata(state: ClusterState | undefined, model: MetadataModel, requestedAllTopics: boolean, now: number): ClusterState {
  if (model.errorCode !== 0 && state !== undefined) return state;
  const prev = state ?? emptyClusterState(now);
  const listed = model.topics.filter((t) => t.errorCode === 0 && t.name !== null).map(copyTopic);
  let topics: TopicModel[];
  if (requestedAllTopics) {
    topics = listed;
  } else {
    const gone = new Set<string>();
    const goneIds = new Set<string>();
    for (const t of model.topics) {
      if (t.errorCode === UNKNOWN_TOPIC_OR_PARTITION && t.name !== null) gone.add(t.name);
      if (t.errorCode === UNKNOWN_TOPIC_ID && t.topicId.some((b) => b !== 0)) goneIds.add(t.topicId.toString('hex'));
    }
    const updated = new Map(listed.map((t) => [t.name as string, t]));
    topics = [];
    for (const t of prev.topics) {
      const name = t.name as string;
      if (gone.has(name) || goneIds.has(t.topicId.toString('hex'))) continue;
      const u = updated.get(name);
      if (u) {
        topics.push(u);
        updated.delete(name);
      } else topics.push(t);
    }
    topics.push(...updated.values());
  }
  return {
    clusterId: model.clusterId ?? prev.clusterId,
    controllerId: model.controllerId === -1 ? prev.controllerId : model.controllerId,
    brokers: model.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
    topics,
    apiVersions: prev.apiVersions,
    updatedAt: now,
  };
}

/** The state with the api versions the cluster (or the proxy, after narrowing) offers. */
export function withApiVersions(
  state: ClusterState | undefined,
  apiKeys: Iterable<readonly [number, number, number]>,
  now: number,
): ClusterState {
  const prev = state ?? emptyClusterState(now);
  return { ...prev, apiVersions: [...apiKeys].map(([k, min, max]) => [k, min, max] as [number, number, number]), updatedAt: now };
}

// ---------------------------------------------------------------- JSON

/** Kafka's Uuid string form: base64url without padding. */
export function topicIdToString(id: Uint8Array): string {
  return Buffer.from(id).toString('base64url');
}

/** A topic id from Kafka's base64url form (22 chars), standard base64 (24 with padding) or 32 hex digits. */
export function topicIdFromString(s: string): Buffer {
  let b: Buffer | undefined;
  if (/^[0-9a-fA-F]{32}$/.test(s)) b = Buffer.from(s, 'hex');
  else if (/^[A-Za-z0-9_-]{22}$/.test(s)) b = Buffer.from(s, 'base64url');
  else if (/^[A-Za-z0-9+/]{22}==$/.test(s)) b = Buffer.from(s, 'base64');
  if (b === undefined || b.length !== 16) throw new ClusterStateError(`topic id ${JSON.stringify(s)} is not a 16-byte id in base64url, base64 or hex`);
  return b;
}

export function toJSON(state: ClusterState): ClusterStateJson {
  return {
    format: CLUSTER_STATE_FORMAT,
    clusterId: state.clusterId,
    controllerId: state.controllerId,
    brokers: state.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
    topics: state.topics.map((t) => ({
      name: t.name ?? '',
      topicId: topicIdToString(t.topicId),
      isInternal: t.isInternal,
      partitions: t.partitions.map(copyPartition),
      topicAuthorizedOperations: t.topicAuthorizedOperations,
    })),
    apiVersions: state.apiVersions.map(([k, min, max]) => [k, min, max]),
    updatedAt: new Date(state.updatedAt).toISOString(),
  };
}

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new ClusterStateError(`cluster state: ${where} ${what}`);
}
function obj(v: unknown, where: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(where, 'is not an object');
  return v as Obj;
}
function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, 'is not an array');
  return v;
}
function int(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, `is not an integer in ${min}..${max}: ${JSON.stringify(v)}`);
  return v;
}
const i16 = (v: unknown, where: string): number => int(v, where, -0x8000, 0x7fff);
const i32 = (v: unknown, where: string): number => int(v, where, -0x80000000, 0x7fffffff);
function str(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, 'is not a string');
  if (Buffer.byteLength(v) > 0x7fff) fail(where, 'is longer than 32767 bytes');
  return v;
}
function nstr(v: unknown, where: string): string | null {
  return v === null ? null : str(v, where);
}
function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') fail(where, 'is not a boolean');
  return v;
}
function int32s(v: unknown, where: string): number[] {
  return arr(v, where).map((x, i) => i32(x, `${where}[${i}]`));
}

/** The state from its JSON form (a parsed value). Throws ClusterStateError naming the first invalid field. */
export function fromJSON(value: unknown): ClusterState {
  const o = obj(value, 'the document');
  if (o.format !== CLUSTER_STATE_FORMAT) fail('format', `is ${JSON.stringify(o.format)}, not ${CLUSTER_STATE_FORMAT} (written by another version of breakwater?)`);
  const brokers = arr(o.brokers, 'brokers').map((x, i) => {
    const b = obj(x, `brokers[${i}]`);
    return {
      nodeId: i32(b.nodeId, `brokers[${i}].nodeId`),
      host: str(b.host, `brokers[${i}].host`),
      port: i32(b.port, `brokers[${i}].port`),
      rack: nstr(b.rack ?? null, `brokers[${i}].rack`),
    };
  });
  const names = new Set<string>();
  const topics = arr(o.topics, 'topics').map((x, i): TopicModel => {
    const w = `topics[${i}]`;
    const t = obj(x, w);
    const name = str(t.name, `${w}.name`);
    if (names.has(name)) fail(`${w}.name`, `repeats topic ${JSON.stringify(name)}`);
    names.add(name);
    let topicId: Buffer;
    try {
      topicId = topicIdFromString(str(t.topicId, `${w}.topicId`));
    } catch (e) {
      fail(`${w}.topicId`, (e as Error).message);
    }
    return {
      errorCode: 0,
      name,
      topicId,
      isInternal: bool(t.isInternal, `${w}.isInternal`),
      partitions: arr(t.partitions, `${w}.partitions`).map((y, j) => {
        const pw = `${w}.partitions[${j}]`;
        const p = obj(y, pw);
        return {
          errorCode: i16(p.errorCode, `${pw}.errorCode`),
          partitionIndex: i32(p.partitionIndex, `${pw}.partitionIndex`),
          leaderId: i32(p.leaderId, `${pw}.leaderId`),
          leaderEpoch: i32(p.leaderEpoch, `${pw}.leaderEpoch`),
          replicaNodes: int32s(p.replicaNodes, `${pw}.replicaNodes`),
          isrNodes: int32s(p.isrNodes, `${pw}.isrNodes`),
          offlineReplicas: int32s(p.offlineReplicas, `${pw}.offlineReplicas`),
        };
      }),
      topicAuthorizedOperations: i32(t.topicAuthorizedOperations, `${w}.topicAuthorizedOperations`),
    };
  });
  const apiVersions = arr(o.apiVersions, 'apiVersions').map((x, i): [number, number, number] => {
    const e = arr(x, `apiVersions[${i}]`);
    if (e.length !== 3) fail(`apiVersions[${i}]`, 'is not [apiKey, min, max]');
    return [i16(e[0], `apiVersions[${i}][0]`), i16(e[1], `apiVersions[${i}][1]`), i16(e[2], `apiVersions[${i}][2]`)];
  });
  const updatedAt = typeof o.updatedAt === 'string' ? Date.parse(o.updatedAt) : NaN;
  if (!Number.isFinite(updatedAt)) fail('updatedAt', `is not an ISO 8601 time: ${JSON.stringify(o.updatedAt)}`);
  return {
    clusterId: nstr(o.clusterId, 'clusterId'),
    controllerId: i32(o.controllerId, 'controllerId'),
    brokers,
    topics,
    apiVersions,
    updatedAt,
  };
}

// ---------------------------------------------------------------- file

/**
 * Writes the state atomically: a temp file in the same directory (created if missing), fsync,
 * rename over `file`, then a best-effort fsync of the directory. A reader sees the old or the new
 * state, never a partial one. Rejects on I/O errors (disk full, permissions); the temp file is
 * removed then.
 */
export async function saveClusterState(file: string, state: ClusterState): Promise<void> {
  const dir = path.dirname(file);
  const data = `${JSON.stringify(toJSON(state), null, 2)}\n`;
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await fsp.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  try {
    const dh = await fsp.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // some file systems refuse fsync on a directory; the rename is done either way
  }
}

/**
 * Reads the state saved by saveClusterState. A missing file is undefined (first start);
 * an unreadable, non-JSON or invalid file is undefined too, with a ClusterStateError (the cause
 * attached) passed to onError for the caller to log. Never rejects.
 */
export async function loadClusterState(file: string, onError?: (err: ClusterStateError) => void): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    report(onError, new ClusterStateError(`cannot read the Kafka cluster state file ${file}: ${(err as Error).message}`, { cause: err }));
    return undefined;
  }
  try {
    return fromJSON(JSON.parse(text));
  } catch (err) {
    report(
      onError,
      new ClusterStateError(`ignoring the Kafka cluster state file ${file}: ${(err as Error).message}; it is replaced by the next state learned from the cluster`, { cause: err }),
    );
    return undefined;
  }
}

function report(onError: ((err: ClusterStateError) => void) | undefined, err: ClusterStateError): void {
  try {
    onError?.(err);
  } catch {
    // a failing logger must not turn a corrupt file into a crash
  }
}
