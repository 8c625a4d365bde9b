// The streaming `errors` finder: bodies as Neo4j 5.26 writes them (copied from the real server),
// fed whole and cut at every possible place, with data that mimics the marker.
import fc from 'fast-check';
import t from 'tap';
import { ErrorsScanner, errorsIn } from '../../../src/proxy/neo4j-http/errors-scan.js';

const OK = '{"results":[{"columns":["x","y"],"data":[{"row":[[1,"a"],2],"meta":[null,null,null]}]}],"errors":[],"lastBookmarks":["FB:kcwQxoxVBdSSRJCL+go+j1AOCgeQ"]}';
const SYNTAX =
  '{"results":[],"errors":[{"code":"Neo.ClientError.Statement.SyntaxError","message":"Invalid input \'RETRN\': expected \'FOREACH\' (line 1, column 1 (offset: 0))\\n\\"RETRN 1\\"\\n ^"}]}';
const MID_STREAM = '{"results":[{"columns":["a"],"data":[{"row":[1],"meta":[null]}]},{"columns":["b"],"data":[]}],"errors":[{"code":"Neo.ClientError.Statement.ArithmeticError","message":"/ by zero"}]}';
const DEADLOCK = '{"results":[],"errors":[{"code":"Neo.TransientError.Transaction.DeadlockDetected","message":"ForsetiClient[transactionId=26, clientId=1] can\'t acquire ExclusiveLock"}]}';
// A returned map with an `errors` key, and a string holding the marker's text (escaped, as JSON does).
const TRICKY = '{"results":[{"columns":["m","s"],"data":[{"row":[{"errors":[{"code":"Neo.TransientError.X"}]},"\\"errors\\":[{\\"code\\":\\"Neo.TransientError.Y\\"}]"],"meta":[null,null]}]}],"errors":[],"lastBookmarks":["FB:x"]}';
const JOLT = '{"header":{"fields":["a"]}}\n{"data":[1]}\n{"summary":{}}\n{"error":{"errors":[{"code":"Neo.ClientError.Statement.SyntaxError","message":"Invalid input"}]}}\n{"info":{}}\n';
const DISCOVERY = '{"bolt_routing":"neo4j://127.0.0.1:30211","neo4j_version":"5.26.30","neo4j_edition":"community"}';

const CASES: [string, string, readonly string[] | undefined][] = [
  ['no errors', OK, []],
  ['syntax error', SYNTAX, ['Neo.ClientError.Statement.SyntaxError']],
  ['error after rows', MID_STREAM, ['Neo.ClientError.Statement.ArithmeticError']],
  ['deadlock', DEADLOCK, ['Neo.TransientError.Transaction.DeadlockDetected']],
  ['marker look-alikes in data', TRICKY, []],
  ['jolt', JOLT, ['Neo.ClientError.Statement.SyntaxError']],
  ['no errors key', DISCOVERY, undefined],
];

function scanInPieces(text: string, cuts: number[]): readonly string[] | undefined {
  const bytes = Buffer.from(text);
  const s = new ErrorsScanner();
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    // Each piece inside a larger buffer, as the relay hands them (buf, start, end).
    const padded = Buffer.concat([Buffer.from('XX"errors":[{"code":"junk"}]'), bytes.subarray(from, cut), Buffer.from('"errors":[{"code":"junk"}]YY')]);
    s.add(padded, 28, 28 + (cut - from));
    from = cut;
  }
  s.add(bytes, from, bytes.length);
  return s.result();
}

t.test('whole bodies', async (t) => {
  for (const [name, body, want] of CASES) t.same(errorsIn(Buffer.from(body)), want, name);
});

t.test('every single cut point', async (t) => {
  for (const [name, body, want] of CASES) {
    for (let i = 0; i <= Buffer.byteLength(body); i++) {
      const got = scanInPieces(body, [i]);
      if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`${name} cut at ${i}: ${JSON.stringify(got)}`);
    }
    t.pass(name);
  }
});

t.test('any cuts, including 1-byte pieces', async (t) => {
  for (const [name, body, want] of CASES) {
    const n = Buffer.byteLength(body);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: n }), { maxLength: 40 }), (cuts) => JSON.stringify(scanInPieces(body, cuts)) === JSON.stringify(want)),
      { numRuns: 200 },
    );
    t.pass(name);
  }
  const bytes = Buffer.from(DEADLOCK);
  const s = new ErrorsScanner();
  for (let i = 0; i < bytes.length; i++) s.add(bytes, i, i + 1);
  t.same(s.result(), ['Neo.TransientError.Transaction.DeadlockDetected'], 'byte by byte');
});

t.test('a long body: only what follows the last marker is kept', async (t) => {
  const rows = Array.from({ length: 5000 }, (_, i) => `{"row":[{"errors":[${i}]}],"meta":[null]}`).join(',');
  const body = Buffer.from(`{"results":[{"columns":["m"],"data":[${rows}]}],"errors":[{"code":"Neo.TransientError.General.DatabaseUnavailable","message":"${'x'.repeat(5000)}"}]}`);
  const s = new ErrorsScanner();
  for (let i = 0; i < body.length; i += 1000) s.add(body, i, Math.min(body.length, i + 1000));
  t.same(s.result(), ['Neo.TransientError.General.DatabaseUnavailable']);
});
