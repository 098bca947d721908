//! Third-party identifiers (3pids: email addresses, phone numbers) bound to local accounts
//! (client-server spec v1.12 §"Adding Account Administrative Contact Information"), with the
//! module callbacks Synapse fires around them: `on_add_user_third_party_identifier` and the
//! deprecated `on_threepid_bind` when one is bound, `on_remove_user_third_party_identifier`
//! when one is unbound, and `is_3pid_allowed` before a validation token is requested.
//!
//! modhost sends no email and delegates no phone validation, so no validation session ever
//! exists: binding comes only from the admin API (`PUT /_synapse/admin/v2/users/{userId}`);
//! clients can list and delete. It talks to no identity server either, so every unbind
//! answers `no-support`, as Synapse does when it knows of no identity-server binding.

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::{now_ms, ThreepidRow};

/// The media Synapse binds.
pub const MEDIA: [&str; 2] = ["email", "msisdn"];

fn unknown(message: impl Into<String>) -> MatrixError {
    MatrixError::new(StatusCode::BAD_REQUEST, "M_UNKNOWN", message)
}

/// An email address as Synapse stores and compares it (MSC2265): surrounding whitespace
/// dropped, local part case-folded, domain lower-cased. 400 `M_UNKNOWN` "Unable to parse
/// email address" unless it has exactly one `@`.
pub fn canonicalise_email(address: &str) -> MatrixResult<String> {
    match address.trim().split('@').collect::<Vec<_>>()[..] {
        [local, domain] => Ok(format!(
            "{}@{}",
            caseless::default_case_fold_str(local),
            domain.to_lowercase()
        )),
        _ => Err(unknown("Unable to parse email address")),
    }
}

/// A phone number as an msisdn (E.164 without the `+`), as Synapse's
/// `phone_number_to_msisdn`: `number` in national form for the ISO 3166-1 alpha-2 `country`,
/// or international (`+…`). 400 `M_INVALID_PARAM` "Unable to parse phone number" otherwise.
pub fn phone_number_to_msisdn(country: &str, number: &str) -> MatrixResult<String> {
    let country = country.parse::<phonenumber::country::Id>().ok();
    let parsed = phonenumber::parse(country, number)
        .map_err(|_| MatrixError::invalid_param("Unable to parse phone number"))?;
    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
    Ok(e164.trim_start_matches('+').to_string())
}

/// `address` as stored for `medium`: emails canonicalised (see [`canonicalise_email`]),
/// other media as given.
pub fn canonical_address(medium: &str, address: &str) -> MatrixResult<String> {
    if medium == "email" {
        canonicalise_email(address)
    } else {
        Ok(address.to_string())
    }
}

/// 400 `M_INVALID_PARAM` "'x' is not a valid value for 'medium'" unless `medium` is one of
/// [`MEDIA`] (Synapse's `add_threepid`).
pub fn check_medium(medium: &str) -> MatrixResult<()> {
    if MEDIA.contains(&medium) {
        Ok(())
    } else {
        Err(MatrixError::invalid_param(format!(
            "'{medium}' is not a valid value for 'medium'"
        )))
    }
}

/// The `[{medium, address}]` list of the admin API's `threepids`, checked and canonicalised
/// before anything changes. 400 `M_BAD_JSON` for a non-list or a non-object entry,
/// `M_MISSING_PARAM` "Missing params: ['address']" for an entry without a string `medium`
/// or `address`, then the errors of [`check_medium`] and [`canonicalise_email`].
pub fn parse_threepid_list(value: &Value) -> MatrixResult<Vec<(String, String)>> {
    let entries = value
        .as_array()
        .ok_or_else(|| MatrixError::bad_json("'threepids' parameter is not a list"))?;
    let mut wanted = Vec::new();
    for entry in entries {
        let entry = entry
            .as_object()
            .ok_or_else(|| MatrixError::bad_json("Each threepid must be an object"))?;
        let missing: Vec<&str> = ["medium", "address"]
            .into_iter()
            .filter(|k| !entry.get(*k).is_some_and(Value::is_string))
            .collect();
        if !missing.is_empty() {
            return Err(missing_params(&missing));
        }
        let medium = entry["medium"].as_str().unwrap_or_default();
        check_medium(medium)?;
        let address = canonical_address(medium, entry["address"].as_str().unwrap_or_default())?;
        let pair = (medium.to_string(), address);
        if !wanted.contains(&pair) {
            wanted.push(pair);
        }
    }
    Ok(wanted)
}

/// 400 `M_MISSING_PARAM` "Missing params: ['a', 'b']", Synapse's `assert_params_in_dict`.
pub fn missing_params(keys: &[&str]) -> MatrixError {
    let list: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    MatrixError::new(
        StatusCode::BAD_REQUEST,
        "M_MISSING_PARAM",
        format!("Missing params: [{}]", list.join(", ")),
    )
}

impl AppState {
    /// Bind `medium`/`address` to `user_id`, validated and added at `validated_at` (ms; one
    /// timestamp, so the two fields agree as Synapse's admin API has them), then fire
    /// `on_add_user_third_party_identifier` and `on_threepid_bind`, as Synapse's
    /// `add_threepid`. Errors: those of [`check_medium`] and [`canonicalise_email`].
    pub async fn add_threepid(
        &self,
        user_id: &str,
        medium: &str,
        address: &str,
        validated_at: i64,
    ) -> MatrixResult<()> {
        check_medium(medium)?;
        let address = canonical_address(medium, address)?;
        self.store
            .add_threepid(user_id, medium, &address, validated_at, validated_at)
            .await?;
        self.modules
            .on_add_user_third_party_identifier(user_id, medium, &address)
            .await;
        Ok(())
    }

    /// Unbind `medium`/`address` from `user_id`, fire `on_remove_user_third_party_identifier`
    /// (even when nothing was bound, as Synapse's `delete_local_threepid`), and drop the
    /// user's email pusher for that address. 400 for an email that does not parse.
    pub async fn delete_local_threepid(
        &self,
        user_id: &str,
        medium: &str,
        address: &str,
    ) -> MatrixResult<()> {
        let address = canonical_address(medium, address)?;
        self.store
            .delete_threepid(user_id, medium, &address)
            .await?;
        self.modules
            .on_remove_user_third_party_identifier(user_id, medium, &address)
            .await;
        if medium == "email" {
            self.store
                .delete_pusher(user_id, "m.email", &address)
                .await?;
        }
        Ok(())
    }

    /// Make `user_id`'s identifiers exactly `wanted` (from [`parse_threepid_list`]), as the
    /// admin API does: first every one no longer wanted is deleted, then every new one added
    /// (validated now), each with its callbacks.
    pub async fn replace_threepids(
        &self,
        user_id: &str,
        wanted: &[(String, String)],
    ) -> MatrixResult<()> {
        let current: Vec<(String, String)> = self
            .store
            .threepids_of(user_id)
            .await?
            .into_iter()
            .map(|t| (t.medium, t.address))
            .collect();
        for (medium, address) in current.iter().filter(|t| !wanted.contains(t)) {
            self.delete_local_threepid(user_id, medium, address).await?;
        }
        let now = now_ms();
        for (medium, address) in wanted.iter().filter(|t| !current.contains(t)) {
            self.add_threepid(user_id, medium, address, now).await?;
        }
        Ok(())
    }

    /// Unbind every identifier of `user_id` (deactivation), each reported to
    /// `on_remove_user_third_party_identifier`.
    pub async fn remove_all_threepids(&self, user_id: &str) -> MatrixResult<()> {
        for t in self.store.threepids_of(user_id).await? {
            self.delete_local_threepid(user_id, &t.medium, &t.address)
                .await?;
        }
        Ok(())
    }

    /// `user_id`'s identifiers, oldest first.
    pub async fn threepids_of(&self, user_id: &str) -> MatrixResult<Vec<ThreepidRow>> {
        Ok(self.store.threepids_of(user_id).await?)
    }

    /// Whether modules' `is_3pid_allowed` let `medium`/`address` be validated (`registration`:
    /// for registering a new account). A failing module answers 500, as Synapse.
    pub async fn check_3pid_allowed(
        &self,
        medium: &str,
        address: &str,
        registration: bool,
    ) -> MatrixResult<bool> {
        Ok(self
            .modules
            .is_3pid_allowed(medium, address, registration)
            .await?)
    }
}
