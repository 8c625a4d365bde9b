// End to end with the real pipeline, JSON converter with schemas enabled ({schema, payload}).
import t from 'tap';
import { faultScenario } from './pipeline.js';

t.setTimeout(420_000);
// Inside a subtest: tap ends a root test that goes quiet between assertions.
await t.test('100,000 changes through a ClickHouse kill and a breakwater SIGKILL', (t) => faultScenario(t, true));
