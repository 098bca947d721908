use super::{callback_methods, category};
use crate::json::Event;

category! {
    /// Extra `unsigned` fields for client events
    /// (`register_add_extra_fields_to_unsigned_client_event_callbacks`). A module failure
    /// answers 500.
    UnsignedFieldsCallbacks, "add_extra_fields_to_unsigned"
}

impl UnsignedFieldsCallbacks {
    callback_methods! {
        /// Fires every time an event is serialised for a client (`/sync`, `/messages`,
        /// `/event`, …), so keep it fast. The returned object is merged into the event's
        /// `unsigned`; the server's own keys are never overwritten, and when two modules add
        /// the same key the last one in `modules:` order wins.
        fn add_field_to_unsigned(
            event: Event => "the event as stored, client-server format (`event_id`, \
                `room_id`, `sender`, `type`, `content`, `origin_server_ts` in ms, \
                `state_key` for state events), with no `unsigned`: that is what is being built",
        ) -> serde_json::Map<String, serde_json::Value>;
    }
}
