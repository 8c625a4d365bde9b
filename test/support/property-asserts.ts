// Assertions for the inside of fast-check properties: they throw, so fast-check shrinks and
// reports the counterexample, instead of adding one tap test point per generated case (which
// would inflate the suite's pass count by thousands). Shadow `t` with it inside a property:
// `const t = inProperty;`.
import assert from 'node:assert';
import type { Test } from 'tap';

function matches(value: unknown, pattern: unknown): boolean {
  if (pattern instanceof RegExp) return pattern.test(String(value));
  if (typeof pattern === 'function') return value instanceof pattern;
  if (pattern !== null && typeof pattern === 'object') {
    if (value === null || typeof value !== 'object') return false;
    return Object.entries(pattern).every(([k, p]) => matches((value as Record<string, unknown>)[k], p));
  }
  return value === pattern;
}

const asserts = {
  ok(v: unknown, message?: string) {
    assert.ok(v, message);
    return true;
  },
  notOk(v: unknown, message?: string) {
    assert.ok(!v, message);
    return true;
  },
  equal(a: unknown, b: unknown, message?: string) {
    assert.strictEqual(a, b, message);
    return true;
  },
  not(a: unknown, b: unknown, message?: string) {
    assert.notStrictEqual(a, b, message);
    return true;
  },
  same(a: unknown, b: unknown, message?: string) {
    assert.deepEqual(a, b, message);
    return true;
  },
  match(a: unknown, pattern: unknown, message?: string) {
    assert.ok(matches(a, pattern), message ?? `${String(a)} does not match ${String(pattern)}`);
    return true;
  },
  throws(fn: () => unknown, wanted?: unknown, message?: string) {
    try {
      fn();
    } catch (err) {
      if (wanted !== undefined && typeof wanted !== 'string' && !matches(err, wanted)) throw new assert.AssertionError({ message: `${message ?? 'throws'}: got ${String(err)}` });
      return true;
    }
    throw new assert.AssertionError({ message: `${typeof wanted === 'string' ? wanted : (message ?? 'expected a throw')}: nothing was thrown` });
  },
  fail(message?: string): never {
    throw new assert.AssertionError({ message: message ?? 'failed' });
  },
  pass() {
    return true;
  },
  comment() {},
};

/** The tap methods the properties use, as throwing assertions. */
export const inProperty = asserts as unknown as Test;
