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
        fn check_event_for_spam(
            event: Event => "the event about to be stored, in the client-server format: \
                `event_id` (already assigned), `room_id`, `sender`, `type`, `content` (as \
                third-party rules' `check_event_allowed` left it), `origin_server_ts` (ms since \
                the Unix epoch) and, for state events, `state_key`; no `unsigned`",
        ) -> SpamCheck;
        /// Federation only: `true` drops an incoming federated event silently. Accepted and
        /// kept, but never called while modhost has no federation. FIRST `true` wins.
        fn should_drop_federated_event(
            event: Event => "the incoming federated event, client-server format",
        ) -> bool;
        /// Fires when a local user joins a room (not for the creator's own join at room
        /// creation, nor for server admins). `is_invited` tells whether the user has a
        /// pending invite. Denial: 403 "Not allowed to join this room".
        fn user_may_join_room(
            user_id: String => "the joining local user, `@alice:example.org`",
            room_id: String => "the room being joined, `!abc123:example.org` (an alias in the \
                request is resolved first)",
            is_invited: bool => "`true` when the user's current membership is a pending \
                invite",
        ) -> SpamCheck;
        /// Fires when a local user invites someone (not for server admins). Denial: 403
        /// "Invites have been disabled on this server".
        fn user_may_invite(
            inviter: String => "the local user sending the invite, `@alice:example.org`",
            invitee: String => "the user being invited, `@bob:example.org`, as the request \
                named it (a valid user ID, on any server)",
            room_id: String => "the room, `!abc123:example.org`",
        ) -> SpamCheck;
        /// Federation only: an invite arriving over federation. Accepted and kept, but never
        /// called while modhost has no federation.
        fn federated_user_may_invite(
            event: Event => "the `m.room.member` invite event received over federation",
        ) -> SpamCheck;
        /// Fires for a third-party (email, msisdn) invite whose address is bound to no Matrix
        /// ID. Denial: 403 "Cannot send threepid invite".
        fn user_may_send_3pid_invite(
            inviter: String => "the local user sending the invite, `@alice:example.org`",
            medium: String => "the third-party medium as the client sent it, normally \
                `email` or `msisdn` (never empty; not otherwise checked)",
            address: String => "the address as the client sent it, e.g. `bob@example.org` \
                (never empty; not normalised)",
            room_id: String => "the room, `!abc123:example.org`",
        ) -> SpamCheck;
        /// Fires on `POST /createRoom` by a non-admin, after third-party rules'
        /// `on_create_room`, with the request body; also for room upgrades and the module
        /// API's `create_room`. Denial: 403 "You are not permitted to create rooms".
        fn user_may_create_room(
            user_id: String => "the creating user, `@alice:example.org`",
            room_config: Json => "a JSON object: for `/createRoom` (and the module API's \
                `create_room`) the request body after `on_create_room` changes, e.g. \
                `{\"preset\": \"private_chat\", \"name\": \"…\"}`; for a room upgrade a \
                synthesised `{\"creation_content\": {\"room_version\": \"10\", \
                \"predecessor\": {\"room_id\": …}}, \"initial_state\": [{\"type\", \
                \"state_key\", \"content\"}, …]}`",
        ) -> SpamCheck;
        /// Fires when a user creates a room alias (directory API or `room_alias_name` at room
        /// creation). Denial: 403 "This user is not permitted to create this alias".
        fn user_may_create_room_alias(
            user_id: String => "the user creating the alias, `@alice:example.org`",
            room_alias: String => "the full local alias, `#coffee:example.org` (at room \
                creation, built from `room_alias_name` and the server name)",
        ) -> SpamCheck;
        /// Fires when a user publishes or unpublishes a room in the room directory. Denial:
        /// 403 "This user is not permitted to publish rooms to the room list".
        fn user_may_publish_room(
            user_id: String => "the user changing the room's directory visibility, \
                `@alice:example.org` (the requested visibility is not passed)",
            room_id: String => "the room, `!abc123:example.org`",
        ) -> SpamCheck;
        /// Fires on `PUT /rooms/{roomId}/state/{eventType}/{stateKey}` by a non-admin (only that
        /// endpoint). Denial: 403 "You are not permitted to send the state event"; the
        /// denial's extra fields are dropped, as in Synapse.
        fn user_may_send_state_event(
            user_id: String => "the sender, `@alice:example.org`",
            room_id: String => "the room, `!abc123:example.org`",
            event_type: String => "the state event type from the path, `m.room.topic`",
            state_key: String => "the state key from the path, `\"\"` (empty) when the path \
                has none",
            content: Json => "the request body as sent (the event content), e.g. \
                `{\"topic\": \"Coffee\"}`",
        ) -> SpamCheck;
        /// Fires once per user-directory search result. `true` hides that user from the
        /// results. FIRST `true` wins.
        fn check_username_for_spam(
            user_profile: UserProfile => "the search result: `user_id` \
                (`@bob:example.org`), `display_name` and `avatar_url` (`mxc://…`), each \
                `None` when unset",
            requester_id: String => "the user who searched, `@alice:example.org`",
        ) -> bool;
        /// Fires for every registration, after the registration rate limit. `request_info`
        /// holds `(user_agent, ip)` pairs. `Deny` answers 429 "Rate limited" (deliberately
        /// disguised); `ShadowBan` registers the user shadow-banned. FIRST-NON-ALLOW.
        fn check_registration_for_spam(
            email_threepid: Option<Json> => "the validated email 3PID \
                (`{\"medium\": \"email\", \"address\": …}`); always `None` in modhost, which \
                has no 3PID registration",
            username: Option<String> => "the localpart about to be registered, lowercased, \
                `alice` (chosen by `get_username_for_registration`, else requested by the \
                client, else generated); modhost always passes `Some`",
            request_info: Vec<(String, String)> => "`(user_agent, ip)` pairs for this \
                request: modhost passes one pair, the `User-Agent` header (`\"\"` when \
                absent) and, for now, always `127.0.0.1` as the IP",
            auth_provider_id: Option<String> => "the SSO provider; always `None` in \
                modhost, which has no SSO",
        ) -> RegistrationBehaviour;
        /// Fires whenever media is about to be stored (uploads included), with the file's
        /// bytes and its info (`{"media_type", "size", "upload_name"?}`). A denial answers an
        /// upload with 400 "Bad content"; extra fields are dropped.
        fn check_media_file_for_spam(
            content: Vec<u8> => "the whole uploaded file",
            file_info: Json => "`{\"media_type\": \"image/png\", \"size\": 1234, \
                \"upload_name\": \"cat.png\"}`: `media_type` is the upload's `Content-Type` \
                header, `size` is in bytes, `upload_name` the `filename` query parameter; \
                `media_type` and `upload_name` are `null` when not given",
        ) -> SpamCheck;
        /// Fires on `POST /login` after authentication succeeded, before a device or token is
        /// created. Denial: 403 "Login was blocked by the server".
        fn check_login_for_spam(
            user_id: String => "the authenticated user, `@alice:example.org`",
            device_id: Option<String> => "the `device_id` from the login request, `None` \
                when the client sent none (the server then generates one)",
            initial_display_name: Option<String> => "the `initial_device_display_name` from \
                the login request, `None` when absent",
            request_info: Vec<(String, String)> => "`(user_agent, ip)` pairs for this \
                request: modhost passes one pair, the `User-Agent` header (`\"\"` when \
                absent) and, for now, always `127.0.0.1` as the IP",
            auth_provider_id: Option<String> => "the SSO provider that authenticated the \
                user; always `None` in modhost, which has no SSO",
        ) -> SpamCheck;
    }
}
