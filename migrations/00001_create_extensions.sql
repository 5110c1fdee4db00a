-- 00001 — extensions the schema relies on.
-- pgcrypto: digest() for request fingerprints; citext: case-insensitive emails and slugs;
-- btree_gist: exclusion constraints that mix uuid equality with time-range overlap.
-- All three are "trusted" extensions on PostgreSQL 13+, so a database owner may create them.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP EXTENSION IF EXISTS btree_gist;
DROP EXTENSION IF EXISTS citext;
DROP EXTENSION IF EXISTS pgcrypto;
