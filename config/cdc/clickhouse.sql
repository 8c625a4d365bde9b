-- ClickHouse tables the CDC consumer keeps in sync with PostgreSQL (config/default.yaml, `cdc.topics`).
-- Works on ClickHouse 18.16 (Debian) and current versions. Apply once per ClickHouse:
--   clickhouse-client --multiquery < config/cdc/clickhouse.sql
--
-- ReplacingMergeTree(cdc_timestamp): for rows with the same ORDER BY key, the one with the highest
-- cdc_timestamp wins at merge time. cdc_timestamp holds the change's PostgreSQL LSN (cdc.topics.*.versionFrom:
-- lsn), which grows with every change of a row, so a replayed batch or an out-of-order retry never wins
-- over a newer change. Deletes are rows with is_deleted = 1. Read the current state with:
--   SELECT ... FROM posts_cdc FINAL WHERE is_deleted = 0
-- PostgreSQL `timestamp without time zone` arrives as microseconds since the epoch (Debezium
-- MicroTimestamp); DateTime('UTC') keeps the wall-clock time as PostgreSQL shows it, to the second.
-- On ClickHouse 20.1+ use DateTime64(6, 'UTC') to keep the microseconds too.

CREATE TABLE IF NOT EXISTS posts_cdc (
  id UUID,
  user_id UUID,
  caption Nullable(String),
  image_key Nullable(String),
  soft_delete UInt8,
  created_at DateTime('UTC'),
  cdc_timestamp UInt64,
  is_deleted UInt8
) ENGINE = ReplacingMergeTree(cdc_timestamp) ORDER BY id;

CREATE TABLE IF NOT EXISTS follows_cdc (
  follower_id UUID,
  following_id UUID,
  created_at DateTime('UTC'),
  cdc_timestamp UInt64,
  is_deleted UInt8
) ENGINE = ReplacingMergeTree(cdc_timestamp) ORDER BY (follower_id, following_id);

CREATE TABLE IF NOT EXISTS comments_cdc (
  id UUID,
  post_id UUID,
  user_id UUID,
  content String,
  created_at DateTime('UTC'),
  cdc_timestamp UInt64,
  is_deleted UInt8
) ENGINE = ReplacingMergeTree(cdc_timestamp) ORDER BY id;

CREATE TABLE IF NOT EXISTS likes_cdc (
  user_id UUID,
  post_id UUID,
  created_at DateTime('UTC'),
  cdc_timestamp UInt64,
  is_deleted UInt8
) ENGINE = ReplacingMergeTree(cdc_timestamp) ORDER BY (user_id, post_id);
