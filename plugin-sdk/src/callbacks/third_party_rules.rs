use super::{callback_methods, category};
use crate::json::{Event, Json, StateMap};
use crate::types::{EventAllowed, ProfileInfo};

category! {
    /// Third-party rules callbacks (`register_third_party_rules_callbacks`).
    ///
    /// Boolean checks (`check_*` returning `bool`): the first `false` wins; a module failure
    /// is logged and counts as allowed (fail-open), and the next module is asked.
    /// Notifications (`on_*` returning `()`): every module is called in order after the
    /// change is stored; failures are logged and the rest still run.
    ThirdPartyRulesCallbacks, "third_party_rules"
}

impl ThirdPartyRulesCallbacks {
    callback_methods! {
        /// Fires for every event created locally (messages, state, membership, module-sent
        /// events), with the room state before it. [`EventAllowed::Deny`] answers 403
        /// `M_FORBIDDEN` "This event is not allowed in this context";
        /// [`EventAllowed::Replace`] stores the given event instead. The first deny or
        /// replacement wins. A [`ModuleError::matrix`](crate::ModuleError::matrix) error
        /// reaches the client as is; any other failure answers 500 and the event is not sent.
        fn check_event_allowed(event: Event, state_events: StateMap) -> EventAllowed;
        /// Fires on `POST /createRoom` (and the module API's `create_room`), after the rate
        /// limit and before validation and spam checks. Returning `Some(content)` replaces the
        /// request body for the next module and for the server (Synapse's in-place edit).
        /// Modules run in order; a [`ModuleError::matrix`](crate::ModuleError::matrix) error
        /// reaches the client as is; any other failure answers 403 "Room creation forbidden
        /// with these parameters" and later modules are not called.
        fn on_create_room(requester: String, request_content: Json, is_requester_admin: bool) -> Option<serde_json::Value>;
        /// Fires for a third-party invite, before the identity-server lookup. `false` answers
        /// 403 "This third-party identifier can not be invited in this room".
        fn check_threepid_can_be_invited(medium: String, address: String, state_events: StateMap) -> bool;
        /// Fires at room creation with a requested `visibility` and when a room is published.
        /// `new_visibility` is `public` or `private`. `false` answers 403 ("Room visibility
        /// value not allowed." / "Not allowed to publish room").
        fn check_visibility_can_be_modified(room_id: String, state_events: StateMap, new_visibility: String) -> bool;
        /// Fires after an event is stored, with the room state after it.
        fn on_new_event(event: Event, state_events: StateMap) -> ();
        /// Fires before an admin shuts a room down (`requester` is `None` when a module asks).
        /// `false` answers 403 "Shutdown of this room is forbidden".
        fn check_can_shutdown_room(requester: Option<String>, room_id: String) -> bool;
        /// Fires before a user is deactivated (by themselves or an admin). `false` answers 403
        /// "Deactivation of this user is forbidden".
        fn check_can_deactivate_user(user_id: String, by_admin: bool) -> bool;
        /// Fires after a local user's global display name or avatar changes (once per field).
        fn on_profile_update(user_id: String, new_profile: ProfileInfo, by_admin: bool, deactivation: bool) -> ();
        /// Fires after a user is deactivated or (by an admin) reactivated.
        fn on_user_deactivation_status_changed(user_id: String, deactivated: bool, by_admin: bool) -> ();
        /// Deprecated in Synapse; fires with `on_add_user_third_party_identifier`.
        fn on_threepid_bind(user_id: String, medium: String, address: String) -> ();
        /// Fires after a third-party identifier is associated with a local user.
        fn on_add_user_third_party_identifier(user_id: String, medium: String, address: String) -> ();
        /// Fires after a third-party identifier is removed from a local user (also on
        /// deactivation).
        fn on_remove_user_third_party_identifier(user_id: String, medium: String, address: String) -> ();
    }
}
