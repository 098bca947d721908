ALTER TABLE rooms ADD COLUMN blocked BIGINT NOT NULL DEFAULT 0;

DROP TABLE txn_ids;
CREATE TABLE txn_ids (
    token_hash TEXT NOT NULL,
    txn_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (token_hash, txn_key)
);
