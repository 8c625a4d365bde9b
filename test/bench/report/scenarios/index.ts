// Every scenario the report knows, in the order of its sections: the failure scenario first,
// then the data paths, then the rest.
import type { Scenario } from '../model.js';
import { breaker } from './breaker.js';
import { cache } from './cache.js';
import { cdcPipeline } from './cdc-pipeline.js';
import { cdc } from './cdc.js';
import { http } from './http.js';
import { kafkaRelay } from './kafka-relay.js';
import { kafka } from './kafka.js';
import { neo4j } from './neo4j.js';
import { redis } from './redis.js';
import { resilience } from './resilience.js';
import { spool } from './spool.js';

export const SCENARIOS: Scenario[] = [resilience, http, redis, kafka, neo4j, cdc, cdcPipeline, spool, cache, kafkaRelay, breaker];
