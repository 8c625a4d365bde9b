// The dead-letter topic: a message that cannot be decoded, mapped or written goes here whole
// (key and value as read), with headers that say why and where it came from. Sent before the
// batch's offsets are committed, so a failure here holds the commit back instead of losing it.
import type { Producer } from 'kafkajs';

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  reason: string;
  error: string;
}

export class DeadLetters {
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.key,
        value: l.value,
        headers: {
          error: l.error,
          'error.reason': l.reason,
          'source.topic': l.topic,
          'source.partition': String(l.partition),
          'source.offset': l.offset,
        },
      })),
    });
  }
}
