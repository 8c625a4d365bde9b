// Kafka framing: every request and response is INT32 size (excluding itself) + body.
// FrameScanner finds complete frames in a byte stream that arrives in chunks; the request
// header parser and the response header length tell where a body starts.
import { KafkaWireError, Reader } from './wire.js';

/** Default largest frame accepted (Kafka's socket.request.max.bytes default is 100 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;

/**
 * Finds complete size-prefixed frames across chunks. push() a chunk, then call next() until it
 * returns null. A frame that lies entirely inside one pushed chunk is returned as a view of
 * that chunk (no copy); only frames that span chunks are assembled into a new Buffer.
 * The returned frame includes its 4-byte size prefix (forward it as is; body at offset 4).
 */
export class FrameScanner {
  private chunks: Buffer[] = [];
  /** Read offset into chunks[0]. */
  private head = 0;
  private buffered = 0;

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held that do not yet form a complete frame (or have not been taken yet). */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete frame (size prefix included), or null when more bytes are needed. Throws KafkaWireError 'frame_too_large'. */
  next(): Buffer | null {
    if (this.buffered < 4) return null;
    const size = this.peekInt32();
    if (size < 0 || size > this.maxFrameBytes) {
      throw new KafkaWireError(
        'frame_too_large',
        `Kafka frame declares ${size} bytes, outside 0..${this.maxFrameBytes}: the peer is not speaking the Kafka protocol (TLS or HTTP on a plaintext Kafka port?) or sends frames larger than the configured maximum`,
      );
    }
    const total = size + 4;
    if (this.buffered < total) return null;
    const first = this.chunks[0]!;
    let frame: Buffer;
    if (first.length - this.head >= total) {
      frame = first.subarray(this.head, this.head + total);
      this.head += total;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
    } else {
      frame = Buffer.allocUnsafe(total);
      let filled = 0;
      while (filled < total) {
        const c = this.chunks[0]!;
        const take = Math.min(c.length - this.head, total - filled);
        c.copy(frame, filled, this.head, this.head + take);
        filled += take;
        this.head += take;
        if (this.head === c.length) {
          this.chunks.shift();
          this.head = 0;
        }
      }
    }
    this.buffered -= total;
    return frame;
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length - this.head >= 4) return first.readInt32BE(this.head);
    const b = Buffer.allocUnsafe(4);
    let filled = 0;
    let i = 0;
    let off = this.head;
    while (filled < 4) {
      const c = this.chunks[i]!;
      const take = Math.min(c.length - off, 4 - filled);
      c.copy(b, filled, off, off + take);
      filled += take;
      i++;
      off = 0;
    }
    return b.readInt32BE(0);
  }
}

/**
 * First flexible request version per api key (request header v2, response header v1 except
 * ApiVersions), from the "flexibleVersions" of the request specs in
 * clients/src/main/resources/common/message/. Absent = unknown key. Infinity = never flexible.
 */
export const FIRST_FLEXIBLE_REQUEST_VERSION: ReadonlyMap<number, number> = new Map<number, number>([
  [0, 9], // Produce
  [1, 12], // Fetch
  [2, 6], // ListOffsets
  [3, 9], // Metadata
  [4, 4], // LeaderAndIsr (inter-broker, removed in 4.0)
  [5, 2], // StopReplica (inter-broker, removed in 4.0)
  [6, 6], // UpdateMetadata (inter-broker, removed in 4.0)
  [7, 3], // ControlledShutdown
  [8, 8], // OffsetCommit
  [9, 6], // OffsetFetch
  [10, 3], // FindCoordinator
  [11, 6], // JoinGroup
  [12, 4], // Heartbeat
  [13, 4], // LeaveGroup
  [14, 4], // SyncGroup
  [15, 5], // DescribeGroups
  [16, 3], // ListGroups
  [17, Infinity], // SaslHandshake
  [18, 3], // ApiVersions
  [19, 5], // CreateTopics
  [20, 4], // DeleteTopics
  [21, 2], // DeleteRecords
  [22, 2], // InitProducerId
  [23, 4], // OffsetForLeaderEpoch
  [24, 3], // AddPartitionsToTxn
  [25, 3], // AddOffsetsToTxn
  [26, 3], // EndTxn
  [27, 1], // WriteTxnMarkers
  [28, 3], // TxnOffsetCommit
  [29, 2], // DescribeAcls
  [30, 2], // CreateAcls
  [31, 2], // DeleteAcls
  [32, 4], // DescribeConfigs
  [33, 2], // AlterConfigs
  [34, 2], // AlterReplicaLogDirs
  [35, 2], // DescribeLogDirs
  [36, 2], // SaslAuthenticate
  [37, 2], // CreatePartitions
  [38, 2], // CreateDelegationToken
  [39, 2], // RenewDelegationToken
  [40, 2], // ExpireDelegationToken
  [41, 2], // DescribeDelegationToken
  [42, 2], // DeleteGroups
  [43, 2], // ElectLeaders
  [44, 1], // IncrementalAlterConfigs
  [45, 0], // AlterPartitionReassignments
  [46, 0], // ListPartitionReassignments
  [47, Infinity], // OffsetDelete
  [48, 1], // DescribeClientQuotas
  [49, 1], // AlterClientQuotas
  [50, 0], // DescribeUserScramCredentials
  [51, 0], // AlterUserScramCredentials
  [52, 0], // Vote
  [53, 1], // BeginQuorumEpoch
  [54, 1], // EndQuorumEpoch
  [55, 0], // DescribeQuorum
  [56, 0], // AlterPartition
  [57, 0], // UpdateFeatures
  [58, 0], // Envelope
  [59, 0], // FetchSnapshot
  [60, 0], // DescribeCluster
  [61, 0], // DescribeProducers
  [62, 0], // BrokerRegistration
  [63, 0], // BrokerHeartbeat
  [64, 0], // UnregisterBroker
  [65, 0], // DescribeTransactions
  [66, 0], // ListTransactions
  [67, 0], // AllocateProducerIds
  [68, 0], // ConsumerGroupHeartbeat
  [69, 0], // ConsumerGroupDescribe
]);

/** Whether requests of this api key/version are flexible; undefined for an api key not in the table. */
export function isFlexibleRequest(apiKey: number, apiVersion: number): boolean | undefined {
  const first = FIRST_FLEXIBLE_REQUEST_VERSION.get(apiKey);
  if (first === undefined) return apiKey >= 70 ? true : undefined; // every api added since KIP-482 is flexible from v0
  return apiVersion >= first;
}

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Header v2 (flexible request, with a tagged-field section) or v1. */
  flexible: boolean;
  /** Offset in the frame where the request body starts. */
  headerEnd: number;
}

/**
 * Parses the request header of a frame (with or without the 4-byte size prefix: pass
 * `offset` 4 for a frame from FrameScanner, which is the default). Header v1 =
 * api_key, api_version, correlation_id, client_id (classic nullable string); v2 adds a
 * tagged-field section. Throws KafkaWireError when the header is truncated or malformed.
 */
export function parseRequestHeader(frame: Buffer, offset = 4): RequestHeader {
  const r = new Reader(frame, offset);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  const flexible = isFlexibleRequest(apiKey, apiVersion) ?? false;
  if (flexible) r.skipTaggedFields();
  return { apiKey, apiVersion, correlationId, clientId, flexible, headerEnd: r.pos };
}

/**
 * Where the request body starts in a frame from FrameScanner (size prefix included), like
 * parseRequestHeader().headerEnd but without decoding the client id: the per-request path.
 * The frame must hold at least the 14 bytes up to the client id length.
 */
export function requestBodyOffset(frame: Buffer, flexible: boolean): number {
  const len = frame.readInt16BE(12);
  const o = 14 + (len > 0 ? len : 0);
  if (o > frame.length) throw new KafkaWireError('truncated', `request header client id runs past the end of the frame`);
  if (!flexible) return o;
  if (frame[o] === 0) return o + 1; // no tagged fields
  return parseRequestHeader(frame).headerEnd;
}

/**
 * Length of the response header that starts at `offset` in `frame` (default 4: a frame from
 * FrameScanner, size prefix included; the body then starts at offset + the returned length).
 * v0 is the INT32 correlation id; v1 (responses to flexible requests, except ApiVersions,
 * always v0) adds a tagged-field section. Throws KafkaWireError when truncated.
 */
export function responseHeaderLength(apiKey: number, apiVersion: number, frame: Buffer, offset = 4): number {
  const r = new Reader(frame, offset);
  r.int32();
  if (apiKey !== 18 && (isFlexibleRequest(apiKey, apiVersion) ?? false)) r.skipTaggedFields();
  return r.pos - offset;
}
