use std::future::Future;

use serde_json::json;

use super::deferred::{self, Deferred};
use super::{callback_methods, category};
use crate::catalogue::{Wire, WireType};
use crate::codec::{to_json, Encode};
use crate::ffi::FfiValue;

category! {
    /// Background update controller callbacks
    /// (`register_background_update_controller_callbacks`). Only the first module (in
    /// `modules:` order) that registers is used; later registrations are ignored with a
    /// warning.
    BackgroundUpdateCallbacks, "background_update_controller"
}

/// What `on_update` returns: how long the next batch should take, and an optional step to
/// run when the batch is done (Synapse's async context manager, entered before and exited
/// after each iteration).
pub struct UpdateGuard {
    target_duration_ms: u64,
    on_exit: Option<Deferred>,
}

impl UpdateGuard {
    /// Aim for batches of `target_duration_ms` milliseconds (ignored for one-shot updates;
    /// `0` counts as 1 ms).
    pub fn new(target_duration_ms: u64) -> Self {
        UpdateGuard {
            target_duration_ms,
            on_exit: None,
        }
    }

    /// Run `f` after the batch.
    ///
    /// # Arguments
    ///
    /// The closure receives no arguments. It runs once, after the batch this guard was
    /// returned for has finished (Synapse's context-manager exit), before the next
    /// `min_batch_size` and `on_update` calls; if the batch fails, the update stops and `f`
    /// does not run.
    pub fn on_exit<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_exit = Some(deferred::boxed(move |_| f()));
        self
    }
}

impl WireType for UpdateGuard {
    const WIRE: Wire = Wire::JSON;
}

impl Encode for UpdateGuard {
    fn encode(self) -> FfiValue {
        let token = self.on_exit.map(deferred::store);
        to_json(&json!({ "target_duration_ms": self.target_duration_ms, "on_exit": token }))
    }
}

impl BackgroundUpdateCallbacks {
    callback_methods! {
        /// Fires before each batch of a background update; may sleep to throttle. Required
        /// when registering this category.
        fn on_update(
            update_name: String => "the background update, e.g. `current_state_membership`",
            database_name: String => "the database, always `master` in modhost",
            one_shot: bool => "`true` for an update that runs in one go (its target \
                duration is then ignored); modhost's updates are batched, so always `false`",
        ) -> UpdateGuard;
        /// Fires before the first batch: the initial batch size (default 100).
        fn default_batch_size(
            update_name: String => "the background update, e.g. `current_state_membership`",
            database_name: String => "the database, always `master` in modhost",
        ) -> u64;
        /// Fires before each batch: the minimum batch size (default 1).
        fn min_batch_size(
            update_name: String => "the background update, e.g. `current_state_membership`",
            database_name: String => "the database, always `master` in modhost",
        ) -> u64;
    }
}
