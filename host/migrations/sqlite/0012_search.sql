-- Full-text search over message bodies, room names and topics (POST /search), one row per
-- searchable field of an event, as Synapse's `event_search` (keys `content.body`,
-- `content.name`, `content.topic`). Rows are written with the event (storage/search.rs);
-- events stored before this migration are indexed here.
CREATE VIRTUAL TABLE event_search USING fts5(
    value,
    event_id UNINDEXED,
    room_id UNINDEXED,
    key UNINDEXED,
    tokenize = 'unicode61'
);

INSERT INTO event_search (value, event_id, room_id, key)
SELECT json_extract(json, '$.content.body'), event_id, room_id, 'content.body'
FROM events
WHERE type = 'm.room.message' AND json_type(json, '$.content.body') = 'text';

INSERT INTO event_search (value, event_id, room_id, key)
SELECT json_extract(json, '$.content.name'), event_id, room_id, 'content.name'
FROM events
WHERE type = 'm.room.name' AND json_type(json, '$.content.name') = 'text';

INSERT INTO event_search (value, event_id, room_id, key)
SELECT json_extract(json, '$.content.topic'), event_id, room_id, 'content.topic'
FROM events
WHERE type = 'm.room.topic' AND json_type(json, '$.content.topic') = 'text';
