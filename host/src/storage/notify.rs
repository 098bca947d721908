//! PostgreSQL `NOTIFY`/`LISTEN`: how instances sharing one database tell each other that
//! something changed (a write to wake `/sync`s for, a typing change, a cache invalidation).
//! Notifications are not stored: an instance that was disconnected learns that it may have
//! missed some ([`Listener::next`] says so) and catches up from the tables themselves.
//! On SQLite (one instance) both ends do nothing.

use sqlx::postgres::PgListener;

use super::{Backend, Store, StoreError};

/// Largest payload PostgreSQL accepts in one notification, in bytes (its limit is 8000).
pub const MAX_PAYLOAD: usize = 7900;

/// A dedicated connection listening on some channels.
pub struct Listener(PgListener);

/// What [`Listener::next`] got.
pub enum Heard {
    /// A notification: its channel and payload.
    Notification(String, String),
    /// The connection dropped and was made again: notifications sent meanwhile are lost.
    Reconnected,
}

impl Store {
    /// Send `payload` (at most [`MAX_PAYLOAD`] bytes) on `channel` to every listening
    /// instance, this one included. Nothing happens on SQLite.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Listen on `channels` through a connection of its own (`None` on SQLite).
    pub async fn listen(&self, channels: &[&str]) -> Result<Option<Listener>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await?;
        listener.listen_all(channels.iter().copied()).await?;
        Ok(Some(Listener(listener)))
    }
}

impl Listener {
    /// The next notification, or word that the connection was lost (it reconnects and
    /// listens again on the next call). Errors: the database cannot be reached.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        Ok(match self.0.try_recv().await? {
            Some(n) => Heard::Notification(n.channel().to_string(), n.payload().to_string()),
            None => Heard::Reconnected,
        })
    }
}
