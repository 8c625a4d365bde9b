// Which Neo4j FAILURE codes count against the breaker, and reading the code out of a FAILURE in
// either generation's shape (5.7+ `neo4j_code`, older `code`).
import t from 'tap';
import { classifyCode, failureInfo } from '../../../src/proxy/bolt/classify.js';
import { payloadOf } from '../../../src/proxy/bolt/framing.js';
import { failure } from '../../../src/proxy/bolt/replies.js';

t.test('codes', async (t) => {
  for (const code of [
    'Neo.TransientError.General.DatabaseUnavailable',
    'Neo.TransientError.General.MemoryPoolOutOfMemoryError',
    'Neo.TransientError.Transaction.DeadlockDetected',
    'Neo.TransientError.Cluster.ReplicationFailure',
    'Neo.ClientError.Database.DatabaseUnavailable',
    'Neo.DatabaseError.General.UnknownError',
  ]) {
    t.equal(classifyCode(code), 'failure', code);
  }
  for (const code of [
    'Neo.ClientError.Statement.SyntaxError',
    'Neo.ClientError.Schema.ConstraintValidationFailed',
    'Neo.ClientError.Security.Unauthorized',
    'Neo.ClientError.Cluster.NotALeader',
    'Neo.TransientError.Transaction.Terminated',
    'Neo.TransientError.Transaction.LockClientStopped',
    'something else',
  ]) {
    t.equal(classifyCode(code), 'caller', code);
  }
});

t.test('the code of a FAILURE in both shapes, and of one that cannot be read', async (t) => {
  const newer = failure({ major: 5, minor: 8 }, 'Neo.TransientError.General.DatabaseUnavailable', 'down');
  t.same(failureInfo(payloadOf(newer)), { code: 'Neo.TransientError.General.DatabaseUnavailable', message: 'down' });
  const older = failure({ major: 4, minor: 4 }, 'Neo.ClientError.Statement.SyntaxError', 'bad');
  t.same(failureInfo(payloadOf(older)), { code: 'Neo.ClientError.Statement.SyntaxError', message: 'bad' });
  t.equal(failureInfo(Buffer.from([0xb1, 0x7f, 0xd0])).code, 'Neo.DatabaseError.General.UnknownError', 'unreadable metadata is a database error');
  const long = failure({ major: 5, minor: 8 }, 'X', 'm'.repeat(1000));
  t.ok(failureInfo(payloadOf(long)).message.length < 400, 'messages are cut for logs');
});
