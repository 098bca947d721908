use super::{callback_methods, category};
use crate::json::Json;

category! {
    /// Account data callbacks (`register_account_data_callbacks`).
    AccountDataCallbacks, "account_data"
}

impl AccountDataCallbacks {
    callback_methods! {
        /// Fires after global (`room_id` is `None`) or per-room account data is stored or
        /// deleted (content `{}`), not for room tags. Every module is called; failures are
        /// logged.
        fn on_account_data_updated(user_id: String, room_id: Option<String>, account_data_type: String, content: Json) -> ();
    }
}
