-- Cross-signing keys (spec §"Cross-signing"): each user's latest master, self_signing and
-- user_signing key, as uploaded (JSON text).
CREATE TABLE e2e_cross_signing_keys (
    user_id TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key_json TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded through POST /keys/signatures/upload, kept apart from the signed keys
-- so that a device re-uploading its keys does not lose them; merged in at /keys/query.
-- target_key_id is a device ID or a cross-signing public key.
CREATE TABLE e2e_signatures (
    target_user_id TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    signer_user_id TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- Device list changes, numbered for /sync `device_lists` and /keys/changes. A row with
-- notify_only set is seen only by that user (user-signing key and signature changes).
CREATE TABLE e2e_device_list_stream (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    notify_only TEXT
);
CREATE INDEX e2e_device_list_stream_user ON e2e_device_list_stream (user_id, stream_id);

-- Send-to-device messages waiting for their device (spec §"Send-to-Device messaging"), until
-- a /sync `since` past their stream_id proves the device got them.
CREATE TABLE to_device_inbox (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    message_json TEXT NOT NULL
);
CREATE INDEX to_device_inbox_device ON to_device_inbox (user_id, device_id, stream_id);
