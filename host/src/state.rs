//! The server's shared state: configuration, database, module chains and the in-memory
//! parts (sync wake-ups, rate limits, module API state) every service works with. It sits
//! below the HTTP layer: services take it, handlers hold it as axum state.

use std::sync::Arc;

use crate::config::Config;
use crate::modules::Registry;
use crate::storage::Store;

/// Everything a service needs.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The shared parts of [`AppState`].
pub struct Inner {
    /// The server configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The module chains.
    pub modules: Arc<Registry>,
    /// Waiting `/sync` long-polls, woken by the writes that concern them.
    pub notifier: crate::service::notifier::Notifier,
    /// How far each device's to-device messages have been deleted as delivered.
    pub to_device_acks: crate::service::to_device::Acks,
    /// Who is typing where.
    pub typing: crate::service::typing::Typing,
    /// Signals to and from other instances sharing the database.
    pub signals: crate::service::instances::Signals,
    /// Whether this instance runs the background work that runs on one instance only.
    pub leadership: crate::service::leader::Leadership,
    /// Push gateway delivery workers.
    pub push_queue: crate::service::push_gateway::PushQueue,
    /// Rate-limit buckets.
    pub limiters: crate::service::ratelimit::Limiters,
    /// The bounded password-hashing workers.
    pub hash_pool: crate::service::hash_pool::HashPool,
    /// Membership events lazy-loading `/sync`s sent to each device.
    pub lazy_members: crate::service::sync_filter::LazyMembers,
    /// Per-key locks serialising retries of one client transaction.
    pub txn_locks: crate::service::txn_locks::TxnLocks,
    /// State behind the module API (open store transactions, presence pushes, instance name).
    pub module_api: crate::service::module_api::ModuleApiState,
    /// What was loaded, for the admin API.
    pub loaded: Vec<crate::modules::ModuleSummary>,
    /// The modules' background tasks, for the admin API.
    pub tasks: Arc<crate::modules::tasks::ModuleTasks>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl AppState {
    /// Bundle the server's parts: the configuration, the open database, the frozen module
    /// chains, and what was loaded with the modules' background tasks (for the admin API).
    pub fn new(
        config: Config,
        store: Store,
        modules: Arc<Registry>,
        loaded: Vec<crate::modules::ModuleSummary>,
        tasks: Arc<crate::modules::tasks::ModuleTasks>,
    ) -> Self {
        let hash_pool = crate::service::hash_pool::HashPool::new(config.password_hashing);
        AppState {
            inner: Arc::new(Inner {
                config,
                store,
                modules,
                notifier: Default::default(),
                to_device_acks: Default::default(),
                limiters: Default::default(),
                hash_pool,
                typing: Default::default(),
                signals: Default::default(),
                leadership: Default::default(),
                lazy_members: Default::default(),
                push_queue: Default::default(),
                txn_locks: Default::default(),
                module_api: crate::service::module_api::ModuleApiState {
                    instance: format!("modhost-{}", crate::service::session::random_string(12)),
                    ..Default::default()
                },
                loaded,
                tasks,
            }),
        }
    }

    /// Wake the waiting `/sync`s `wake` addresses, on this instance and (through the
    /// database) on the others; call after the write committed.
    pub fn wake(&self, wake: crate::service::notifier::Wake) {
        self.notifier.wake(&self.store, wake.clone());
        let signal = crate::service::instances::Signal::Wake { wake };
        self.signals.publish(self, signal);
    }

    /// Wake the `/sync`s of `user_id`.
    pub fn wake_user(&self, user_id: &str) {
        self.wake(crate::service::notifier::Wake::Users(vec![
            user_id.to_string()
        ]));
    }

    /// Wake the `/sync`s of the members of `room_id`.
    pub fn wake_room(&self, room_id: &str) {
        self.wake(crate::service::notifier::Wake::Room(room_id.to_string()));
    }

    /// Hold the lock for one client transaction key (only retries of it wait).
    pub async fn txn_lock(
        &self,
        token_hash: &str,
        key: &str,
    ) -> crate::service::txn_locks::TxnGuard {
        self.txn_locks.lock(token_hash, key).await
    }

    /// `@localpart:server_name`.
    pub fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.config.server_name)
    }
}
