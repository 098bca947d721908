//! Addressed `/sync` wake-ups: a write wakes the long-polls of the users it concerns (a
//! room's members for its events, receipts and typing; a user's own syncs for account data
//! and to-device messages; those sharing a room for presence and device-list changes), not
//! every waiting sync on the server.
//!
//! Each waiting user has a `watch` channel; a long-poll subscribes *before* it builds its
//! response, so a write committed between "build" and "wait" still marks its receiver as
//! changed and no wake-up is lost. Writers only queue a [`Wake`]; one task resolves it to
//! users (a database read for rooms and peers) after the write committed, and skips that read
//! when nobody is waiting.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, watch};

use crate::storage::Store;

/// Whose long-polls a write concerns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wake {
    /// Everyone joined to, invited to or knocking on this room.
    Room(String),
    /// These users.
    Users(Vec<String>),
    /// This user and everyone sharing a joined room with them (presence, device lists).
    Peers(String),
    /// Every waiting sync (a presence router module may route presence anywhere).
    All,
}

type Waiters = Arc<Mutex<HashMap<String, watch::Sender<u64>>>>;

/// The long-polls waiting per user, and the queue of wake-ups to address.
#[derive(Default)]
pub struct Notifier {
    waiters: Waiters,
    /// Long-polls woken so far (for the metrics page).
    wakeups: Arc<AtomicU64>,
    queue: OnceLock<mpsc::UnboundedSender<Wake>>,
}

/// One long-poll's subscription; it unregisters the user when their last one ends.
pub struct Subscription {
    user_id: String,
    receiver: watch::Receiver<u64>,
    waiters: Waiters,
    wakeups: Arc<AtomicU64>,
}

impl Subscription {
    /// Wait until a write concerning this user happens after the subscription (or after the
    /// previous wake-up this returned for).
    pub async fn changed(&mut self) {
        // The sender lives in the map while a subscription exists, so this cannot fail; if
        // it did, waiting until the long-poll times out is the safe answer.
        if self.receiver.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiters = lock(&self.waiters);
        // This receiver still counts until the struct is gone.
        if waiters
            .get(&self.user_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            waiters.remove(&self.user_id);
        }
    }
}

fn lock(waiters: &Waiters) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
    waiters.lock().unwrap_or_else(|p| p.into_inner())
}

impl Notifier {
    /// Register a long-poll of `user_id`: writes concerning the user from now on make
    /// [`Subscription::changed`] return.
    pub fn subscribe(&self, user_id: &str) -> Subscription {
        let mut waiters = lock(&self.waiters);
        let tx = waiters
            .entry(user_id.to_string())
            .or_insert_with(|| watch::channel(0).0);
        Subscription {
            user_id: user_id.to_string(),
            receiver: tx.subscribe(),
            waiters: Arc::clone(&self.waiters),
            wakeups: Arc::clone(&self.wakeups),
        }
    }

    /// The notifier's series in the Prometheus text format: users with a long-poll waiting,
    /// and long-polls woken so far.
    pub fn render_metrics(&self) -> String {
        let users = lock(&self.waiters).len();
        let woken = self.wakeups.load(Ordering::Relaxed);
        format!(
            "# HELP modhost_sync_long_poll_users Users with a /sync long-poll waiting.\n\
             # TYPE modhost_sync_long_poll_users gauge\n\
             modhost_sync_long_poll_users {users}\n\
             # HELP modhost_sync_long_poll_wakeups_total /sync long-polls woken by a write concerning their user.\n\
             # TYPE modhost_sync_long_poll_wakeups_total counter\n\
             modhost_sync_long_poll_wakeups_total {woken}\n"
        )
    }

    /// Queue `wake` (call after the write committed). Never blocks; the addressing task
    /// starts on first use and reads memberships from `store`.
    pub fn wake(&self, store: &Store, wake: Wake) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(address(store.clone(), Arc::clone(&self.waiters), rx));
            tx
        });
        let _ = queue.send(wake);
    }
}

/// The addressing task: resolve each queued wake-up (several at once under load, duplicates
/// merged) to users and bump their channels.
async fn address(store: Store, waiters: Waiters, mut rx: mpsc::UnboundedReceiver<Wake>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let wakes: HashSet<Wake> = batch.drain(..).collect();
        if lock(&waiters).is_empty() {
            continue;
        }
        let mut users: HashSet<String> = HashSet::new();
        let mut everyone = false;
        for wake in wakes {
            match wake {
                Wake::All => everyone = true,
                Wake::Users(list) => users.extend(list),
                Wake::Room(room) => match store.users_with_membership(&room).await {
                    Ok(members) => users.extend(members),
                    Err(e) => {
                        tracing::warn!(room_id = %room, error = %e, "sync wake-up: reading members failed; waking everyone");
                        everyone = true;
                    }
                },
                Wake::Peers(user) => {
                    match store.users_sharing_room(&user).await {
                        Ok(peers) => users.extend(peers),
                        Err(e) => {
                            tracing::warn!(user_id = %user, error = %e, "sync wake-up: reading peers failed; waking everyone");
                            everyone = true;
                        }
                    }
                    users.insert(user);
                }
            }
        }
        let waiters = lock(&waiters);
        let bump = |tx: &watch::Sender<u64>| tx.send_modify(|n| *n += 1);
        if everyone {
            waiters.values().for_each(bump);
        } else {
            users.iter().filter_map(|u| waiters.get(u)).for_each(bump);
        }
    }
}
