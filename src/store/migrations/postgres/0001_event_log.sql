-- Crest's tables in PostgreSQL: the same records as the SQLite store (src/store/migrations/sqlite),
-- in their current shape. Every integer is BIGINT (Rust i64).

-- The ordered event log: the truth. seq is global and gap-free across every node: a node writes
-- only while it holds the transaction-scoped advisory lock of this schema (docs/scaling.md).
CREATE TABLE events (
    seq        BIGINT PRIMARY KEY,
    time_ms    BIGINT NOT NULL,
    command_id TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    format     BIGINT NOT NULL DEFAULT 1,
    body       TEXT   NOT NULL
);

-- One row per accepted command: what makes a resend idempotent, on whichever node it arrives.
CREATE TABLE commands (
    command_id   TEXT   PRIMARY KEY,
    request_hash TEXT   NOT NULL,
    first_seq    BIGINT NOT NULL,
    last_seq     BIGINT NOT NULL,
    created_id   TEXT
);

-- Projection snapshots for fast start; only the newest is kept.
CREATE TABLE snapshots (
    seq        BIGINT PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    format     BIGINT NOT NULL DEFAULT 1,
    state      TEXT   NOT NULL
);

-- Bearer tokens: only a SHA-256 hash of the secret is stored.
CREATE TABLE tokens (
    id         TEXT   PRIMARY KEY,
    hash       TEXT   NOT NULL UNIQUE,
    role       TEXT   NOT NULL,
    team       TEXT,
    label      TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

-- One row rewritten while the log cannot be written: a real durable write that tells when
-- writing works again.
CREATE TABLE write_probe (
    id  BIGINT PRIMARY KEY,
    pad BYTEA  NOT NULL
);
