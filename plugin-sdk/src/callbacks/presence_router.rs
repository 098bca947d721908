use std::collections::BTreeMap;

use serde_json::Value;

use super::{callback_methods, category};
use crate::types::InterestedUsers;

category! {
    /// Presence router callbacks (`register_presence_router_callbacks`). Register both or
    /// neither: registering only one is refused, as in Synapse. A module failure is logged and
    /// that module is skipped.
    PresenceRouterCallbacks, "presence_router"
}

impl PresenceRouterCallbacks {
    callback_methods! {
        /// Fires when presence updates are processed, to find extra recipients. Receives the
        /// updates (presence objects with `user_id`, `presence`, …) and returns, per extra
        /// recipient, the updates to forward. Results of all modules are merged (union per
        /// recipient).
        fn get_users_for_states(state_updates: Vec<Value>) -> BTreeMap<String, Vec<Value>>;
        /// Fires when working out whose presence a local user may see. Returns extra users or
        /// [`InterestedUsers::All`]. Results are merged; `All` from any module wins at once.
        fn get_interested_users(user_id: String) -> InterestedUsers;
    }
}
