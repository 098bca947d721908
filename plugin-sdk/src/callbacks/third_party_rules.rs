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
        fn check_event_allowed(
            event: Event => "the event about to be stored, client-server format: \
                `event_id` (already assigned), `room_id`, `sender`, `type`, `content`, \
                `origin_server_ts` (ms since the Unix epoch), `state_key` for state events; no \
                `unsigned`",
            state_events: StateMap => "the room's current state before the event, sent as a \
                JSON list of full state events; empty for the room's `m.room.create` event",
        ) -> EventAllowed;
        /// Fires on `POST /createRoom` (and the module API's `create_room`), after the rate
        /// limit and before validation and spam checks. Returning `Some(content)` replaces the
        /// request body for the next module and for the server (Synapse's in-place edit).
        /// Modules run in order; a [`ModuleError::matrix`](crate::ModuleError::matrix) error
        /// reaches the client as is; any other failure answers 403 "Room creation forbidden
        /// with these parameters" and later modules are not called.
        fn on_create_room(
            requester: String => "the creating user's ID, `@alice:example.org` (Synapse \
                passes a `Requester` object; modhost passes the user ID)",
            request_content: Json => "the `/createRoom` request body, not yet validated, as \
                changed by earlier modules, e.g. `{\"preset\": \"public_chat\", \
                \"room_alias_name\": \"coffee\", \"invite\": [\"@bob:example.org\"]}`",
            is_requester_admin: bool => "`true` when the creator is a server admin",
        ) -> Option<serde_json::Value>;
        /// Fires for a third-party invite, before the identity-server lookup. `false` answers
        /// 403 "This third-party identifier can not be invited in this room".
        fn check_threepid_can_be_invited(
            medium: String => "the third-party medium as the client sent it, normally \
                `email` or `msisdn` (never empty; not otherwise checked)",
            address: String => "the address as the client sent it, e.g. `bob@example.org` \
                (never empty; not normalised)",
            state_events: StateMap => "the room's current state, sent as a JSON list of \
                full state events",
        ) -> bool;
        /// Fires at room creation with a requested `visibility` and when a room is published.
        /// `new_visibility` is `public` or `private`. `false` answers 403 ("Room visibility
        /// value not allowed." / "Not allowed to publish room").
        fn check_visibility_can_be_modified(
            room_id: String => "the room, `!abc123:example.org`; at room creation the new \
                room's ID, allocated but not yet created",
            state_events: StateMap => "the room's current state as a JSON list of full state \
                events; empty at room creation",
            new_visibility: String => "`public` or `private`: at room creation the \
                requested `visibility` (`private` when the request names none); when \
                publishing through the directory API, always `public` (unpublishing is not \
                asked)",
        ) -> bool;
        /// Fires after an event is stored, with the room state after it.
        fn on_new_event(
            event: Event => "the stored event, client-server format (`event_id`, `room_id`, \
                `sender`, `type`, `content`, `origin_server_ts` in ms, `state_key` for state \
                events); every locally created event, membership and room-creation events \
                included",
            state_events: StateMap => "the room's current state after the event, sent as a \
                JSON list of full state events",
        ) -> ();
        /// Fires before an admin shuts a room down (`requester` is `None` when a module asks).
        /// `false` answers 403 "Shutdown of this room is forbidden".
        fn check_can_shutdown_room(
            requester: Option<String> => "the server admin shutting the room down, \
                `@admin:example.org`; `None` when a module asked (the module API's \
                `delete_room`)",
            room_id: String => "the room, `!abc123:example.org`",
        ) -> bool;
        /// Fires before a user is deactivated (by themselves or an admin). `false` answers 403
        /// "Deactivation of this user is forbidden".
        fn check_can_deactivate_user(
            user_id: String => "the local user about to be deactivated, \
                `@alice:example.org`",
            by_admin: bool => "`true` when a server admin deactivates the user (admin API), \
                `false` when the user deactivates their own account",
        ) -> bool;
        /// Fires after a local user's global display name or avatar changes (once per field).
        fn on_profile_update(
            user_id: String => "the local user whose profile changed, `@alice:example.org`",
            new_profile: ProfileInfo => "the user's whole global profile after the change: \
                `display_name` and `avatar_url` (`mxc://…`), each `None` when unset; at \
                deactivation `display_name` is `Some(\"\")` and `avatar_url` `None`",
            by_admin: bool => "`true` when a server admin (admin API) or a module made the \
                change, `false` when the user did",
            deactivation: bool => "`true` when the change is the profile being cleared by a \
                deactivation",
        ) -> ();
        /// Fires after a user is deactivated or (by an admin) reactivated.
        fn on_user_deactivation_status_changed(
            user_id: String => "the local user, `@alice:example.org`",
            deactivated: bool => "`true` after deactivation, `false` after reactivation",
            by_admin: bool => "`true` when a server admin made the change (always for \
                reactivation), `false` when the user deactivated their own account",
        ) -> ();
        /// Deprecated in Synapse; fires right after `on_add_user_third_party_identifier`.
        fn on_threepid_bind(
            user_id: String => "the local user, `@alice:example.org`",
            medium: String => "the third-party medium, `email` or `msisdn`",
            address: String => "the address, `alice@example.org` or a phone number",
        ) -> ();
        /// Fires after a third-party identifier is associated with a local user (the admin
        /// API's `threepids`).
        fn on_add_user_third_party_identifier(
            user_id: String => "the local user, `@alice:example.org`",
            medium: String => "the third-party medium, `email` or `msisdn`",
            address: String => "the address, `alice@example.org` or a phone number",
        ) -> ();
        /// Fires after a third-party identifier is removed from a local user (also on
        /// deactivation, the admin API's `threepids`, `POST /account/3pid/delete`; there even
        /// when the identifier was not bound, as in Synapse).
        fn on_remove_user_third_party_identifier(
            user_id: String => "the local user, `@alice:example.org`",
            medium: String => "the third-party medium, `email` or `msisdn`",
            address: String => "the address, `alice@example.org` or a phone number",
        ) -> ();
    }
}
