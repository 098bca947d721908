CREATE TABLE presence (
    user_id TEXT PRIMARY KEY NOT NULL,
    presence TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts BIGINT NOT NULL,
    stream_id BIGINT NOT NULL
);
