-- Third-party identifiers (email addresses, phone numbers) bound to local accounts, as
-- Synapse's `user_threepids`: one owner per (medium, address); emails stored canonicalised
-- (local part case-folded, domain lower-cased). Times are ms since the Unix epoch.
CREATE TABLE user_threepids (
    user_id TEXT NOT NULL,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    validated_at INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    UNIQUE (medium, address)
);

CREATE INDEX user_threepids_user ON user_threepids (user_id);
