-- Positions of streams whose rows are deleted (delivered send-to-device messages), so the
-- position never goes backwards. Written under the stream's write lock with the rows.
CREATE TABLE stream_positions (
    stream_name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

INSERT INTO stream_positions (stream_name, position)
SELECT 'to_device', seq FROM sqlite_sequence WHERE name = 'to_device_inbox';
