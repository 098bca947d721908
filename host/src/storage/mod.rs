//! Persistent storage through sqlx's `Any` driver: SQLite (one file, the default) or
//! PostgreSQL (which several instances may share).
//!
//! Handlers and services only see [`Store`]'s methods, which speak in Matrix terms (users,
//! tokens, events, state); the SQL lives in this module's files. Queries are written once, in
//! SQL both databases accept (`$1` placeholders, `ON CONFLICT`, no booleans: flags are 0/1
//! integers); the few that must differ match on [`Store::backend`]. Each backend has its own
//! migrations folder with the same history. SQLite writes use WAL with `synchronous=FULL`
//! and PostgreSQL commits are durable by default: once a request is answered, its write
//! survives `kill -9`.

mod account_data;
mod background;
pub mod copy;
mod device_lists;
mod e2e_keys;
mod e2ee;
mod events;
mod filters;
mod health;
mod leader;
mod locks;
mod media;
mod module_api;
mod notify;
mod presence;
mod push;
mod receipts;
mod relations;
mod room_keys;
mod rooms;
mod search;
mod shutdown;
mod streams;
mod threepids;
mod thumbnails;
mod timeline;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::config::Database;

pub use device_lists::ToDeviceRow;
pub use e2e_keys::UploadedKey;
pub use e2ee::{ClaimedKey, DeviceKeysRow, SignatureRow};
pub use events::{ClientTxn, StoredEvent};
pub use leader::LeaderSession;
pub(crate) use locks::WriteLock;
pub use media::MediaRow;
pub use module_api::{kv, Invalidation, ModuleTxn, MAX_SCAN};
pub use notify::{Heard, Listener, MAX_PAYLOAD};
pub use push::{PushActionRow, PusherRow};
pub use receipts::Receipt;
pub use relations::{RelationCount, RelationsPage};
pub use room_keys::{BackupKey, BackupVersion, KeyUpload};
pub use rooms::{EventReport, EventReportRow};
pub use search::{SearchHit, SearchOrder};
pub use streams::{MembershipRow, StreamPositions};
pub use threepids::ThreepidRow;
pub use thumbnails::{ThumbnailKey, ThumbnailRow};
pub use users::{ProfileField, TokenInfo, UserRow};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file; one server process.
    Sqlite,
    /// A PostgreSQL database; any number of server processes.
    Postgres,
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL's URL, for the connections that cannot come from the pool (`LISTEN`,
    /// background leadership).
    listen_url: Option<std::sync::Arc<str>>,
}

/// How long a write waits for another to finish before failing (ms).
pub const BUSY_TIMEOUT_MS: u64 = 10_000;

/// A storage failure (always a 500 for clients).
pub type StoreError = sqlx::Error;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long opening a PostgreSQL connection may take before start-up fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Open the configured database (creating an SQLite file if needed) and bring its
    /// schema up to date. Errors name the file, or the URL with its password masked.
    pub async fn open(database: &Database) -> Result<Store, String> {
        let store = Self::connect(database).await?;
        let migrator = match store.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&store.pool)
            .await
            .map_err(|e| format!("cannot migrate database {}: {e}", database.describe()))?;
        Ok(store)
    }

    /// Connect without touching the schema (what `modhost check-config` verifies).
    pub async fn connect(database: &Database) -> Result<Store, String> {
        install_drivers();
        let fail = |e: &dyn std::fmt::Display| {
            format!("cannot open database {}: {e}", database.describe())
        };
        let mut listen_url = None;
        let (options, pool, backend) = match database {
            Database::Sqlite { path } => {
                let (options, pool) = sqlite_options(path).map_err(|e| fail(&e))?;
                (options, pool, Backend::Sqlite)
            }
            Database::Postgres {
                url,
                max_connections,
            } => {
                let options = reach_postgres(database, url).await?;
                listen_url = Some(url.as_str().into());
                let pool = AnyPoolOptions::new()
                    .max_connections(*max_connections)
                    .acquire_timeout(CONNECT_TIMEOUT);
                (options, pool, Backend::Postgres)
            }
        };
        let pool = pool.connect_with(options).await.map_err(|e| fail(&e))?;
        Ok(Store {
            pool,
            backend,
            listen_url,
        })
    }

    /// The database engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Make sqlx's `Any` driver know both backends (once per process).
fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

/// Parse the PostgreSQL `url` of `database` and open one connection with it, then close it:
/// that connection's error says why the server cannot be reached (`Connection refused`, an
/// unknown host, a wrong password) at once, where a pool would wait its whole acquire
/// timeout and then only say it timed out. Errors: `cannot open database URL: why`, the
/// URL's password masked (an unparsable URL's error suggests percent-encoding the
/// password); a server that does not answer within [`CONNECT_TIMEOUT`].
pub(crate) async fn reach_postgres(
    database: &Database,
    url: &str,
) -> Result<AnyConnectOptions, String> {
    install_drivers();
    let fail =
        |e: &dyn std::fmt::Display| format!("cannot open database {}: {e}", database.describe());
    // A password with an unencoded `/`, `?`, `#` or `@` is the likely cause of an unparsable URL.
    let options = AnyConnectOptions::from_str(url).map_err(|e| {
        fail(&format_args!(
            "{e} (percent-encode any /, ?, #, @ or % in the password: / is %2F)"
        ))
    })?;
    let connect = AnyConnection::connect_with(&options);
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(conn)) => conn.close().await.map_err(|e| fail(&e))?,
        Ok(Err(e)) => return Err(fail(&e)),
        Err(_) => {
            return Err(fail(&format_args!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        }
    }
    Ok(options)
}

/// Connection options for the SQLite file at `path` (created if missing): WAL, full
/// fsync, foreign keys, a busy timeout; connections left inside a transaction by a failed
/// write are closed rather than reused.
fn sqlite_options(path: &Path) -> Result<(AnyConnectOptions, AnyPoolOptions), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
    // A file URL percent-encodes what a path may hold (spaces, `?`, `#`); sqlx decodes it.
    let file = url::Url::from_file_path(&absolute)
        .map_err(|()| format!("{} is not a usable file path", path.display()))?;
    let url = format!("sqlite://{}?mode=rwc", file.path());
    let options = AnyConnectOptions::from_str(&url).map_err(|e| e.to_string())?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
                );
                conn.execute(&*pragmas).await.map(drop)
            })
        })
        .after_release(|conn, _| Box::pin(health::release_if_clean(conn)));
    Ok((options, pool))
}

/// Column `index` of `row` as a flag: a 0/1 integer column (flags are integers on both
/// backends), or a comparison's result (an integer on SQLite, a boolean on PostgreSQL; the
/// `Any` driver decodes each only as its own type).
pub(crate) fn flag<I>(row: &sqlx::any::AnyRow, index: I) -> bool
where
    I: sqlx::ColumnIndex<sqlx::any::AnyRow> + std::fmt::Debug + Copy,
{
    use sqlx::Row;
    match row.try_get::<i64, _>(index) {
        Ok(v) => v != 0,
        Err(_) => row.get::<bool, _>(index),
    }
}

/// `$first, $first+1, …`: `count` numbered placeholders for an `IN (…)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
