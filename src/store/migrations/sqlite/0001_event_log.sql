-- The ordered event log: the truth. seq is global and gap-free.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY NOT NULL,
    time_ms    INTEGER NOT NULL,
    command_id TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    body       TEXT    NOT NULL
);

-- One row per accepted command: what makes a resend idempotent.
CREATE TABLE commands (
    command_id   TEXT    PRIMARY KEY NOT NULL,
    request_hash TEXT    NOT NULL,
    first_seq    INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL,
    created_id   TEXT
);

-- Projection snapshots for fast start; only the newest is kept.
CREATE TABLE snapshots (
    seq        INTEGER PRIMARY KEY NOT NULL,
    created_ms INTEGER NOT NULL,
    state      TEXT    NOT NULL
);

-- Bearer tokens: only a SHA-256 hash of the secret is stored.
CREATE TABLE tokens (
    id         TEXT    PRIMARY KEY NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    team       TEXT,
    label      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
