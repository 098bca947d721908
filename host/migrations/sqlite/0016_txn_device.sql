-- The device and client transaction ID behind each client-sent event, so the sending device
-- sees `unsigned.transaction_id` on its own events (client-server spec v1.12 §"Transaction
-- identifiers"), as Synapse does per device. Rows stored before this have neither.
ALTER TABLE txn_ids ADD COLUMN device_id TEXT;
ALTER TABLE txn_ids ADD COLUMN txn_id TEXT;
CREATE INDEX txn_ids_event ON txn_ids (event_id);
