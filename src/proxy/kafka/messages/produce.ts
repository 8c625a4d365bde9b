// Produce (api key 0) request and response bodies, versions 0..9 (v9 is the first flexible
// version: compact strings/arrays/bytes and tagged-field sections). v10+ (KIP-951 leader
// endpoints, v13 topic ids) are not handled: the proxy narrows ApiVersions to Produce <= 9.
//
// Field layouts, from clients/src/main/resources/common/message/Produce{Request,Response}.json
// in apache/kafka:
//   Request:  TransactionalId (nullable string) v3+, Acks INT16, TimeoutMs INT32,
//             TopicData[Name, PartitionData[Index INT32, Records (nullable RECORDS = BYTES)]]
//   Response: Responses[Name, PartitionResponses[Index INT32, ErrorCode INT16, BaseOffset INT64,
//               LogAppendTimeMs INT64 v2+, LogStartOffset INT64 v5+,
//               RecordErrors[BatchIndex INT32, BatchIndexErrorMessage (nullable string)] v8+,
//               ErrorMessage (nullable string) v8+]],
//             ThrottleTimeMs INT32 v1+
// Tagged fields that Produce <= 9 does not define are skipped when parsing and never written.
// Bytes after the last field are ignored, as Kafka's own parsers do.
import { KafkaWireError, Reader, Writer } from '../wire.js';

export const PRODUCE_API_KEY = 0;
export const PRODUCE_MIN_VERSION = 0;
export const PRODUCE_MAX_VERSION = 9;
export const PRODUCE_FIRST_FLEXIBLE_VERSION = 9;
/** The first version with a TransactionalId, and the first that carries magic 2 record batches only. */
export const PRODUCE_MIN_ENCODE_VERSION = 3;

export interface ProducePartitionData {
  index: number;
  /** The partition's record batches: a view into the parsed buffer, not a copy. */
  records: Buffer | null;
}
export interface ProduceTopicData {
  name: string;
  partitions: ProducePartitionData[];
}
export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: ProduceTopicData[];
}

export interface ProduceRecordError {
  batchIndex: number;
  message: string | null;
}
export interface ProducePartitionResult {
  index: number;
  errorCode: number;
  /** Default -1 (what brokers send with an error). */
  baseOffset?: bigint;
  /** v2+; default -1 (CreateTime topics). */
  logAppendTimeMs?: bigint;
  /** v5+; default -1. */
  logStartOffset?: bigint;
  /** v8+; default empty. */
  recordErrors?: readonly ProduceRecordError[];
  /** v8+; default null. */
  errorMessage?: string | null;
}
export interface ProduceTopicResult {
  name: string;
  partitions: readonly ProducePartitionResult[];
}

export interface ParsedProducePartition {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  /** -1 before v2. */
  logAppendTimeMs: bigint;
  /** -1 before v5. */
  logStartOffset: bigint;
  /** Empty before v8. */
  recordErrors: ProduceRecordError[];
  /** null before v8. */
  errorMessage: string | null;
}
export interface ProduceResponse {
  topics: { name: string; partitions: ParsedProducePartition[] }[];
  /** 0 for v0. */
  throttleTimeMs: number;
}

function checkVersion(version: number, min = PRODUCE_MIN_VERSION): void {
  if (!Number.isInteger(version) || version < min || version > PRODUCE_MAX_VERSION) {
    throw new KafkaWireError(
      'unsupported_version',
      `Produce version ${version} is outside ${min}..${PRODUCE_MAX_VERSION}, the versions this proxy understands: narrow ApiVersions so clients use Produce <= ${PRODUCE_MAX_VERSION}`,
    );
  }
}

// ---------------------------------------------------------------- reading helpers

/** Skips a (nullable) string without decoding it. */
function skipString(r: Reader, flex: boolean, nullable: boolean, what: string): void {
  const at = r.pos;
  let len: number;
  if (flex) {
    len = r.uvarint() - 1;
  } else {
    len = r.int16();
    if (len < -1) throw new KafkaWireError('malformed', `negative ${what} length ${len} at byte ${at}`, at);
  }
  if (len === -1) {
    if (!nullable) throw new KafkaWireError('malformed', `null ${what} at byte ${at}`, at);
    return;
  }
  r.skip(len, what);
}

// ---------------------------------------------------------------- request

/** Parses a Produce request body (after the request header). Records are views into `body`. */
export function parseProduceRequest(version: number, body: Buffer): ProduceRequest {
  checkVersion(version);
  const flex = version >= PRODUCE_FIRST_FLEXIBLE_VERSION;
  const r = new Reader(body);
  const transactionalId = version >= 3 ? (flex ? r.compactNullableString() : r.nullableString()) : null;
  const acks = r.int16();
  const timeoutMs = r.int32();
  const nt = r.count(flex, 'Produce topic data');
  const topics: ProduceTopicData[] = [];
  for (let i = 0; i < nt; i++) {
    const name = flex ? r.compactString() : r.string();
    const np = r.count(flex, 'Produce partition data');
    const partitions: ProducePartitionData[] = [];
    for (let j = 0; j < np; j++) {
      const index = r.int32();
      const records = flex ? r.compactNullableBytes() : r.nullableBytes();
      if (flex) r.skipTaggedFields();
      partitions.push({ index, records });
    }
    if (flex) r.skipTaggedFields();
    topics.push({ name, partitions });
  }
  if (flex) r.skipTaggedFields();
  return { transactionalId, acks, timeoutMs, topics };
}

/** The Acks of a Produce request body, reading nothing else (the TransactionalId is skipped, not decoded). */
export function produceAcks(version: number, body: Buffer): number {
  checkVersion(version);
  const r = new Reader(body);
  if (version >= 3) skipString(r, version >= PRODUCE_FIRST_FLEXIBLE_VERSION, true, 'TransactionalId');
  return r.int16();
}

function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/**
 * Encodes a Produce request body, versions 3..9 (record batches of magic 2; v0-2 carry legacy
 * message sets, which the proxy never builds). One exactly sized allocation besides the
 * string conversions.
 */
export function encodeProduceRequest(version: number, req: ProduceRequest): Buffer {
  checkVersion(version, PRODUCE_MIN_ENCODE_VERSION);
  if (!Number.isInteger(req.acks) || req.acks < -0x8000 || req.acks > 0x7fff) throw new RangeError(`acks ${req.acks} is not an INT16`);
  const flex = version >= PRODUCE_FIRST_FLEXIBLE_VERSION;
  const strSize = (s: string | null): number => {
    if (s === null) return flex ? 1 : 2;
    const n = Buffer.byteLength(s, 'utf8');
    return flex ? uvarintSize(n + 1) + n : 2 + n;
  };
  const arrSize = (n: number): number => (flex ? uvarintSize(n + 1) : 4);
  const tags = flex ? 1 : 0;
  let size = strSize(req.transactionalId) + 2 + 4 + arrSize(req.topics.length) + tags;
  for (const t of req.topics) {
    size += strSize(t.name) + arrSize(t.partitions.length) + tags;
    for (const p of t.partitions) {
      const n = p.records === null ? 0 : p.records.length;
      size += 4 + (flex ? (p.records === null ? 1 : uvarintSize(n + 1) + n) : 4 + n) + tags;
    }
  }
  const w = new Writer(size);
  if (flex) w.compactNullableString(req.transactionalId);
  else w.nullableString(req.transactionalId);
  w.int16(req.acks).int32(req.timeoutMs);
  if (flex) w.compactArrayLength(req.topics.length);
  else w.arrayLength(req.topics.length);
  for (const t of req.topics) {
    if (flex) w.compactString(t.name).compactArrayLength(t.partitions.length);
    else w.string(t.name).arrayLength(t.partitions.length);
    for (const p of t.partitions) {
      w.int32(p.index);
      if (flex) w.compactNullableBytes(p.records).uvarint(0);
      else w.nullableBytes(p.records);
    }
    if (flex) w.uvarint(0);
  }
  if (flex) w.uvarint(0);
  return w.pos === size ? w.view() : w.toBuffer();
}

// ---------------------------------------------------------------- response

/**
 * Encodes a Produce response body. Defaults: BaseOffset, LogAppendTimeMs and LogStartOffset
 * -1 (what a broker sends with an error), RecordErrors empty, ErrorMessage null.
 */
export function encodeProduceResponse(version: number, topics: readonly ProduceTopicResult[], throttleTimeMs = 0): Buffer {
  checkVersion(version);
  const flex = version >= PRODUCE_FIRST_FLEXIBLE_VERSION;
  const w = new Writer(16 + topics.length * 64);
  if (flex) w.compactArrayLength(topics.length);
  else w.arrayLength(topics.length);
  for (const t of topics) {
    if (flex) w.compactString(t.name).compactArrayLength(t.partitions.length);
    else w.string(t.name).arrayLength(t.partitions.length);
    for (const p of t.partitions) {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset ?? -1n);
      if (version >= 2) w.int64(p.logAppendTimeMs ?? -1n);
      if (version >= 5) w.int64(p.logStartOffset ?? -1n);
      if (version >= 8) {
        const errors = p.recordErrors ?? [];
        if (flex) w.compactArrayLength(errors.length);
        else w.arrayLength(errors.length);
        for (const e of errors) {
          w.int32(e.batchIndex);
          if (flex) w.compactNullableString(e.message).uvarint(0);
          else w.nullableString(e.message);
        }
        const message = p.errorMessage ?? null;
        if (flex) w.compactNullableString(message);
        else w.nullableString(message);
      }
      if (flex) w.uvarint(0);
    }
    if (flex) w.uvarint(0);
  }
  if (version >= 1) w.int32(throttleTimeMs);
  if (flex) w.uvarint(0);
  return w.toBuffer();
}

/** Parses a Produce response body (after the response header). */
export function parseProduceResponse(version: number, body: Buffer): ProduceResponse {
  checkVersion(version);
  const flex = version >= PRODUCE_FIRST_FLEXIBLE_VERSION;
  const r = new Reader(body);
  const nt = r.count(flex, 'Produce responses');
  const topics: ProduceResponse['topics'] = [];
  for (let i = 0; i < nt; i++) {
    const name = flex ? r.compactString() : r.string();
    const np = r.count(flex, 'Produce partition responses');
    const partitions: ParsedProducePartition[] = [];
    for (let j = 0; j < np; j++) {
      const index = r.int32();
      const errorCode = r.int16();
      const baseOffset = r.int64();
      const logAppendTimeMs = version >= 2 ? r.int64() : -1n;
      const logStartOffset = version >= 5 ? r.int64() : -1n;
      const recordErrors: ProduceRecordError[] = [];
      let errorMessage: string | null = null;
      if (version >= 8) {
        const ne = r.count(flex, 'Produce record errors');
        for (let k = 0; k < ne; k++) {
          const batchIndex = r.int32();
          const message = flex ? r.compactNullableString() : r.nullableString();
          if (flex) r.skipTaggedFields();
          recordErrors.push({ batchIndex, message });
        }
        errorMessage = flex ? r.compactNullableString() : r.nullableString();
      }
      if (flex) r.skipTaggedFields();
      partitions.push({ index, errorCode, baseOffset, logAppendTimeMs, logStartOffset, recordErrors, errorMessage });
    }
    if (flex) r.skipTaggedFields();
    topics.push({ name, partitions });
  }
  const throttleTimeMs = version >= 1 ? r.int32() : 0;
  if (flex) r.skipTaggedFields();
  return { topics, throttleTimeMs };
}

/**
 * The first partition ErrorCode of a Produce response body that is in `codes`, or undefined
 * when there is none. Skips names and messages without decoding them and allocates nothing
 * per partition, so it can run on every produce response. Throws KafkaWireError when the
 * body is truncated or malformed before a match is found.
 */
export function firstProduceErrorIn(version: number, body: Buffer, codes: ReadonlySet<number>): number | undefined {
  checkVersion(version);
  const flex = version >= PRODUCE_FIRST_FLEXIBLE_VERSION;
  const r = new Reader(body);
  const nt = r.count(flex, 'Produce responses');
  for (let i = 0; i < nt; i++) {
    skipString(r, flex, false, 'topic name');
    const np = r.count(flex, 'Produce partition responses');
    for (let j = 0; j < np; j++) {
      r.skip(4, 'partition index');
      const errorCode = r.int16();
      if (codes.has(errorCode)) return errorCode;
      r.skip(version >= 5 ? 24 : version >= 2 ? 16 : 8, 'offsets');
      if (version >= 8) {
        const ne = r.count(flex, 'Produce record errors');
        for (let k = 0; k < ne; k++) {
          r.skip(4, 'batch index');
          skipString(r, flex, true, 'record error message');
          if (flex) r.skipTaggedFields();
        }
        skipString(r, flex, true, 'error message');
      }
      if (flex) r.skipTaggedFields();
    }
    if (flex) r.skipTaggedFields();
  }
  return undefined;
}
