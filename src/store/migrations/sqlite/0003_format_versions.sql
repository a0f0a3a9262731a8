-- Every stored event and snapshot names the version of the format its body is written in
-- (src/codec.rs). Rows written before this column existed are format 1.
ALTER TABLE events ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE snapshots ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
