// Real services for tests: start a server on free ports in its own temp dir,
// stop it afterwards. See DESIGN.md, "Real services for tests".
import { startClickHouse, type ClickHouseServer, type StartClickHouseOptions } from './clickhouse.js';
import {
  startKafka,
  startKafkaCluster,
  type KafkaCluster,
  type KafkaServer,
  type StartKafkaClusterOptions,
  type StartKafkaOptions,
} from './kafka.js';
import { startRedis, type RedisServer, type StartRedisOptions } from './redis.js';
import { startPostgres, type PostgresServer, type StartPostgresOptions } from './postgres.js';
import { startDebezium, type DebeziumServer, type StartDebeziumOptions } from './debezium.js';
import { startNeo4j, type Neo4jServer, type StartNeo4jOptions } from './neo4j.js';
import { startPrometheus, type PrometheusServer, type StartPrometheusOptions } from './prometheus.js';

export { freePort, freePorts, isPortFree } from './ports.js';
export { ManagedProcess, ServiceError, findBinary, makeTempDir, poll, tailFile } from './process.js';
export type { ManagedProcessOptions, ServiceControl, ServiceErrorCode } from './process.js';
export { startClickHouse, query as clickHouseQuery } from './clickhouse.js';
export type { ClickHouseServer, QueryOptions, StartClickHouseOptions } from './clickhouse.js';
export { startRedis, redisPing } from './redis.js';
export type { RedisServer, StartRedisOptions } from './redis.js';
export { startKafka, startKafkaCluster, kafkaMetadata, kafkaHome, topicPartitions, KAFKA_VERSION } from './kafka.js';
export type { KafkaCluster, KafkaClusterNode, KafkaMetadata, KafkaServer, PartitionInfo, StartKafkaClusterOptions, StartKafkaOptions } from './kafka.js';
export { findKcat, kcat } from './kcat.js';
export { startPostgres, findPostgres, SOCIAL_SCHEMA_SQL } from './postgres.js';
export type { PostgresRow, PostgresServer, StartPostgresOptions } from './postgres.js';
export { startDebezium, debeziumHome, DEBEZIUM_VERSION, CONNECT_VERSION } from './debezium.js';
export type { ConnectorStatus, DebeziumServer, StartDebeziumOptions } from './debezium.js';
export type { KcatOptions, KcatResult } from './kcat.js';
export { startNeo4j, neo4jHome, neo4jHttpQuery, NEO4J_VERSION, NEO4J_USER, NEO4J_PASSWORD } from './neo4j.js';
export type { Neo4jHttpError, Neo4jQueryOptions, Neo4jServer, StartNeo4jOptions } from './neo4j.js';
export { startPrometheus } from './prometheus.js';
export type { PrometheusServer, StartPrometheusOptions } from './prometheus.js';

/** Anything with tap's t.teardown(fn): a tap Test. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/** Starts a ClickHouse server for this test and registers t.teardown(stop). */
export async function withClickHouse(t: TeardownHost, opts?: StartClickHouseOptions): Promise<ClickHouseServer> {
  const server = await startClickHouse(opts);
  t.teardown(() => server.stop());
  return server;
}

/** Starts a Redis server for this test and registers t.teardown(stop). */
export async function withRedis(t: TeardownHost, opts?: StartRedisOptions): Promise<RedisServer> {
  const server = await startRedis(opts);
  t.teardown(() => server.stop());
  return server;
}

/** Starts a single-node KRaft Kafka broker for this test and registers t.teardown(stop). */
export async function withKafka(t: TeardownHost, opts?: StartKafkaOptions): Promise<KafkaServer> {
  const server = await startKafka(opts);
  t.teardown(() => server.stop());
  return server;
}

/** Starts a KRaft Kafka cluster (default 3 nodes) for this test and registers t.teardown(stop) of every node. */
export async function withKafkaCluster(t: TeardownHost, opts?: StartKafkaClusterOptions): Promise<KafkaCluster> {
  const cluster = await startKafkaCluster(opts);
  t.teardown(() => cluster.stop());
  return cluster;
}

/** Starts a PostgreSQL server (wal_level=logical) for this test and registers t.teardown(stop). */
export async function withPostgres(t: TeardownHost, opts?: StartPostgresOptions): Promise<PostgresServer> {
  const server = await startPostgres(opts);
  t.teardown(() => server.stop());
  return server;
}

/** Starts Kafka Connect standalone + the Debezium PostgreSQL connector for this test and registers t.teardown(stop). */
export async function withDebezium(t: TeardownHost, opts: StartDebeziumOptions): Promise<DebeziumServer> {
  const server = await startDebezium(opts);
  t.teardown(() => server.stop());
  return server;
}

/** Starts a Neo4j Community server (Bolt + HTTP, auth neo4j/NEO4J_PASSWORD) for this test and registers t.teardown(stop). */
export async function withNeo4j(t: TeardownHost, opts?: StartNeo4jOptions): Promise<Neo4jServer> {
  const server = await startNeo4j(opts);
  t.teardown(() => server.stop());
  return server;
}

/** Starts a Prometheus server scraping opts.targets for this test and registers t.teardown(stop). */
export async function withPrometheus(t: TeardownHost, opts: StartPrometheusOptions): Promise<PrometheusServer> {
  const server = await startPrometheus(opts);
  t.teardown(() => server.stop());
  return server;
}
