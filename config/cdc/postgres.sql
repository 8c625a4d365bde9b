-- The PostgreSQL tables config/cdc/clickhouse.sql mirrors (the original service's schema):
-- ids are UUIDs, timestamps have no time zone. Debezium needs wal_level = logical.
CREATE TABLE IF NOT EXISTS posts (id uuid PRIMARY KEY, user_id uuid NOT NULL, caption text, image_key text, soft_delete boolean NOT NULL DEFAULT false, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS follows (follower_id uuid NOT NULL, following_id uuid NOT NULL, created_at timestamp NOT NULL DEFAULT now(), PRIMARY KEY (follower_id, following_id));
CREATE TABLE IF NOT EXISTS comments (id uuid PRIMARY KEY, post_id uuid NOT NULL, user_id uuid NOT NULL, content text NOT NULL, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS likes (user_id uuid NOT NULL, post_id uuid NOT NULL, created_at timestamp NOT NULL DEFAULT now(), PRIMARY KEY (user_id, post_id));
