// Test helpers shared by the messages/*.test.ts files: a raw Kafka connection (one request at a
// time in order, response body after its header) and kafkajs's own response decoders.
import net from 'node:net';
import { createRequire } from 'node:module';
import { FrameScanner, isFlexibleRequest, responseHeaderLength } from '../../../../src/proxy/kafka/framing.js';
import { Writer } from '../../../../src/proxy/kafka/wire.js';

/** One connection, requests answered in order; resolves to the response body after its header. */
export class RawKafka {
  private correlation = 0;
  private readonly scanner = new FrameScanner();
  private readonly waiting: { apiKey: number; apiVersion: number; correlationId: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.scanner.push(chunk);
      for (let f = this.scanner.next(); f !== null; f = this.scanner.next()) {
        const w = this.waiting.shift();
        if (!w) continue;
        const cid = f.readInt32BE(4);
        if (cid !== w.correlationId) {
          w.reject(new Error(`correlation id ${cid}, expected ${w.correlationId}`));
          continue;
        }
        w.resolve(Buffer.from(f.subarray(4 + responseHeaderLength(w.apiKey, w.apiVersion, f))));
      }
    });
    const fail = (e: Error): void => {
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the broker (unsupported version?)')));
  }
  static connect(port: number): Promise<RawKafka> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawKafka(s)));
      s.once('error', reject);
    });
  }
  request(apiKey: number, apiVersion: number, body: Buffer): Promise<Buffer> {
    const correlationId = ++this.correlation;
    const w = new Writer();
    w.int32(0).int16(apiKey).int16(apiVersion).int32(correlationId).nullableString('breakwater-messages-test');
    if (isFlexibleRequest(apiKey, apiVersion)) w.taggedFields([]);
    w.raw(body);
    const frame = w.toBuffer();
    frame.writeInt32BE(frame.length - 4, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`api ${apiKey} v${apiVersion}: no response in 10 s`)), 10_000);
      this.waiting.push({
        apiKey,
        apiVersion,
        correlationId,
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(frame);
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

type KafkajsDecoder = { decode(raw: Buffer): Promise<any>; parse(data: any): Promise<any> };
const require = createRequire(import.meta.url);

/** kafkajs's response decoder for requests/<api>/v<version> (decode takes the body after the correlation id). */
export function kafkajsResponse(api: 'metadata' | 'apiVersions' | 'findCoordinator', version: number): KafkajsDecoder {
  return require(`kafkajs/src/protocol/requests/${api}/v${version}/response.js`) as KafkajsDecoder;
}
