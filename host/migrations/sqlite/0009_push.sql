-- Push notifications (spec §"Push Notifications").
--
-- What the push rules decided for each local user and event that notifies or highlights:
-- the /sync unread counts, GET /notifications and push gateway delivery read it. The
-- event's position is copied here so counts need no join with events.
CREATE TABLE event_push_actions (
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    -- 'main', or the thread root of an m.thread event (a thread's receipts reset only it)
    thread_id TEXT NOT NULL,
    -- the matching rule's actions, a JSON array
    actions TEXT NOT NULL,
    notify INTEGER NOT NULL,
    highlight INTEGER NOT NULL,
    -- when the actions were computed, ms since the Unix epoch
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX event_push_actions_room ON event_push_actions (user_id, room_id, stream_ordering);
CREATE INDEX event_push_actions_user ON event_push_actions (user_id, stream_ordering);

-- Pushers (POST /pushers/set), one per user, app ID and pushkey. last_stream_ordering is
-- how far push gateway delivery has got for it.
CREATE TABLE pushers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    device_id TEXT,
    kind TEXT NOT NULL,
    app_id TEXT NOT NULL,
    app_display_name TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    -- when the pushkey was last set, ms since the Unix epoch
    pushkey_ts INTEGER NOT NULL,
    lang TEXT NOT NULL,
    -- the pusher's data object, JSON
    data TEXT NOT NULL,
    profile_tag TEXT NOT NULL DEFAULT '',
    last_stream_ordering INTEGER NOT NULL,
    UNIQUE (app_id, pushkey, user_id)
);
CREATE INDEX pushers_user ON pushers (user_id);
