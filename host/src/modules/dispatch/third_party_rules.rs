//! Third-party rules chains.

use plugin_sdk::catalogue::Hook;
use plugin_sdk::{EventAllowed, ProfileInfo};
use serde_json::Value;

use super::{flag, j, json_text, opt, s, CallbackError};
use crate::modules::registry::Registry;

impl Registry {
    /// `check_event_allowed(event, state_events)`: the first deny or replacement wins. A
    /// module's Matrix error passes through; any other failure propagates (500).
    pub async fn check_event_allowed(
        &self,
        event_json: &str,
        state_json: &str,
    ) -> Result<EventAllowed, CallbackError> {
        let call = call!(CheckEventAllowed {
            event: j(event_json),
            state_events: j(state_json),
        });
        for cb in self.chain(call.hook) {
            match self.invoke::<EventAllowed>(cb, call).await {
                Ok(EventAllowed::Allow) => {}
                Ok(other) => {
                    if other == EventAllowed::Deny {
                        cb.stats
                            .denials
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    return Ok(other);
                }
                Err(f) => return Err(CallbackError::from_failure(cb, f, true)),
            }
        }
        Ok(EventAllowed::Allow)
    }

    /// `on_create_room(requester, request_content, is_requester_admin)`: every module in
    /// order, each seeing the content as changed by the previous ones. Returns the final
    /// content. A Matrix error passes through; other failures become 403 "Room creation
    /// forbidden with these parameters".
    pub async fn on_create_room(
        &self,
        requester: &str,
        content: Value,
        is_admin: bool,
    ) -> Result<Value, CallbackError> {
        let mut content = content;
        for cb in self.chain(Hook::OnCreateRoom) {
            let text = json_text(&content);
            let call = call!(OnCreateRoom {
                requester: s(requester),
                request_content: j(&text),
                is_requester_admin: flag(is_admin),
            });
            match self.invoke::<Option<Value>>(cb, call).await {
                Ok(Some(replaced)) if replaced.is_object() => content = replaced,
                Ok(Some(_)) => {
                    tracing::error!(module = %cb.module, callback = "on_create_room", "module returned request content that is not a JSON object");
                    return Err(CallbackError::matrix(
                        403,
                        "M_FORBIDDEN",
                        "Room creation forbidden with these parameters",
                    ));
                }
                Ok(None) => {}
                Err(crate::modules::Failure::Matrix(m)) => return Err(CallbackError::Matrix(m)),
                Err(_) => {
                    return Err(CallbackError::matrix(
                        403,
                        "M_FORBIDDEN",
                        "Room creation forbidden with these parameters",
                    ))
                }
            }
        }
        Ok(content)
    }

    /// `check_threepid_can_be_invited(medium, address, state)`: fail-open.
    pub async fn check_threepid_can_be_invited(
        &self,
        medium: &str,
        address: &str,
        state_json: &str,
    ) -> bool {
        self.first_false(
            call!(CheckThreepidCanBeInvited {
                medium: s(medium),
                address: s(address),
                state_events: j(state_json),
            }),
            true,
        )
        .await
        .unwrap_or(true)
    }

    /// `check_visibility_can_be_modified(room_id, state, new_visibility)`: fail-open.
    pub async fn check_visibility_can_be_modified(
        &self,
        room_id: &str,
        state_json: &str,
        new_visibility: &str,
    ) -> bool {
        self.first_false(
            call!(CheckVisibilityCanBeModified {
                room_id: s(room_id),
                state_events: j(state_json),
                new_visibility: s(new_visibility),
            }),
            true,
        )
        .await
        .unwrap_or(true)
    }

    /// `on_new_event(event, state)`: every module; failures logged.
    pub async fn on_new_event(&self, event_json: &str, state_json: &str) {
        self.notify(call!(OnNewEvent {
            event: j(event_json),
            state_events: j(state_json),
        }))
        .await
    }

    /// `check_can_shutdown_room(requester, room_id)`: fail-open.
    pub async fn check_can_shutdown_room(&self, requester: Option<&str>, room_id: &str) -> bool {
        self.first_false(
            call!(CheckCanShutdownRoom {
                requester: opt(requester),
                room_id: s(room_id),
            }),
            true,
        )
        .await
        .unwrap_or(true)
    }

    /// `check_can_deactivate_user(user_id, by_admin)`: fail-open.
    pub async fn check_can_deactivate_user(&self, user_id: &str, by_admin: bool) -> bool {
        self.first_false(
            call!(CheckCanDeactivateUser {
                user_id: s(user_id),
                by_admin: flag(by_admin),
            }),
            true,
        )
        .await
        .unwrap_or(true)
    }

    /// `on_profile_update(user_id, profile, by_admin, deactivation)`.
    pub async fn on_profile_update(
        &self,
        user_id: &str,
        profile: &ProfileInfo,
        by_admin: bool,
        deactivation: bool,
    ) {
        let profile = serde_json::to_string(profile).unwrap_or_default();
        self.notify(call!(OnProfileUpdate {
            user_id: s(user_id),
            new_profile: j(&profile),
            by_admin: flag(by_admin),
            deactivation: flag(deactivation),
        }))
        .await
    }

    /// `on_user_deactivation_status_changed(user_id, deactivated, by_admin)`.
    pub async fn on_user_deactivation_status_changed(
        &self,
        user_id: &str,
        deactivated: bool,
        by_admin: bool,
    ) {
        self.notify(call!(OnUserDeactivationStatusChanged {
            user_id: s(user_id),
            deactivated: flag(deactivated),
            by_admin: flag(by_admin),
        }))
        .await
    }

    /// A third-party identifier was added: `on_add_user_third_party_identifier`, then the
    /// deprecated `on_threepid_bind`, in Synapse's order (`AuthHandler.add_threepid`).
    pub async fn on_add_user_third_party_identifier(
        &self,
        user_id: &str,
        medium: &str,
        address: &str,
    ) {
        self.notify(call!(OnAddUserThirdPartyIdentifier {
            user_id: s(user_id),
            medium: s(medium),
            address: s(address),
        }))
        .await;
        self.notify(call!(OnThreepidBind {
            user_id: s(user_id),
            medium: s(medium),
            address: s(address),
        }))
        .await;
    }

    /// `on_remove_user_third_party_identifier(user_id, medium, address)`.
    pub async fn on_remove_user_third_party_identifier(
        &self,
        user_id: &str,
        medium: &str,
        address: &str,
    ) {
        self.notify(call!(OnRemoveUserThirdPartyIdentifier {
            user_id: s(user_id),
            medium: s(medium),
            address: s(address),
        }))
        .await
    }
}
