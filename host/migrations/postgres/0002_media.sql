CREATE TABLE media (
    media_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    content_type TEXT,
    upload_name TEXT,
    size BIGINT NOT NULL,
    created_ts BIGINT NOT NULL
);
CREATE INDEX media_user_time ON media (user_id, created_ts);
