// Fetch (api key 1) request bodies, versions 0..15, and the empty Fetch response the proxy
// answers with when it has no data to give (upstream down, a consumer parked). v12+ are
// flexible, v13+ name topics by id, v15 moves ReplicaId into the ReplicaState tagged field.
// v16+ (KIP-951 NodeEndpoints) are not handled: the proxy narrows ApiVersions to Fetch <= 15.
//
// Field layouts, from clients/src/main/resources/common/message/Fetch{Request,Response}.json:
//   Request:  ClusterId (tag 0, v12+), ReplicaId INT32 v0-14, ReplicaState (tag 1, v15+:
//             ReplicaId INT32, ReplicaEpoch INT64), MaxWaitMs INT32, MinBytes INT32,
//             MaxBytes INT32 v3+, IsolationLevel INT8 v4+, SessionId INT32 v7+,
//             SessionEpoch INT32 v7+,
//             Topics[Topic (string) v0-12 | TopicId (uuid) v13+, Partitions[Partition INT32,
//               CurrentLeaderEpoch INT32 v9+, FetchOffset INT64, LastFetchedEpoch INT32 v12+,
//               LogStartOffset INT64 v5+, PartitionMaxBytes INT32]],
//             ForgottenTopicsData[Topic v7-12 | TopicId v13+, Partitions []INT32] v7+,
//             RackId (string) v11+
//   Response: ThrottleTimeMs INT32 v1+, ErrorCode INT16 v7+, SessionId INT32 v7+,
//             Responses[...]
import { KafkaWireError, Reader, Writer } from '../wire.js';

export const FETCH_API_KEY = 1;
export const FETCH_MIN_VERSION = 0;
export const FETCH_MAX_VERSION = 15;
export const FETCH_FIRST_FLEXIBLE_VERSION = 12;
export const FETCH_FIRST_TOPIC_ID_VERSION = 13;

export interface FetchTopic {
  /** Topic name (v0-12); null from v13. */
  name: string | null;
  /** Topic id (v13+, a 16-byte view into the request); null before v13. */
  topicId: Buffer | null;
  /** Partition indexes, in request order. */
  partitions: number[];
}

export interface FetchRequest {
  /** -1 for consumers; from ReplicaState (tag 1) in v15, -1 when absent. */
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  /** 0x7fffffff before v3. */
  maxBytes: number;
  /** 0 (read uncommitted) before v4. */
  isolationLevel: number;
  /** 0 (no session) before v7. */
  sessionId: number;
  /** -1 (sessionless) before v7. */
  sessionEpoch: number;
  topics: FetchTopic[];
  /** Partitions an incremental fetch removes from its session (v7+; empty before). */
  forgottenTopics: FetchTopic[];
  /** '' before v11. */
  rackId: string;
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < FETCH_MIN_VERSION || version > FETCH_MAX_VERSION) {
    throw new KafkaWireError(
      'unsupported_version',
      `Fetch version ${version} is outside ${FETCH_MIN_VERSION}..${FETCH_MAX_VERSION}, the versions this proxy understands: narrow ApiVersions so clients use Fetch <= ${FETCH_MAX_VERSION}`,
    );
  }
}

/** Parses a Fetch request body (after the request header). */
export function parseFetchRequest(version: number, body: Buffer): FetchRequest {
  checkVersion(version);
  const flex = version >= FETCH_FIRST_FLEXIBLE_VERSION;
  const ids = version >= FETCH_FIRST_TOPIC_ID_VERSION;
  const r = new Reader(body);
  let replicaId = version <= 14 ? r.int32() : -1;
  const maxWaitMs = r.int32();
  const minBytes = r.int32();
  const maxBytes = version >= 3 ? r.int32() : 0x7fffffff;
  const isolationLevel = version >= 4 ? r.int8() : 0;
  const sessionId = version >= 7 ? r.int32() : 0;
  const sessionEpoch = version >= 7 ? r.int32() : -1;
  // per partition: Partition, CurrentLeaderEpoch v9+, FetchOffset, LastFetchedEpoch v12+, LogStartOffset v5+, PartitionMaxBytes
  const partitionRest = 8 + (version >= 9 ? 4 : 0) + (version >= 12 ? 4 : 0) + (version >= 5 ? 8 : 0) + 4;
  const topicOf = (partitionsOf: () => number[]): FetchTopic => {
    const name = ids ? null : flex ? r.compactString() : r.string();
    const topicId = ids ? r.uuid() : null;
    const partitions = partitionsOf();
    if (flex) r.skipTaggedFields();
    return { name, topicId, partitions };
  };
  const nt = r.count(flex, 'Fetch topics');
  const topics: FetchTopic[] = [];
  for (let i = 0; i < nt; i++) {
    topics.push(
      topicOf(() => {
        const np = r.count(flex, 'Fetch partitions');
        const out: number[] = [];
        for (let j = 0; j < np; j++) {
          out.push(r.int32());
          r.skip(partitionRest, 'fetch partition fields');
          if (flex) r.skipTaggedFields();
        }
        return out;
      }),
    );
  }
  const forgottenTopics: FetchTopic[] = [];
  if (version >= 7) {
    const nf = r.count(flex, 'Fetch forgotten topics');
    for (let i = 0; i < nf; i++) {
      forgottenTopics.push(
        topicOf(() => {
          const np = r.count(flex, 'Fetch forgotten partitions');
          const out: number[] = [];
          for (let j = 0; j < np; j++) out.push(r.int32());
          return out;
        }),
      );
    }
  }
  const rackId = version >= 11 ? (flex ? r.compactString() : r.string()) : '';
  if (flex) {
    for (const f of r.taggedFields()) {
      // ReplicaState (v15+): ReplicaId INT32, ReplicaEpoch INT64, tagged fields
      if (f.tag === 1 && version >= 15) {
        if (f.data.length < 4) throw new KafkaWireError('malformed', `Fetch ReplicaState tagged field of ${f.data.length} bytes`, r.pos);
        replicaId = f.data.readInt32BE(0);
      }
    }
  }
  return { replicaId, maxWaitMs, minBytes, maxBytes, isolationLevel, sessionId, sessionEpoch, topics, forgottenTopics, rackId };
}

/**
 * A Fetch response body with no data: ThrottleTimeMs 0 (v1+), ErrorCode 0 and the given
 * SessionId (v7+), an empty Responses array, and an empty tagged-field section (v12+).
 */
export function encodeEmptyFetchResponse(version: number, sessionId = 0): Buffer {
  checkVersion(version);
  const flex = version >= FETCH_FIRST_FLEXIBLE_VERSION;
  const w = new Writer(16);
  if (version >= 1) w.int32(0);
  if (version >= 7) w.int16(0).int32(sessionId);
  if (flex) w.compactArrayLength(0).taggedFields([]);
  else w.arrayLength(0);
  return w.toBuffer();
}
