-- Full-text search: SQLite uses an FTS5 table; here a plain table with a generated
-- tsvector ('simple' configuration: no stemming, as FTS5's unicode61) and a GIN index.
-- A new database has no events, so nothing needs indexing after the fact.
CREATE TABLE event_search (
    value TEXT NOT NULL,
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    key TEXT NOT NULL,
    vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', value)) STORED
);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
CREATE INDEX event_search_event ON event_search (event_id);
