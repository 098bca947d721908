//! Read receipts, one per room, receipt type, user and thread.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One stored receipt.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The room.
    pub room_id: String,
    /// `m.read` or `m.read.private`.
    pub receipt_type: String,
    /// Who read.
    pub user_id: String,
    /// The thread (`main`, a thread root), empty when unthreaded.
    pub thread_id: String,
    /// The event read up to.
    pub event_id: String,
    /// When, in ms since the Unix epoch.
    pub ts: i64,
}

impl Store {
    /// Store `user_id`'s receipt, replacing their earlier one of the same type and thread;
    /// returns its stream position (one statement; see `put_account_data`).
    pub async fn put_receipt(
        &self,
        room_id: &str,
        receipt_type: &str,
        user_id: &str,
        thread_id: &str,
        event_id: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::Receipts).await?;
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id) \
             VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(stream_id), 0) + 1 FROM receipts)) \
             ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET \
             event_id = excluded.event_id, ts = excluded.ts, stream_id = excluded.stream_id \
             RETURNING stream_id",
        )
        .bind(room_id)
        .bind(receipt_type)
        .bind(user_id)
        .bind(thread_id)
        .bind(event_id)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(position)
    }

    /// The event `user_id`'s receipt of `receipt_type` in `thread_id` of `room_id` points at.
    pub async fn receipt_of(
        &self,
        room_id: &str,
        receipt_type: &str,
        user_id: &str,
        thread_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT event_id FROM receipts WHERE room_id = $1 AND receipt_type = $2 \
             AND user_id = $3 AND thread_id = $4",
        )
        .bind(room_id)
        .bind(receipt_type)
        .bind(user_id)
        .bind(thread_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// The rooms with receipts after stream position `since`.
    pub async fn rooms_with_receipts_since(&self, since: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT room_id FROM receipts WHERE stream_id > $1")
            .bind(since)
            .fetch_all(&self.pool)
            .await
    }

    /// Receipts in `room_id` after stream position `since` (all of them for 0).
    pub async fn receipts_since(
        &self,
        room_id: &str,
        since: i64,
    ) -> Result<Vec<Receipt>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts \
             WHERE room_id = $1 AND stream_id > $2 ORDER BY stream_id",
        )
        .bind(room_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(receipt).collect())
    }

    /// [`Store::receipts_since`] for each of `room_ids`, in one query per 500 rooms: room →
    /// its receipts in stream order; rooms without any are absent.
    pub async fn receipts_since_in(
        &self,
        room_ids: &[&str],
        since: i64,
    ) -> Result<std::collections::HashMap<String, Vec<Receipt>>, StoreError> {
        let mut out: std::collections::HashMap<String, Vec<Receipt>> = Default::default();
        for chunk in room_ids.chunks(500) {
            let marks = super::placeholders(2, chunk.len());
            let sql = format!(
                "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts \
                 WHERE room_id IN ({marks}) AND stream_id > $1 ORDER BY stream_id"
            );
            let mut q = sqlx::query(&sql).bind(since);
            for room in chunk {
                q = q.bind(*room);
            }
            for r in q.fetch_all(&self.pool).await? {
                let r = receipt(&r);
                out.entry(r.room_id.clone()).or_default().push(r);
            }
        }
        Ok(out)
    }

    /// The latest receipt position.
    pub async fn max_receipt_stream(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(stream_id), 0) FROM receipts")
            .fetch_one(&self.pool)
            .await
    }
}

/// A [`Receipt`] from a row of `room_id, receipt_type, user_id, thread_id, event_id, ts`.
fn receipt(r: &sqlx::any::AnyRow) -> Receipt {
    Receipt {
        room_id: r.get(0),
        receipt_type: r.get(1),
        user_id: r.get(2),
        thread_id: r.get(3),
        event_id: r.get(4),
        ts: r.get(5),
    }
}
