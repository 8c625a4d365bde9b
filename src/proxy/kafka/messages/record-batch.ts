// A look at the record batches (message format v2, "magic 2") of one partition in a Produce
// request or Fetch response, without decoding any record: only the fixed batch header.
//
// RecordBatch (clients/src/main/java/org/apache/kafka/common/record/DefaultRecordBatch.java):
//   offset  0  BaseOffset            INT64
//           8  BatchLength           INT32  bytes after this field (PartitionLeaderEpoch .. end)
//          12  PartitionLeaderEpoch  INT32
//          16  Magic                 INT8   2 (0/1: the legacy message sets, same byte position)
//          17  CRC                   UINT32 CRC-32C of Attributes .. end
//          21  Attributes            INT16  bits 0-2 compression, 3 timestamp type,
//                                           4 transactional, 5 control, 6 delete horizon
//          23  LastOffsetDelta       INT32
//          27  BaseTimestamp         INT64
//          35  MaxTimestamp          INT64
//          43  ProducerId            INT64  -1 = neither idempotent nor transactional
//          51  ProducerEpoch         INT16
//          53  BaseSequence          INT32
//          57  RecordsCount          INT32
//          61  Records ...
// The CRC is not verified here (the broker does that); lengths are.
import { KafkaWireError } from '../wire.js';

/** Bytes of a batch header up to and including RecordsCount. */
export const RECORD_BATCH_HEADER_BYTES = 61;
/** BaseOffset + BatchLength: the bytes BatchLength does not count. */
export const LOG_OVERHEAD = 12;
const MAGIC_OFFSET = 16;
const ATTRIBUTES_OFFSET = 21;
const MAX_TIMESTAMP_OFFSET = 35;
const PRODUCER_ID_OFFSET = 43;
const RECORDS_COUNT_OFFSET = 57;

export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

export interface RecordsSummary {
  /** Record batches found. */
  batches: number;
  /** Sum of the batches' RecordsCount. */
  records: number;
  /** Some batch has a producer id (>= 0). */
  idempotent: boolean;
  /** Some batch has the transactional attribute. */
  transactional: boolean;
  /** Some batch is a control batch (transaction marker). */
  control: boolean;
  /** Largest MaxTimestamp of the batches; -1 when there are none. */
  maxTimestamp: bigint;
}

/**
 * Walks the concatenated record batches of one partition (BaseOffset + BatchLength framing)
 * and summarizes their headers. Throws KafkaWireError 'malformed' for a BatchLength that is
 * smaller than a batch header or runs past the end of `records` (also for a trailing piece
 * shorter than BaseOffset + BatchLength), or a negative RecordsCount; 'unsupported_version' for
 * a legacy message set (magic 0 or 1) or an unknown magic. Meant for Produce records, which
 * must be whole batches: a Fetch response may end in a partial batch, which this rejects.
 */
export function inspectRecords(records: Buffer): RecordsSummary {
  let batches = 0;
  let count = 0;
  let idempotent = false;
  let transactional = false;
  let control = false;
  let maxTimestamp = -1n;
  let pos = 0;
  const end = records.length;
  while (pos < end) {
    if (end - pos < LOG_OVERHEAD) {
      throw new KafkaWireError(
        'malformed',
        `record batch ${batches} at byte ${pos}: ${end - pos} bytes left, fewer than BaseOffset + BatchLength (${LOG_OVERHEAD})`,
        pos,
      );
    }
    const length = records.readInt32BE(pos + 8);
    const total = LOG_OVERHEAD + length;
    // the magic byte sits at the same place in legacy message sets: look at it first, so that
    // a v0/v1 message set (whose entries may be smaller than a v2 batch header) is named as such
    if (end - pos > MAGIC_OFFSET && length >= MAGIC_OFFSET - LOG_OVERHEAD + 1) {
      const magic = records.readInt8(pos + MAGIC_OFFSET);
      if (magic === 0 || magic === 1) {
        throw new KafkaWireError(
          'unsupported_version',
          `record batch ${batches} at byte ${pos} is a legacy message set (magic ${magic}); only record batches with magic 2 (Kafka 0.11+ clients, Produce v3+) are supported`,
          pos,
        );
      }
    }
    if (length < RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD) {
      throw new KafkaWireError(
        'malformed',
        `record batch ${batches} at byte ${pos}: BatchLength ${length} is smaller than a batch header (${RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD})`,
        pos,
      );
    }
    if (total > end - pos) {
      throw new KafkaWireError(
        'malformed',
        `record batch ${batches} at byte ${pos}: BatchLength ${length} runs ${total - (end - pos)} bytes past the end of the records (${end} bytes)`,
        pos,
      );
    }
    const magic = records.readInt8(pos + MAGIC_OFFSET);
    if (magic !== 2) throw new KafkaWireError('unsupported_version', `record batch ${batches} at byte ${pos} has unknown magic ${magic} (expected 2)`, pos);
    const attributes = records.readInt16BE(pos + ATTRIBUTES_OFFSET);
    if ((attributes & ATTR_TRANSACTIONAL) !== 0) transactional = true;
    if ((attributes & ATTR_CONTROL) !== 0) control = true;
    // producer id >= 0 <=> the sign bit of its high word is clear (no BigInt needed)
    if (records.readInt32BE(pos + PRODUCER_ID_OFFSET) >= 0) idempotent = true;
    const n = records.readInt32BE(pos + RECORDS_COUNT_OFFSET);
    if (n < 0) throw new KafkaWireError('malformed', `record batch ${batches} at byte ${pos}: negative RecordsCount ${n}`, pos + RECORDS_COUNT_OFFSET);
    count += n;
    const ts = records.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET);
    if (ts > maxTimestamp) maxTimestamp = ts;
    batches++;
    pos += total;
  }
  return { batches, records: count, idempotent, transactional, control, maxTimestamp };
}
