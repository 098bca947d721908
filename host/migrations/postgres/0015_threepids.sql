CREATE TABLE user_threepids (
    user_id TEXT NOT NULL,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    validated_at BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    UNIQUE (medium, address)
);

CREATE INDEX user_threepids_user ON user_threepids (user_id);
