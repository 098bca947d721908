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
        fn on_account_data_updated(
            user_id: String => "the local user whose account data changed, \
                `@alice:example.org`",
            room_id: Option<String> => "the room for per-room account data, \
                `!abc123:example.org`; `None` for global account data",
            account_data_type: String => "the account data type, `m.direct` or \
                `com.example.settings`",
            content: Json => "the new content as stored (the client's request body or the \
                module API's `put_global` object), e.g. `{\"theme\": \"dark\"}`",
        ) -> ();
    }
}
