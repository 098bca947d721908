-- Module API, version 6.

-- Each module's own key/value space (see plugin_sdk::store): `module` is the host-assigned
-- module name, never chosen by the module, so one module cannot reach another's keys.
CREATE TABLE module_kv (
    module TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (module, key)
) WITHOUT ROWID;

-- Short-lived `m.login.token` tokens made by modules (create_login_token); single use.
CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    expires_ts INTEGER NOT NULL,
    auth_provider_id TEXT
);

-- Admin status granted by a module (set_user_admin) survives restarts; `admin_users` in the
-- configuration still grants admin to the users it lists.
ALTER TABLE users ADD COLUMN admin_by_module INTEGER NOT NULL DEFAULT 0;

-- Cache invalidations (invalidate_cache), a stream every instance sharing the database tails
-- so that a module's cached function is invalidated everywhere.
CREATE TABLE cache_invalidations (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    module TEXT NOT NULL,
    function TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    ts INTEGER NOT NULL
);
