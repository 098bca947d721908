-- A room shut down by an admin stays blocked: nobody can join, send, or read it again.
ALTER TABLE rooms ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;

-- Transaction IDs are scoped to the request path (room and event type), as in Synapse.
DROP TABLE txn_ids;
CREATE TABLE txn_ids (
    token_hash TEXT NOT NULL,
    txn_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (token_hash, txn_key)
);
