//! Persistent storage on SQLite through sqlx.
//!
//! Handlers and services only see [`Store`]'s methods, which speak in Matrix terms (users,
//! tokens, events, state); the SQL lives in this module's files. Queries stick to SQL that
//! PostgreSQL accepts too, so a PostgreSQL backend means a second pool type here, not changes
//! to handlers. Writes use WAL with `synchronous=FULL`: once a request is answered, its write
//! survives `kill -9`.

mod account_data;
mod background;
mod device_lists;
mod e2e_keys;
mod e2ee;
mod events;
mod filters;
mod health;
mod media;
mod module_api;
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
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use device_lists::ToDeviceRow;
pub use e2e_keys::UploadedKey;
pub use e2ee::{ClaimedKey, DeviceKeysRow, SignatureRow};
pub use events::{ClientTxn, StoredEvent};
pub use media::MediaRow;
pub use module_api::{kv, Invalidation, ModuleTxn, MAX_SCAN};
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

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// How long a write waits for another to finish before failing (ms).
pub const BUSY_TIMEOUT_MS: u64 = 10_000;

/// A storage failure (always a 500 for clients).
pub type StoreError = sqlx::Error;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Store {
    /// Open (creating if needed) the database at `path` and bring its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| e.to_string())?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(|conn, _| Box::pin(health::release_if_clean(conn)))
            .connect_with(options)
            .await
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| format!("cannot migrate database {}: {e}", path.display()))?;
        Ok(Store { pool })
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
