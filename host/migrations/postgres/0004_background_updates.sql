CREATE TABLE background_updates (
    update_name TEXT PRIMARY KEY NOT NULL,
    progress TEXT NOT NULL DEFAULT '',
    done BIGINT NOT NULL DEFAULT 0
);

INSERT INTO background_updates (update_name) VALUES ('current_state_membership');
