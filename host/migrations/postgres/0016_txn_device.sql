ALTER TABLE txn_ids ADD COLUMN device_id TEXT;
ALTER TABLE txn_ids ADD COLUMN txn_id TEXT;
CREATE INDEX txn_ids_event ON txn_ids (event_id);
