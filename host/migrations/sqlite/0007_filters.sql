-- Filters clients upload (POST /user/{userId}/filter), read back as sent and applied by
-- /sync when named by ID. IDs count up per user.
CREATE TABLE filters (
    user_id TEXT NOT NULL,
    filter_id INTEGER NOT NULL,
    filter TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
