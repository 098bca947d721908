-- modhost schema, version 1. Migrations are append-only: never edit a released file,
-- add the next numbered one.

CREATE TABLE users (
    user_id TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0,
    shadow_banned INTEGER NOT NULL DEFAULT 0,
    deactivated INTEGER NOT NULL DEFAULT 0,
    created_ts INTEGER NOT NULL
);

CREATE TABLE devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- Access tokens are stored as SHA-256 hashes; the token itself is shown once, at login.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY NOT NULL,
    displayname TEXT,
    avatar_url TEXT
);

CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    creator TEXT NOT NULL,
    room_version TEXT NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 0,
    created_ts INTEGER NOT NULL
);

-- Every event, in stream order. `json` is the event in client format (without `unsigned`).
CREATE TABLE events (
    stream_ordering INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT,
    json TEXT NOT NULL,
    origin_server_ts INTEGER NOT NULL
);
CREATE INDEX events_room ON events (room_id, stream_ordering);

CREATE TABLE current_state (
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- for m.room.member rows: the membership, so "rooms of a user" is one lookup
    membership TEXT,
    PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_member ON current_state (state_key, membership) WHERE type = 'm.room.member';

CREATE TABLE room_aliases (
    alias TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL
);

-- Client transaction IDs, for idempotent sends per access token.
CREATE TABLE txn_ids (
    token_hash TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (token_hash, txn_id)
);

-- Global account data has room_id ''.
CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    stream_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
