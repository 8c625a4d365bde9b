// ClickHouse column types as `system.columns.type` reports them (18.16 and
// current), parsed once at startup so the hot path switches on `kind` instead
// of re-reading type strings. Anything the CDC encoders cannot write is
// `unsupported` with a reason, for the startup check to reject with a message.

interface Base {
  nullable: boolean;
  lowCardinality: boolean;
  /** The type string as given (trimmed). */
  raw: string;
}

export type ClickHouseType =
  | (Base & { kind: 'string'; /** FixedString(n): max bytes */ fixedLength?: number })
  | (Base & { kind: 'uuid' })
  | (Base & { kind: 'int' | 'uint'; bits: 8 | 16 | 32 | 64 | 128 | 256 })
  | (Base & { kind: 'float'; bits: 32 | 64 })
  | (Base & { kind: 'decimal'; precision: number; scale: number })
  | (Base & { kind: 'date'; /** Date32 (1900..2299) rather than Date (1970..2149) */ extended: boolean })
  | (Base & { kind: 'datetime'; timezone?: string })
  | (Base & { kind: 'datetime64'; precision: number; timezone?: string })
  | (Base & { kind: 'bool' })
  | (Base & { kind: 'enum'; bits: 8 | 16; values: ReadonlyArray<readonly [name: string, value: number]> })
  | (Base & { kind: 'unsupported'; reason: string });

export type ClickHouseTypeKind = ClickHouseType['kind'];

const INT_BITS: Record<string, 8 | 16 | 32 | 64 | 128 | 256> = { 8: 8, 16: 16, 32: 32, 64: 64, 128: 128, 256: 256 };
const DECIMAL_PRECISION: Record<string, number> = { Decimal32: 9, Decimal64: 18, Decimal128: 38, Decimal256: 76 };

/** A malformed type string; parseClickHouseType turns it into `unsupported`. */
class TypeSyntaxError extends Error {}

/** Tiny cursor over a type string: identifiers, numbers, quoted strings, punctuation. */
class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }
  peek(): string | undefined {
    this.skipSpace();
    return this.text[this.pos];
  }
  eat(ch: string): boolean {
    if (this.peek() !== ch) return false;
    this.pos++;
    return true;
  }
  expect(ch: string): void {
    if (!this.eat(ch)) throw new TypeSyntaxError(`expected '${ch}' at offset ${this.pos}`);
  }
  ident(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z0-9_]/.test(this.text[this.pos] as string)) this.pos++;
    if (start === this.pos) throw new TypeSyntaxError(`expected a type name at offset ${start}`);
    return this.text.slice(start, this.pos);
  }
  int(): number {
    this.skipSpace();
    const start = this.pos;
    if (this.text[this.pos] === '-') this.pos++;
    while (this.pos < this.text.length && /[0-9]/.test(this.text[this.pos] as string)) this.pos++;
    const s = this.text.slice(start, this.pos);
    if (s === '' || s === '-') throw new TypeSyntaxError(`expected a number at offset ${start}`);
    return Number(s);
  }
  /** A single-quoted string with backslash escapes, as ClickHouse prints Enum names and time zones. */
  quoted(): string {
    this.expect("'");
    let out = '';
    for (;;) {
      const ch = this.text[this.pos++];
      if (ch === undefined) throw new TypeSyntaxError('unterminated quoted string');
      if (ch === "'") return out;
      if (ch === '\\') {
        const next = this.text[this.pos++];
        if (next === undefined) throw new TypeSyntaxError('unterminated escape');
        out += ESCAPES[next] ?? next;
      } else out += ch;
    }
  }
  /** Skips a balanced argument list (for unsupported types such as Array(Tuple(...))). */
  skipArgs(): void {
    if (!this.eat('(')) return;
    let depth = 1;
    while (depth > 0) {
      const ch = this.text[this.pos++];
      if (ch === undefined) throw new TypeSyntaxError('unbalanced parentheses');
      if (ch === "'") {
        this.pos--;
        this.quoted();
      } else if (ch === '(') depth++;
      else if (ch === ')') depth--;
    }
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', f: '\f' };

interface Flags {
  nullable: boolean;
  lowCardinality: boolean;
  raw: string;
}

function parseType(c: Cursor, flags: Flags): ClickHouseType {
  const name = c.ident();
  const base = { nullable: flags.nullable, lowCardinality: flags.lowCardinality, raw: flags.raw };
  const unsupported = (reason: string): ClickHouseType => ({ ...base, kind: 'unsupported', reason });

  switch (name) {
    case 'Nullable': {
      c.expect('(');
      const inner = parseType(c, { ...flags, nullable: true });
      c.expect(')');
      return inner;
    }
    case 'LowCardinality': {
      // A dictionary encoding: the JSONEachRow text is the inner type's.
      c.expect('(');
      const inner = parseType(c, { ...flags, lowCardinality: true });
      c.expect(')');
      return inner;
    }
    case 'String':
      return { ...base, kind: 'string' };
    case 'FixedString': {
      c.expect('(');
      const n = c.int();
      c.expect(')');
      return { ...base, kind: 'string', fixedLength: n };
    }
    case 'UUID':
      return { ...base, kind: 'uuid' };
    case 'Float32':
      return { ...base, kind: 'float', bits: 32 };
    case 'Float64':
      return { ...base, kind: 'float', bits: 64 };
    case 'Bool':
    case 'Boolean':
      return { ...base, kind: 'bool' };
    case 'Date':
      return { ...base, kind: 'date', extended: false };
    case 'Date32':
      return { ...base, kind: 'date', extended: true };
    case 'DateTime': {
      if (!c.eat('(')) return { ...base, kind: 'datetime' };
      const timezone = c.quoted();
      c.expect(')');
      return { ...base, kind: 'datetime', timezone };
    }
    case 'DateTime64': {
      c.expect('(');
      const precision = c.int();
      let timezone: string | undefined;
      if (c.eat(',')) timezone = c.quoted();
      c.expect(')');
      if (precision < 0 || precision > 9) return unsupported(`DateTime64 precision ${precision} is outside 0..9`);
      return timezone === undefined ? { ...base, kind: 'datetime64', precision } : { ...base, kind: 'datetime64', precision, timezone };
    }
    case 'Decimal': {
      c.expect('(');
      const precision = c.int();
      const scale = c.eat(',') ? c.int() : 0;
      c.expect(')');
      if (precision < 1 || precision > 76 || scale < 0 || scale > precision) return unsupported(`Decimal(${precision}, ${scale}) is not a valid decimal type`);
      return { ...base, kind: 'decimal', precision, scale };
    }
    case 'Decimal32':
    case 'Decimal64':
    case 'Decimal128':
    case 'Decimal256': {
      c.expect('(');
      const scale = c.int();
      c.expect(')');
      const precision = DECIMAL_PRECISION[name] as number;
      if (scale < 0 || scale > precision) return unsupported(`${name}(${scale}) has a scale outside 0..${precision}`);
      return { ...base, kind: 'decimal', precision, scale };
    }
    case 'Enum8':
    case 'Enum16': {
      const values: Array<[string, number]> = [];
      c.expect('(');
      if (!c.eat(')')) {
        do {
          const label = c.quoted();
          c.expect('=');
          values.push([label, c.int()]);
        } while (c.eat(','));
        c.expect(')');
      }
      return { ...base, kind: 'enum', bits: name === 'Enum8' ? 8 : 16, values };
    }
    default: {
      const m = /^(U?)Int(8|16|32|64|128|256)$/.exec(name);
      if (m) return { ...base, kind: m[1] === 'U' ? 'uint' : 'int', bits: INT_BITS[m[2] as string] as 8 };
      c.skipArgs();
      return unsupported(`${name} columns are not supported by the CDC consumer (supported: String, FixedString, UUID, (U)Int*, Float*, Decimal*, Date, Date32, DateTime, DateTime64, Bool, Enum8/16, Nullable and LowCardinality of these)`);
    }
  }
}

/**
 * Parses a `system.columns.type` string. Never throws: a type it cannot
 * handle (Array, Map, Tuple, IPv4, a malformed string, ...) is `kind: 'unsupported'`
 * with a reason for the startup check's message.
 */
export function parseClickHouseType(type: string): ClickHouseType {
  const raw = type.trim();
  const c = new Cursor(raw);
  try {
    const parsed = parseType(c, { nullable: false, lowCardinality: false, raw });
    if (c.peek() !== undefined) throw new TypeSyntaxError(`unexpected text at offset ${c.pos}`);
    return parsed;
  } catch (err) {
    if (!(err instanceof TypeSyntaxError)) throw err;
    return { nullable: false, lowCardinality: false, raw, kind: 'unsupported', reason: `cannot parse ClickHouse type ${JSON.stringify(raw)}: ${err.message}` };
  }
}
