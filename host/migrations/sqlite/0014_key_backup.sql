-- Server-side key backups (spec §"Server-side key backups", /room_keys/*). A user's backup
-- versions are numbered 1, 2, ... and never reused: a deleted version keeps its row, marked
-- deleted, so the next one gets a fresh number. `etag` counts changes to the version's keys.
-- auth_data and session_data are the client's JSON objects as text; the server never reads
-- inside them.
CREATE TABLE e2e_room_keys_versions (
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
);
CREATE TABLE e2e_room_keys (
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_message_index INTEGER NOT NULL,
    forwarded_count INTEGER NOT NULL,
    is_verified INTEGER NOT NULL,
    session_data TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);
