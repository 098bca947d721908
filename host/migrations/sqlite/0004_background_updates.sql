-- Background updates: long-running data migrations run in batches after start-up, paced by
-- a background-update controller module if one is loaded. `progress` is the update's cursor.
CREATE TABLE background_updates (
    update_name TEXT PRIMARY KEY NOT NULL,
    progress TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0
);

-- Re-derive current_state.membership from the member events themselves (it is a cache of the
-- event content; this keeps it honest after any earlier bug or manual edit).
INSERT INTO background_updates (update_name) VALUES ('current_state_membership');
