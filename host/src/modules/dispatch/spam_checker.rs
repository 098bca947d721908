//! Spam checker chains: FIRST-NON-NOT_SPAM; failures propagate (500), as in Synapse where
//! spam-checker exceptions are not caught, unless the module's `on_failure:` says `allow`
//! (the failure counts as not spam) or `deny` (as a denial, `M_FORBIDDEN`). An answer that does not decode is treated as a
//! denial with `M_FORBIDDEN` (Synapse rejects invalid return values as spam).

use plugin_sdk::{RegistrationBehaviour, SpamCheck, UserProfile};

use super::{bytes, flag, j, opt, opt_j, s, Call, CallbackError};
use crate::config::OnFailure;
use crate::modules::invoke::Failure;
use crate::modules::registry::Registry;

impl Registry {
    async fn spam_chain(&self, call: Call<'_, '_>) -> Result<SpamCheck, CallbackError> {
        for cb in self.chain(call.hook) {
            match self.invoke::<SpamCheck>(cb, call).await {
                Ok(SpamCheck::NotSpam) => {}
                Ok(deny) => {
                    cb.stats
                        .denials
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(deny);
                }
                Err(Failure::Invalid(_)) => {
                    tracing::warn!(module = %cb.module, callback = call.hook.info().name, "Module returned invalid value, rejecting as spam");
                    return Ok(SpamCheck::forbidden());
                }
                Err(f) => match cb.on_failure {
                    // The operator's `on_failure:` for this module.
                    OnFailure::Allow => {}
                    OnFailure::Deny => return Ok(SpamCheck::forbidden()),
                    OnFailure::Default => return Err(CallbackError::from_failure(cb, f, false)),
                },
            }
        }
        Ok(SpamCheck::NotSpam)
    }

    /// `check_event_for_spam(event)`; `event_json` is the event in client format.
    pub async fn check_event_for_spam(&self, event_json: &str) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(CheckEventForSpam {
            event: j(event_json)
        }))
        .await
    }

    /// `user_may_join_room(user_id, room_id, is_invited)`.
    pub async fn user_may_join_room(
        &self,
        user_id: &str,
        room_id: &str,
        is_invited: bool,
    ) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(UserMayJoinRoom {
            user_id: s(user_id),
            room_id: s(room_id),
            is_invited: flag(is_invited),
        }))
        .await
    }

    /// `user_may_invite(inviter, invitee, room_id)`.
    pub async fn user_may_invite(
        &self,
        inviter: &str,
        invitee: &str,
        room_id: &str,
    ) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(UserMayInvite {
            inviter: s(inviter),
            invitee: s(invitee),
            room_id: s(room_id),
        }))
        .await
    }

    /// `user_may_send_3pid_invite(inviter, medium, address, room_id)`.
    pub async fn user_may_send_3pid_invite(
        &self,
        inviter: &str,
        medium: &str,
        address: &str,
        room_id: &str,
    ) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(UserMaySend3pidInvite {
            inviter: s(inviter),
            medium: s(medium),
            address: s(address),
            room_id: s(room_id),
        }))
        .await
    }

    /// `user_may_create_room(user_id, room_config)`; `room_config_json` is the request body.
    pub async fn user_may_create_room(
        &self,
        user_id: &str,
        room_config_json: &str,
    ) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(UserMayCreateRoom {
            user_id: s(user_id),
            room_config: j(room_config_json),
        }))
        .await
    }

    /// `user_may_create_room_alias(user_id, room_alias)`.
    pub async fn user_may_create_room_alias(
        &self,
        user_id: &str,
        room_alias: &str,
    ) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(UserMayCreateRoomAlias {
            user_id: s(user_id),
            room_alias: s(room_alias),
        }))
        .await
    }

    /// `user_may_publish_room(user_id, room_id)`.
    pub async fn user_may_publish_room(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<SpamCheck, CallbackError> {
        self.spam_chain(call!(UserMayPublishRoom {
            user_id: s(user_id),
            room_id: s(room_id),
        }))
        .await
    }

    /// `user_may_send_state_event(user_id, room_id, event_type, state_key, content)`.
    /// Synapse does not accept the `(Codes, dict)` form here: a denial carrying fields is an
    /// invalid answer, which means `M_FORBIDDEN`.
    pub async fn user_may_send_state_event(
        &self,
        user_id: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content_json: &str,
    ) -> Result<SpamCheck, CallbackError> {
        let verdict = self
            .spam_chain(call!(UserMaySendStateEvent {
                user_id: s(user_id),
                room_id: s(room_id),
                event_type: s(event_type),
                state_key: s(state_key),
                content: j(content_json),
            }))
            .await?;
        Ok(match verdict {
            SpamCheck::Deny(d) if !d.fields.is_empty() => SpamCheck::forbidden(),
            other => other,
        })
    }

    /// `check_username_for_spam(profile, requester_id)`: `true` hides the user. FIRST `true`.
    pub async fn check_username_for_spam(
        &self,
        profile: &UserProfile,
        requester_id: &str,
    ) -> Result<bool, CallbackError> {
        let profile = serde_json::to_string(profile).unwrap_or_default();
        let call = call!(CheckUsernameForSpam {
            user_profile: j(&profile),
            requester_id: s(requester_id),
        });
        for cb in self.chain(call.hook) {
            let hidden = self
                .invoke::<bool>(cb, call)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false))?;
            if hidden {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `check_registration_for_spam(...)`: FIRST-NON-ALLOW.
    pub async fn check_registration_for_spam(
        &self,
        email_threepid_json: Option<&str>,
        username: Option<&str>,
        request_info: &[(String, String)],
        auth_provider_id: Option<&str>,
    ) -> Result<RegistrationBehaviour, CallbackError> {
        let info = serde_json::to_string(request_info).unwrap_or_default();
        let call = call!(CheckRegistrationForSpam {
            email_threepid: opt_j(email_threepid_json),
            username: opt(username),
            request_info: j(&info),
            auth_provider_id: opt(auth_provider_id),
        });
        for cb in self.chain(call.hook) {
            match self.invoke::<RegistrationBehaviour>(cb, call).await {
                Ok(RegistrationBehaviour::Allow) => {}
                Ok(other) => return Ok(other),
                Err(f) => return Err(CallbackError::from_failure(cb, f, false)),
            }
        }
        Ok(RegistrationBehaviour::Allow)
    }

    /// `check_media_file_for_spam(content, file_info)`. Extra denial fields are dropped.
    pub async fn check_media_file_for_spam(
        &self,
        content: &[u8],
        file_info_json: &str,
    ) -> Result<SpamCheck, CallbackError> {
        let verdict = self
            .spam_chain(call!(CheckMediaFileForSpam {
                content: bytes(content),
                file_info: j(file_info_json),
            }))
            .await?;
        Ok(match verdict {
            SpamCheck::Deny(mut d) => {
                d.fields.clear();
                SpamCheck::Deny(d)
            }
            other => other,
        })
    }

    /// `check_login_for_spam(...)`.
    pub async fn check_login_for_spam(
        &self,
        user_id: &str,
        device_id: Option<&str>,
        initial_display_name: Option<&str>,
        request_info: &[(String, String)],
        auth_provider_id: Option<&str>,
    ) -> Result<SpamCheck, CallbackError> {
        let info = serde_json::to_string(request_info).unwrap_or_default();
        self.spam_chain(call!(CheckLoginForSpam {
            user_id: s(user_id),
            device_id: opt(device_id),
            initial_display_name: opt(initial_display_name),
            request_info: j(&info),
            auth_provider_id: opt(auth_provider_id),
        }))
        .await
    }

    /// `should_drop_federated_event(event)`: FIRST `true` wins. Federation only: nothing in
    /// modhost calls it while there is no federation.
    pub async fn should_drop_federated_event(
        &self,
        event_json: &str,
    ) -> Result<bool, CallbackError> {
        let call = call!(ShouldDropFederatedEvent {
            event: j(event_json)
        });
        for cb in self.chain(call.hook) {
            let drop = self
                .invoke::<bool>(cb, call)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false))?;
            if drop {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `federated_user_may_invite(event)`, then — if every module said not spam — the
    /// `user_may_invite` chain with the event's sender, state key and room, as Synapse does.
    /// Federation only: nothing in modhost calls it while there is no federation.
    pub async fn federated_user_may_invite(
        &self,
        event_json: &str,
    ) -> Result<SpamCheck, CallbackError> {
        if let deny @ SpamCheck::Deny(_) = self
            .spam_chain(call!(FederatedUserMayInvite {
                event: j(event_json)
            }))
            .await?
        {
            return Ok(deny);
        }
        let event: serde_json::Value = serde_json::from_str(event_json).unwrap_or_default();
        let field = |k: &str| {
            event
                .get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        self.user_may_invite(&field("sender"), &field("state_key"), &field("room_id"))
            .await
    }
}
