-- Thumbnails made on request (spec §"Thumbnails"), one per media and requested size, method
-- and animation preference, so the same request is answered without rendering again. The
-- bytes are on disk under media_store_path/thumbnails/<media_id>/.
CREATE TABLE media_thumbnails (
    media_id TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    method TEXT NOT NULL,
    animated INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    length INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (media_id, width, height, method, animated)
);

-- End-to-end encryption keys a device published (spec §"Key management API",
-- POST /keys/upload): its identity keys, its one-time keys until claimed, and its latest
-- fallback key per algorithm. Key objects are kept as the client sent them (JSON text).
CREATE TABLE e2e_device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE e2e_one_time_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, algorithm, key_id)
);
CREATE TABLE e2e_fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm)
);
