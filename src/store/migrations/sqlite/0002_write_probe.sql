-- One row rewritten by the engine while the log cannot be written (disk full, I/O error,
-- locked database): a real durable write, larger than the batch that failed, that tells when
-- writing works again.
CREATE TABLE write_probe (
    id  INTEGER PRIMARY KEY NOT NULL,
    pad BLOB    NOT NULL
);
