-- Presence per user; stream_id orders updates for /sync.
CREATE TABLE presence (
    user_id TEXT PRIMARY KEY NOT NULL,
    presence TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts INTEGER NOT NULL,
    stream_id INTEGER NOT NULL
);
