import t from 'tap';
import { isServerTrouble, troubleCode, verdictOf, verdictOfStatus } from '../../../src/proxy/neo4j-http/classify.js';

t.test('codes', async (t) => {
  for (const c of [
    'Neo.TransientError.Transaction.DeadlockDetected',
    'Neo.TransientError.Transaction.LockAcquisitionTimeout',
    'Neo.TransientError.General.DatabaseUnavailable',
    'Neo.TransientError.General.OutOfMemoryError',
    'Neo.DatabaseError.General.UnknownError',
    'Neo.ClientError.Database.DatabaseUnavailable',
  ])
    t.ok(isServerTrouble(c), c);
  for (const c of ['Neo.ClientError.Statement.SyntaxError', 'Neo.ClientError.Security.Unauthorized', 'Neo.ClientError.Schema.ConstraintValidationFailed', '(no code)'])
    t.notOk(isServerTrouble(c), c);
});

t.test('verdicts', async (t) => {
  t.equal(verdictOfStatus(200), 'success');
  t.equal(verdictOfStatus(201), 'success');
  t.equal(verdictOfStatus(500), 'failure');
  t.equal(verdictOfStatus(503), 'failure');
  t.equal(verdictOfStatus(429), 'failure');
  t.equal(verdictOfStatus(401), 'inspect');
  t.equal(verdictOf(200, []), 'success');
  t.equal(verdictOf(200, undefined), 'success');
  t.equal(verdictOf(200, ['Neo.ClientError.Statement.SyntaxError']), 'ignored');
  t.equal(verdictOf(200, ['Neo.TransientError.Transaction.DeadlockDetected']), 'failure');
  t.equal(verdictOf(401, ['Neo.ClientError.Security.Unauthorized']), 'ignored');
  t.equal(verdictOf(404, ['Neo.ClientError.Database.DatabaseNotFound']), 'ignored');
  t.equal(verdictOf(400, undefined), 'ignored');
  t.equal(verdictOf(400, ['Neo.TransientError.General.DatabaseUnavailable']), 'failure', 'the Query API puts errors in 4xx/5xx answers');
  t.equal(verdictOf(502, undefined), 'failure');
  t.equal(troubleCode(['Neo.ClientError.X', 'Neo.TransientError.Y']), 'Neo.TransientError.Y');
});
