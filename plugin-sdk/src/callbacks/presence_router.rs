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
        /// updates and returns, per extra recipient, the updates to forward. Results of all
        /// modules are merged (union per recipient).
        fn get_users_for_states(
            state_updates: Vec<Value> => "the presence changes since the syncing user's last \
                `/sync` (modhost asks while building a `/sync` response and uses only the \
                syncing user's entry of the result), each \
                `{\"user_id\": \"@bob:example.org\", \"content\": {\"presence\": \
                \"online\", \"last_active_ago\": 1200, \"currently_active\": true, \
                \"status_msg\": \"…\"}}` (`last_active_ago` in ms; `status_msg` only \
                when set). Return updates in the same shape: their `user_id` decides what is \
                forwarded",
        ) -> BTreeMap<String, Vec<Value>>;
        /// Fires when working out whose presence a local user may see. Returns extra users or
        /// [`InterestedUsers::All`]. Results are merged; `All` from any module wins at once.
        fn get_interested_users(
            user_id: String => "the local user whose `/sync` is being built, \
                `@alice:example.org` (asked only when there are presence changes to deliver)",
        ) -> InterestedUsers;
    }
}
