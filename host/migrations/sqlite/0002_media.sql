-- Uploaded media: metadata here, bytes on disk under media_store_path/<media_id>.
CREATE TABLE media (
    media_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    content_type TEXT,
    upload_name TEXT,
    size INTEGER NOT NULL,
    created_ts INTEGER NOT NULL
);
CREATE INDEX media_user_time ON media (user_id, created_ts);
