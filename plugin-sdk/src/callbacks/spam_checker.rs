use super::{callback_methods, category};
use crate::json::{Event, Json};
use crate::types::{RegistrationBehaviour, SpamCheck, UserProfile};

category! {
    /// Spam checker callbacks (`register_spam_checker_callbacks`).
    ///
    /// Unless a method says otherwise: modules are asked in `modules:` order, the first
    /// [`SpamCheck::Deny`] wins and later modules are not asked (FIRST-NON-NOT_SPAM). A
    /// module failure (error or panic) fails the client's request with a 500, as an exception
    /// does in Synapse.
    SpamCheckerCallbacks, "spam_checker"
}

impl SpamCheckerCallbacks {
    callback_methods! {
        /// Fires for every non-membership event a local user creates (`/send`, `/state`,
        /// redactions, module-sent events), before it is stored. A denial answers 403 with the
        /// denial's errcode, "This message has been rejected as probable spam" (or the
        /// denial's message) and its extra fields.
        fn check_event_for_spam(event: Event) -> SpamCheck;
        /// Federation only: `true` drops an incoming federated event silently. Accepted and
        /// kept, but never called while modhost has no federation. FIRST `true` wins.
        fn should_drop_federated_event(event: Event) -> bool;
        /// Fires when a local user joins a room (not for the creator's own join at room
        /// creation, nor for server admins). `is_invited` tells whether the user has a
        /// pending invite. Denial: 403 "Not allowed to join this room".
        fn user_may_join_room(user_id: String, room_id: String, is_invited: bool) -> SpamCheck;
        /// Fires when a local user invites someone (not for server admins). Denial: 403
        /// "Invites have been disabled on this server".
        fn user_may_invite(inviter: String, invitee: String, room_id: String) -> SpamCheck;
        /// Federation only: an invite arriving over federation. Accepted and kept, but never
        /// called while modhost has no federation.
        fn federated_user_may_invite(event: Event) -> SpamCheck;
        /// Fires for a third-party (email, msisdn) invite whose address is bound to no Matrix
        /// ID. Denial: 403 "Cannot send threepid invite".
        fn user_may_send_3pid_invite(inviter: String, medium: String, address: String, room_id: String) -> SpamCheck;
        /// Fires on `POST /createRoom` by a non-admin, after third-party rules'
        /// `on_create_room`, with the request body; also for room upgrades and the module
        /// API's `create_room`. Denial: 403 "You are not permitted to create rooms".
        fn user_may_create_room(user_id: String, room_config: Json) -> SpamCheck;
        /// Fires when a user creates a room alias (directory API or `room_alias_name` at room
        /// creation). Denial: 403 "This user is not permitted to create this alias".
        fn user_may_create_room_alias(user_id: String, room_alias: String) -> SpamCheck;
        /// Fires when a user publishes or unpublishes a room in the room directory. Denial:
        /// 403 "This user is not permitted to publish rooms to the room list".
        fn user_may_publish_room(user_id: String, room_id: String) -> SpamCheck;
        /// Fires on `PUT /rooms/{roomId}/state/{eventType}/{stateKey}` by a non-admin (only that
        /// endpoint). Denial: 403 "You are not permitted to send the state event"; the
        /// denial's extra fields are dropped, as in Synapse.
        fn user_may_send_state_event(user_id: String, room_id: String, event_type: String, state_key: String, content: Json) -> SpamCheck;
        /// Fires once per user-directory search result. `true` hides that user from the
        /// results. FIRST `true` wins.
        fn check_username_for_spam(user_profile: UserProfile, requester_id: String) -> bool;
        /// Fires for every registration, after the registration rate limit. `request_info`
        /// holds `(user_agent, ip)` pairs. `Deny` answers 429 "Rate limited" (deliberately
        /// disguised); `ShadowBan` registers the user shadow-banned. FIRST-NON-ALLOW.
        fn check_registration_for_spam(email_threepid: Option<Json>, username: Option<String>, request_info: Vec<(String, String)>, auth_provider_id: Option<String>) -> RegistrationBehaviour;
        /// Fires whenever media is about to be stored (uploads included), with the file's
        /// bytes and its info (`{"media_type", "size", "upload_name"?}`). A denial answers an
        /// upload with 400 "Bad content"; extra fields are dropped.
        fn check_media_file_for_spam(content: Vec<u8>, file_info: Json) -> SpamCheck;
        /// Fires on `POST /login` after authentication succeeded, before a device or token is
        /// created. Denial: 403 "Login was blocked by the server".
        fn check_login_for_spam(user_id: String, device_id: Option<String>, initial_display_name: Option<String>, request_info: Vec<(String, String)>, auth_provider_id: Option<String>) -> SpamCheck;
    }
}
