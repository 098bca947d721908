-- Event relations (spec §"Forming relationships between events"): one row per event carrying
-- `m.relates_to`, so /relations and the aggregations in `unsigned.m.relations` are an index
-- lookup. A redacted event loses its relation (its content is gone), so its row is deleted.
CREATE TABLE event_relations (
    event_id TEXT PRIMARY KEY NOT NULL,
    relates_to_id TEXT NOT NULL,
    rel_type TEXT NOT NULL,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    type TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (relates_to_id, rel_type, stream_ordering);

-- Redactions: which event redacted which, so a redaction of an event not yet seen (or a
-- repeat) is recorded once.
CREATE TABLE redactions (
    event_id TEXT PRIMARY KEY NOT NULL,
    redacts TEXT NOT NULL
);
CREATE INDEX redactions_redacts ON redactions (redacts);

-- Rooms a user has forgotten (spec §"Leaving rooms"): hidden from /sync's `leave` section
-- until they are a member again.
CREATE TABLE forgotten_rooms (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- Event reports (spec §"Reporting content") for the server's administrators.
CREATE TABLE event_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ts INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    reason TEXT,
    score INTEGER
);

-- OpenID tokens (spec §"OpenID"): opaque, short-lived, checked by other servers through the
-- federation endpoint `/_matrix/federation/v1/openid/userinfo`. Stored as SHA-256, like access
-- tokens.
CREATE TABLE openid_tokens (
    token TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
